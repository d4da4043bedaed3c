import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { startTestPlugin } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { createSystemTools } from '../../src/system/index.js';
import { STATE_FILE_NAME } from '../../src/state/layout.js';
import { CHECK_MS, waitFor } from '../helpers/wait.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

test('a restarted plugin keeps mounts and leases; the next Unmount cleans up', async (t) => {
  const fx = await startTestPlugin('restart');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'kept', Opts: { size: '32M' } });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'kept', ID: A })).body['Mountpoint']);
  await fx.call('VolumeDriver.Mount', { Name: 'kept', ID: A });
  await writeFile(join(mountpoint, 'f'), 'data');
  await fx.restart();
  t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'data');
  t.is((await loopsUnder(fx.root)).length, 1);
  await fx.call('VolumeDriver.Unmount', { Name: 'kept', ID: A });
  t.is((await mountsUnder(fx.root)).length, 1, 'one count of A is still held');
  await fx.call('VolumeDriver.Unmount', { Name: 'kept', ID: A });
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('after a host reboot (mounts and loops gone) leased volumes are mounted again', async (t) => {
  const fx = await startTestPlugin('reboot');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'r', Opts: { size: '32M', fs: 'ext4' } });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'r', ID: A })).body['Mountpoint']);
  await writeFile(join(mountpoint, 'f'), 'before reboot');
  await fx.plugin.stop();
  const [device] = (await loopsUnder(fx.root))[0]!.split(' ');
  await execa('umount', [join(mountpoint, '..')]);
  await execa('losetup', ['-d', device!]);
  await fx.restart();
  t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'before reboot');
  const status = ((await fx.call('VolumeDriver.Get', { Name: 'r' })).body['Volume'] as Record<string, Record<string, unknown>>)['Status'];
  t.like(status, { mounted: true, leases: 1 });
  await fx.call('VolumeDriver.Unmount', { Name: 'r', ID: A });
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('a mount that no lease and no container needs is released at start', async (t) => {
  const fx = await startTestPlugin('stale-mount');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'stale', Opts: { size: '32M' } });
  await fx.call('VolumeDriver.Mount', { Name: 'stale', ID: A });
  await fx.plugin.stop();
  // As if the plugin crashed after saving the Unmount but before unmounting.
  const stateFile = join(fx.config.stateDir, STATE_FILE_NAME);
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as { volumes: Record<string, { leases: object }> };
  state.volumes['stale']!.leases = {};
  await writeFile(stateFile, JSON.stringify(state));
  await fx.restart();
  const report = await fx.plugin.recovered;
  t.deepEqual(report.failed, []);
  t.deepEqual(report.released, ['stale']);
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('a volume directory that neither state.json nor a volume.json names stops start-up; its mount and loop are not touched', async (t) => {
  const fx = await startTestPlugin('orphans');
  t.teardown(() => fx.close());
  await fx.plugin.stop();
  const orphanDir = join(fx.config.dataDir, 'orphan-0000000000000000');
  const orphanMount = join(fx.config.mountDir, 'orphan-0000000000000000');
  await mkdir(orphanDir, { recursive: true });
  await mkdir(orphanMount, { recursive: true });
  await execa('truncate', ['-s', '32M', join(orphanDir, 'disk.img')]);
  await execa('mkfs.ext4', ['-q', join(orphanDir, 'disk.img')]);
  const { stdout: loop } = await execa('losetup', ['-f', '--show', join(orphanDir, 'disk.img')]);
  await execa('mount', [loop, orphanMount]);
  const { startPlugin } = await import('../../src/plugin.js');
  const { pino } = await import('pino');
  const error = await t.throwsAsync(startPlugin(fx.config, pino({ level: 'silent' })));
  t.regex(error?.message ?? '', /cannot start: 1 volume directory in .* is listed neither in state.json nor by a valid volume.json/);
  t.true(error?.message.includes(orphanDir));
  t.regex(
    error?.message ?? '',
    /restore state.json .* from a backup, or, if a directory is not a volume of this plugin, move it out of the data directory/,
  );
  t.is((await mountsUnder(fx.root)).length, 1, 'the unknown mount is left alone');
  t.is((await loopsUnder(fx.root)).length, 1, 'the unknown loop device is left alone');
  t.false(existsSync(fx.config.socket), 'the socket opened for start-up is gone');

  // Moved out of the data directory, it is no longer ours: the plugin starts, reports the mount, leaves it.
  await execa('mv', [orphanDir, join(fx.root, 'not-a-volume')]);
  await fx.restart();
  const report = await fx.plugin.recovered;
  t.deepEqual(report.unknown, ['orphan-0000000000000000']);
  t.is((await mountsUnder(fx.root)).length, 1);
  await execa('umount', [orphanMount]);
});

test('Get, List and Path are answered from state while recovery is still running', async (t) => {
  const fx = await startTestPlugin('slow-recovery');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'slow', Opts: { size: '32M' } });
  await fx.call('VolumeDriver.Mount', { Name: 'slow', ID: B });
  await fx.plugin.stop();
  for (const target of await mountsUnder(fx.root)) await execa('umount', [target]);
  for (const entry of await loopsUnder(fx.root)) await execa('losetup', ['-d', entry.split(' ')[0]!]);

  const tools = createSystemTools(20_000);
  const slowTools = {
    ...tools,
    attachLoop: async (image: string) => {
      await sleep(1500);
      return tools.attachLoop(image);
    },
  };
  const { startPlugin } = await import('../../src/plugin.js');
  const { pino } = await import('pino');
  fx.plugin = await startPlugin(fx.config, pino({ level: 'silent' }), { tools: slowTools });
  const started = Date.now();
  const get = await fx.call('VolumeDriver.Get', { Name: 'slow' });
  const list = await fx.call('VolumeDriver.List', {});
  const elapsed = Date.now() - started;
  t.is(get.body['Err'], '');
  t.is((list.body['Volumes'] as unknown[]).length, 1);
  t.true(elapsed < 1000, `Get+List took ${elapsed} ms during recovery`);
  // A Mount waits for the volume's recovery instead of racing it.
  const mount = await fx.call('VolumeDriver.Mount', { Name: 'slow', ID: A });
  t.is(mount.body['Err'], '');
  t.is((await mountsUnder(fx.root)).length, 1);
  t.is((await loopsUnder(fx.root)).length, 1);
  await fx.plugin.recovered;
  await fx.call('VolumeDriver.Unmount', { Name: 'slow', ID: A });
  await fx.call('VolumeDriver.Unmount', { Name: 'slow', ID: B });
  t.deepEqual(await mountsUnder(fx.root), []);
});

test('the socket is open before the service: an early request waits for it; a failed start closes it', async (t) => {
  const fx = await startTestPlugin('early-socket');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'early', Opts: { size: '32M' } });
  await fx.plugin.stop();
  const { startPlugin } = await import('../../src/plugin.js');
  const { openSocket } = await import('../../src/server/listen.js');
  const { pino } = await import('pino');

  const socket = await openSocket(fx.config.socket);
  let arrived = false;
  socket.server.once('request', () => (arrived = true));
  let answered = false;
  const early = fx.call('VolumeDriver.Get', { Name: 'early' }).finally(() => (answered = true));
  await waitFor('the early request to reach the socket', () => arrived, Boolean, CHECK_MS, { every: 20 });
  t.false(answered, 'nothing is answered before the service exists');
  fx.plugin = await startPlugin(fx.config, pino({ level: 'silent' }), { socket });
  t.is((await early).body['Err'], '', 'answered from the rebuilt state, not from an empty one');
  await fx.plugin.stop();

  // A start that fails (a volume directory nothing names) drops the waiting request and the socket.
  const orphan = join(fx.config.dataDir, 'orphan-1111111111111111');
  await mkdir(orphan);
  await writeFile(join(orphan, 'disk.img'), '');
  const held = await openSocket(fx.config.socket);
  let waiting = false;
  held.server.once('request', () => (waiting = true));
  const dropped = fx.call('Plugin.Activate', '').then(
    () => 'answered',
    () => 'dropped',
  );
  await waitFor('the request to be held by the socket', () => waiting, Boolean, CHECK_MS, { every: 20 });
  await t.throwsAsync(startPlugin(fx.config, pino({ level: 'silent' }), { socket: held }), { message: /cannot start/ });
  t.is(await dropped, 'dropped');
  t.false(existsSync(fx.config.socket), 'socket file removed');
  await rm(orphan, { recursive: true });
  await fx.restart();
});

test('a second plugin refuses to steal a live socket; a stale socket file is replaced', async (t) => {
  const fx = await startTestPlugin('socket');
  t.teardown(() => fx.close());
  const { startPlugin } = await import('../../src/plugin.js');
  const { pino } = await import('pino');
  await t.throwsAsync(startPlugin(fx.config, pino({ level: 'silent' })), { message: /in use by another running plugin/ });
  t.is((await fx.call('Plugin.Activate', '')).status, 200);
});

test('a loop device attached from another mount namespace is recognised (managed plugin restarts)', async (t) => {
  const fx = await startTestPlugin('foreign-loop');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'moved', Opts: { size: '32M' } });
  // Attach the image through a bind mount in a namespace that then dies: the
  // kernel now prints its backing file as a path we never used.
  const { stdout } = await execa('unshare', [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mkdir -p /mnt/custom-foreign && mount --bind "$1" /mnt/custom-foreign && losetup -f --show --direct-io=on /mnt/custom-foreign/"$2"/disk.img',
    'sh',
    fx.config.dataDir,
    (await import('../../src/volumes/names.js')).volumeId('moved'),
  ]);
  const device = stdout.trim();
  const { stdout: listed } = await execa('losetup', ['-n', '-O', 'BACK-FILE', device]);
  t.false(listed.trim().startsWith(fx.config.dataDir), `backing path ${listed.trim()} still looks like ours`);
  await fx.call('VolumeDriver.Mount', { Name: 'moved', ID: A });
  t.deepEqual(await loopsUnder(fx.root), [], 'no second loop device under our path');
  const { stdout: attached } = await execa('losetup', ['-n', '-O', 'NAME', '--list']);
  t.is(attached.split('\n').filter((line) => line.trim() === device).length, 1, 'the foreign device is the one in use');
  await fx.call('VolumeDriver.Unmount', { Name: 'moved', ID: A });
  // losetup -j matches by inode: no device may still refer to the image.
  const image = join(fx.config.dataDir, (await import('../../src/volumes/names.js')).volumeId('moved'), 'disk.img');
  const { stdout: still } = await execa('losetup', ['-n', '-O', 'NAME', '-j', image]);
  t.is(still.trim(), '', `${device} was not detached`);
});
