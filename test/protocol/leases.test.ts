import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { capturingLogger, startTestPlugin } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { holdBindMount } from '../helpers/bind-user.js';
import { STATE_FILE_NAME } from '../../src/state/layout.js';
import { hasLiveStatus, LIVE_STATUS_MS, outlive, waitFor } from '../helpers/wait.js';

// Leases checked against the host's real users (bind mounts of a volume in
// other mount namespaces), with the real server, loop devices and mounts.

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const GRACE = 300;
const small = { size: '32M' };

async function leased(prefix: string, leaseGraceMs = GRACE) {
  const logger = capturingLogger();
  const fx = await startTestPlugin(prefix, undefined, { leaseGraceMs }, logger.log);
  const mount = async (name: string, id: string) =>
    String((await fx.call('VolumeDriver.Mount', { Name: name, ID: id })).body['Mountpoint']);
  const status = async (name: string) =>
    ((await fx.call('VolumeDriver.Get', { Name: name })).body['Volume'] as { Status: Record<string, unknown> }).Status;
  return { fx, mount, status, logs: logger.text };
}

test('a Remove that finds only stale leases (an Unmount Docker never sent) succeeds and leaves nothing', async (t) => {
  const { fx, mount, logs } = await leased('stale-remove');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'v', Opts: small });
  await mount('v', A);
  await outlive(Date.now(), GRACE);
  t.deepEqual((await fx.call('VolumeDriver.Remove', { Name: 'v' })).body, { Err: '' });
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
  t.regex(logs(), new RegExp(`"released":\\[\\{"id":"${A}","reason":"no-user"\\}\\].*released stale mount leases`));
});

test('a real user (a bind mount in another mount namespace) is never released: Remove refuses and names it', async (t) => {
  const { fx, mount, status } = await leased('real-user');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'v', Opts: small });
  const mountpoint = await mount('v', A);
  await writeFile(join(mountpoint, 'f'), 'kept');
  const mountedBy = Date.now();
  const user = await holdBindMount(mountpoint, join(fx.root, 'container-view'));
  t.teardown(() => user.stop());
  await outlive(mountedBy, GRACE);
  t.is(
    (await fx.call('VolumeDriver.Remove', { Name: 'v' })).body['Err'],
    'volume "v": is in use (1 container mount on this host); stop the containers using it first',
  );
  t.deepEqual(await fx.plugin.sweep(), [], 'the periodic check keeps it too');
  t.like(await status('v'), { mounted: true, leases: 1 });
  t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'kept');

  // The container goes away without an Unmount: the next check releases the lease and the devices.
  await user.stop();
  t.deepEqual(await fx.plugin.sweep(), ['v']);
  t.like(await status('v'), { mounted: false, leases: 0 });
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('after an Unmount, leases that no user backs go too (power loss: the old mount ID never comes back)', async (t) => {
  const { fx, mount, status } = await leased('unmount-prunes');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'v', Opts: small });
  await mount('v', A);
  await outlive(Date.now(), GRACE);
  await mount('v', B);
  t.like(await status('v'), { leases: 2 });
  t.deepEqual((await fx.call('VolumeDriver.Unmount', { Name: 'v', ID: B })).body, { Err: '' });
  t.like(await status('v'), { mounted: false, leases: 0 });
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('the last Unmount keeps the volume mounted while a container still holds it; the check releases it later', async (t) => {
  const { fx, mount, status } = await leased('lingering-user');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'v', Opts: small });
  const mountpoint = await mount('v', A);
  const user = await holdBindMount(mountpoint, join(fx.root, 'container-view'));
  t.teardown(() => user.stop());
  await fx.call('VolumeDriver.Unmount', { Name: 'v', ID: A });
  // With no lease, `mounted: true` can only come from live status (the mount itself, within Get's 2 s).
  t.like(await waitFor('live status of "v"', () => status('v'), hasLiveStatus, LIVE_STATUS_MS), { mounted: true, leases: 0 });
  await user.stop();
  t.deepEqual(await fx.plugin.sweep(), ['v']);
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('leases from an earlier boot are void at start-up; a volume a container still holds stays mounted', async (t) => {
  const { fx, mount, status } = await leased('earlier-boot');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'idle', Opts: small });
  await fx.call('VolumeDriver.Create', { Name: 'held', Opts: small });
  await mount('idle', A);
  const heldPoint = await mount('held', B);
  const user = await holdBindMount(heldPoint, join(fx.root, 'container-view'));
  t.teardown(() => user.stop());
  await fx.plugin.stop();
  const file = join(fx.config.stateDir, STATE_FILE_NAME);
  const state = JSON.parse(await readFile(file, 'utf8')) as { volumes: Record<string, { leases: Record<string, { boot: string }> }> };
  for (const volume of Object.values(state.volumes))
    for (const lease of Object.values(volume.leases)) lease.boot = 'a-boot-before-this-one';
  await writeFile(file, JSON.stringify(state));
  await fx.restart();
  const report = await fx.plugin.recovered;
  t.deepEqual(report.released, ['idle']);
  t.like(await status('idle'), { mounted: false, leases: 0 });
  t.like(await waitFor('live status of "held"', () => status('held'), hasLiveStatus, LIVE_STATUS_MS), { mounted: true, leases: 0 });
  t.is((await mountsUnder(fx.root)).filter((m) => !m.includes('container-view')).length, 1);
  // The held volume's container stops; its Unmount carries an ID the plugin no longer has.
  await user.stop();
  t.deepEqual((await fx.call('VolumeDriver.Unmount', { Name: 'held', ID: B })).body, { Err: '' });
  t.like(await status('held'), { mounted: false });
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('a young lease is kept: a Remove says when to retry, and a Mount in flight is never released', async (t) => {
  const { fx, mount } = await leased('young', 20_000);
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'v', Opts: small });
  await mount('v', A);
  t.regex(
    String((await fx.call('VolumeDriver.Remove', { Name: 'v' })).body['Err']),
    /was mounted less than 20 s ago and a container may still be starting with it; retry in 20 s/,
  );
  t.deepEqual(await fx.plugin.sweep(), []);
  t.is((await mountsUnder(fx.root)).length, 1);
});
