import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_IMAGE } from '../helpers/dockerd.js';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { inspectVolume, runDetached } from '../helpers/containers.js';
import { leftOnHost, mountsUnder, nothingLeft, volumeFiles } from '../helpers/host.js';
import { releaseCause } from '../helpers/release-cause.js';
import { CHECK_MS, hasLiveStatus, LIVE_STATUS_MS, RELEASED_MS, waitFor } from '../helpers/wait.js';
import { composeProject } from '../helpers/compose.js';

// A real dockerd talking to the real plugin process over its socket.

usePluginAndDockerd('e2e');

const run = (args: string[]) => dockerd.docker(['run', '--rm', '--network', 'none', ...args]);
const inspectStatus = (name: string) => inspectVolume(dockerd, name);

test.serial('create, inspect, ls, write in one container, read in another, rm', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=320M', '-o', 'fs=xfs', 'data']);
  const volume = await inspectStatus('data');
  t.is(volume.Driver, plugin.driver);
  t.like(volume.Status, { type: 'plain', fs: 'xfs', size: '320 MiB', mounted: false, leases: 0 });
  t.regex(String(volume.Status['createdAt']), /^\d{4}-/);
  const ls = await dockerd.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
  t.true(ls.stdout.split('\n').includes(`${plugin.driver} data`));

  await run(['-v', 'data:/data', TEST_IMAGE, 'sh', '-c', 'echo hi > /data/f && df -k /data | tail -1']);
  const read = await run(['-v', 'data:/data', TEST_IMAGE, 'cat', '/data/f']);
  t.is(read.stdout, 'hi');
  const df = await run(['-v', 'data:/data', TEST_IMAGE, 'df', '-k', '/data']);
  const totalKiB = Number(df.stdout.split('\n')[1]?.trim().split(/\s+/)[1]);
  t.true(totalKiB > 250 * 1024 && totalKiB <= 320 * 1024, `df says ${totalKiB} KiB`);
  const mounts = await waitFor(
    'the volume unmounted after the last container',
    () => mountsUnder(plugin.root),
    (m) => m.length === 0,
    RELEASED_MS,
  );
  t.not(releaseCause(plugin.logs(), 'data'), 'periodic check alone', "Docker's Unmount released it, or kept it for a lingering container");
  t.deepEqual(mounts, [], 'unmounted after the last container');

  await dockerd.docker(['volume', 'rm', 'data']);
  t.false((await dockerd.docker(['volume', 'ls', '-q'])).stdout.split('\n').includes('data'));
  t.deepEqual(await volumeFiles(join(plugin.stateDir, 'volumes')), []);
});

test.serial("bad options are refused with the plugin's message", async (t) => {
  const result = await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=abc', 'bad'], { reject: false });
  t.not(result.exitCode, 0);
  t.regex(result.stderr, /volume "bad": size="abc" is not a size/);
  const unknown = await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'sise=1G', 'bad'], { reject: false });
  t.regex(unknown.stderr, /unknown option "sise"; valid options for type=plain are: type, size, fs, fstype, retain/);
  t.false((await dockerd.docker(['volume', 'ls', '-q'])).stdout.split('\n').includes('bad'));
});

test.serial('two containers share a volume; the first one stopping leaves it mounted for the second', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', 'shared']);
  const c1 = (
    await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'shared:/d', TEST_IMAGE, 'sh', '-c', 'echo one > /d/one; sleep 600'])
  ).stdout;
  const c2 = (await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'shared:/d', TEST_IMAGE, 'sleep', '600'])).stdout;
  t.like((await inspectStatus('shared')).Status, { mounted: true, leases: 2 });
  await dockerd.docker(['stop', '-t', '0', c1]);
  t.like((await inspectStatus('shared')).Status, { mounted: true, leases: 1 });
  await dockerd.docker(['exec', c2, 'sh', '-c', 'echo two > /d/two']);
  t.is((await dockerd.docker(['exec', c2, 'cat', '/d/one', '/d/two'])).stdout, 'one\ntwo');

  const rm = await dockerd.docker(['volume', 'rm', 'shared'], { reject: false });
  t.not(rm.exitCode, 0);
  t.regex(rm.stderr, /in use/);
  t.is((await dockerd.docker(['exec', c2, 'cat', '/d/one'])).stdout, 'one', 'data survives the refused rm');

  await dockerd.docker(['stop', '-t', '0', c2]);
  const left = await waitFor(
    'the volume released after its last container stopped',
    () => leftOnHost(plugin.root),
    nothingLeft,
    RELEASED_MS,
  );
  t.not(
    releaseCause(plugin.logs(), 'shared'),
    'periodic check alone',
    "Docker's Unmount released it, or kept it for a lingering container",
  );
  // `mounted` in live status is the mount itself: read once it is gone.
  t.like((await inspectStatus('shared')).Status, { mounted: false, leases: 0 });
  t.deepEqual(left.mounts, []);
  t.deepEqual(left.loops, []);
  await dockerd.docker(['rm', c1, c2]);
  await dockerd.docker(['volume', 'rm', 'shared']);
});

test.serial('the plugin is SIGKILLed while a container writes; restarted, it serves on and unmounts cleanly', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', 'survivor']);
  const c = await runDetached(dockerd, ['survivor:/d'], 'i=0; while true; do i=$((i+1)); echo $i >> /d/log; sleep 0.05; done');
  await plugin.kill('SIGKILL');
  const logLines = async () => Number((await dockerd.docker(['exec', c, 'sh', '-c', 'wc -l < /d/log'])).stdout);
  const during = await waitFor('the container to write', logLines, (n) => n > 0, CHECK_MS);
  t.true(during > 0);
  await plugin.start();
  const after = await waitFor('the container to write on', logLines, (n) => n > during, CHECK_MS);
  t.true(after > during, 'the container kept writing through the restart');
  t.like((await inspectStatus('survivor')).Status, { mounted: true, leases: 1 });
  await dockerd.docker(['stop', '-t', '1', c]);
  const left = await waitFor('the volume released after its container stopped', () => leftOnHost(plugin.root), nothingLeft, RELEASED_MS);
  t.not(
    releaseCause(plugin.logs(), 'survivor'),
    'periodic check alone',
    "Docker's Unmount released it, or kept it for a lingering container",
  );
  t.deepEqual(left.mounts, [], 'docker stop unmounted after the restart');
  t.deepEqual(left.loops, []);
  const read = await run(['-v', 'survivor:/d', TEST_IMAGE, 'sh', '-c', 'wc -l < /d/log']);
  t.true(Number(read.stdout) >= after);
  await dockerd.docker(['rm', c]);
  await dockerd.docker(['volume', 'rm', 'survivor']);
});

test.serial('a compressed volume used by a container shows its compression ratio in inspect', async (t) => {
  await dockerd.docker([
    'volume',
    'create',
    '-d',
    plugin.driver,
    '-o',
    'type=compressed',
    '-o',
    'compression=zstd:3',
    '-o',
    'size=256M',
    'logs',
  ]);
  await run(['-v', 'logs:/logs', TEST_IMAGE, 'sh', '-c', 'seq 1 3000000 > /logs/numbers.txt && sync']);
  const c = (await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'logs:/logs', TEST_IMAGE, 'sleep', '600'])).stdout;
  // compression, logicalBytes and the ratio are live status (compsize, within Get's 2 s).
  const volume = await waitFor(
    'live status of "logs"',
    () => inspectStatus('logs'),
    (v) => hasLiveStatus(v.Status),
    LIVE_STATUS_MS,
    { every: 500 },
  );
  t.like(volume.Status, { type: 'compressed', fs: 'btrfs', compression: 'zstd:3', mounted: true });
  t.true(Number(volume.Status['logicalBytes']) > 20_000_000);
  t.true(Number(volume.Status['compressionRatio']) < 0.5, `ratio ${String(volume.Status['compressionRatio'])}`);
  t.is((await dockerd.docker(['exec', c, 'tail', '-n', '1', '/logs/numbers.txt'])).stdout, '3000000');
  await dockerd.docker(['rm', '-f', c]);
  await dockerd.docker(['volume', 'rm', 'logs']);
  t.deepEqual(await mountsUnder(plugin.root), []);
});

test.serial('SIGTERM stops the plugin cleanly: socket removed, volumes stay mounted for running containers', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', 'graceful']);
  const c = (await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'graceful:/d', TEST_IMAGE, 'sleep', '600'])).stdout;
  t.is(await plugin.kill('SIGTERM'), 0);
  t.false(existsSync(plugin.socket), 'socket file removed');
  t.is((await mountsUnder(plugin.root)).length, 1, 'the running container keeps its volume');
  await dockerd.docker(['exec', c, 'sh', '-c', 'echo still > /d/f']);
  await plugin.start();
  await dockerd.docker(['stop', '-t', '0', c]);
  const left = await waitFor('the volume released after its container stopped', () => leftOnHost(plugin.root), nothingLeft, RELEASED_MS);
  t.not(
    releaseCause(plugin.logs(), 'graceful'),
    'periodic check alone',
    "Docker's Unmount released it, or kept it for a lingering container",
  );
  t.deepEqual(left.mounts, []);
  t.deepEqual(left.loops, []);
  t.is((await run(['-v', 'graceful:/d', TEST_IMAGE, 'cat', '/d/f'])).stdout, 'still');
  await dockerd.docker(['rm', c]);
  await dockerd.docker(['volume', 'rm', 'graceful']);
});

test.serial('compose: driver + driver_opts create the volume, a service uses it, down -v removes it', async (t) => {
  const compose = await composeProject(dockerd, join(plugin.root, 'compose'), 'tour', {
    version: '3.7',
    command: 'echo from-compose > /data/f; cat /data/f',
    mounts: ['appdata:/data'],
    driver: plugin.driver,
    volumes: { appdata: { size: '48M', fs: 'ext4' } },
  });
  const up = await compose(['up', '--no-color', '--abort-on-container-exit']);
  t.is(up.exitCode, 0, String(up.stderr));
  t.regex(String(up.stdout), /from-compose/);
  const volume = await inspectStatus('tour_appdata');
  t.is(volume.Driver, plugin.driver);
  t.like(volume.Status, { size: '48 MiB', fs: 'ext4' });
  const down = await compose(['down', '-v']);
  t.is(down.exitCode, 0, String(down.stderr));
  t.false((await dockerd.docker(['volume', 'ls', '-q'])).stdout.split('\n').includes('tour_appdata'));
  t.deepEqual(await volumeFiles(join(plugin.stateDir, 'volumes')), []);
});
