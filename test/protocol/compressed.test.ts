import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestPlugin, type PluginFixture } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { writeRandom, writeTextCorpus } from '../helpers/corpus.js';
import { toolsFailingAt, type ToolName } from '../helpers/faults.js';
import { hasLiveStatus, LIVE_STATUS_MS, waitFor } from '../helpers/wait.js';

// Real btrfs on real loop devices, through the real server.
const ID = 'c'.repeat(64);
type Status = Record<string, unknown>;

async function status(fx: PluginFixture, name: string): Promise<Status> {
  return ((await fx.call('VolumeDriver.Get', { Name: name })).body['Volume'] as Record<string, Status>)['Status']!;
}

// A measurement of what the test wrote: live status alone may be the last measurement,
// served while a slow one runs (src/volumes/compression.ts), taken before the write.
const measured = (bytes: number) => (s: Status) => hasLiveStatus(s) && s['logicalBytes'] === bytes;

async function mountOptionsOf(target: string): Promise<string> {
  const line = (await readFile('/proc/self/mounts', 'utf8')).split('\n').find((l) => l.split(' ')[1] === target);
  return line?.split(' ')[3] ?? '';
}

let fx: PluginFixture;
test.before(async () => {
  fx = await startTestPlugin('compressed');
});
test.after.always(async () => {
  await fx?.close();
});

test.serial('text-like data is stored at under half its size; Status reports the ratio', async (t) => {
  t.is((await fx.call('VolumeDriver.Create', { Name: 'logs', Opts: { type: 'compressed', size: '512M' } })).body['Err'], '');
  // compression, compressionForce and the measured bytes are live status (within Get's 2 s).
  t.like(await waitFor('live status of "logs"', () => status(fx, 'logs'), hasLiveStatus, LIVE_STATUS_MS), {
    type: 'compressed',
    fs: 'btrfs',
    compression: 'zstd:1',
    compressionForce: false,
  });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'logs', ID })).body['Mountpoint']);
  t.regex(await mountOptionsOf(join(mountpoint, '..')), /(^|,)compress=zstd:1(,|$)/);
  await writeTextCorpus(join(mountpoint, 'corpus.txt'), 64 * 1024 ** 2);
  const s = await waitFor('a measurement of 64 MiB in "logs"', () => status(fx, 'logs'), measured(64 * 1024 ** 2), LIVE_STATUS_MS);
  t.is(s['logicalBytes'], 64 * 1024 ** 2);
  t.true(Number(s['compressionRatio']) < 0.5, `ratio ${String(s['compressionRatio'])}`);
  t.true(Number(s['storedBytes']) < 32 * 1024 ** 2);
  t.regex(String(s['compressionMeasuredAt']), /^\d{4}-/);
  await fx.call('VolumeDriver.Unmount', { Name: 'logs', ID });
  t.deepEqual(await mountsUnder(fx.root), []);
  await fx.call('VolumeDriver.Mount', { Name: 'logs', ID });
  t.is((await readFile(join(mountpoint, 'corpus.txt'))).length, 64 * 1024 ** 2, 'data survives remount');
  await fx.call('VolumeDriver.Unmount', { Name: 'logs', ID });
  await fx.call('VolumeDriver.Remove', { Name: 'logs' });
});

test.serial('incompressible data is stored at about its size', async (t) => {
  await fx.call('VolumeDriver.Create', { Name: 'random', Opts: { type: 'compressed', size: '256M' } });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'random', ID })).body['Mountpoint']);
  await writeRandom(join(mountpoint, 'noise.bin'), 32 * 1024 ** 2);
  const ratio = Number(
    (await waitFor('a measurement of 32 MiB in "random"', () => status(fx, 'random'), measured(32 * 1024 ** 2), LIVE_STATUS_MS))[
      'compressionRatio'
    ],
  );
  t.true(ratio > 0.95 && ratio <= 1.01, `ratio ${ratio}`);
  await fx.call('VolumeDriver.Unmount', { Name: 'random', ID });
  await fx.call('VolumeDriver.Remove', { Name: 'random' });
});

const algorithms: Array<[Record<string, string>, RegExp]> = [
  [{ compression: 'zstd:3', 'compress-force': 'true' }, /(^|,)compress-force=zstd:3(,|$)/],
  [{ compression: 'lzo' }, /(^|,)compress=lzo(,|$)/],
  [{ compression: 'zlib:9' }, /(^|,)compress=zlib:9(,|$)/],
];
for (const [opts, expected] of algorithms) {
  test.serial(`compression ${JSON.stringify(opts)} reaches the btrfs mount`, async (t) => {
    await fx.call('VolumeDriver.Create', { Name: 'algo', Opts: { type: 'compressed', size: '256M', ...opts } });
    const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'algo', ID })).body['Mountpoint']);
    t.regex(await mountOptionsOf(join(mountpoint, '..')), expected);
    await writeTextCorpus(join(mountpoint, 'c.txt'), 8 * 1024 ** 2);
    t.true(
      Number(
        (await waitFor('a measurement of 8 MiB in "algo"', () => status(fx, 'algo'), measured(8 * 1024 ** 2), LIVE_STATUS_MS))[
          'compressionRatio'
        ],
      ) < 0.6,
    );
    await fx.call('VolumeDriver.Unmount', { Name: 'algo', ID });
    await fx.call('VolumeDriver.Remove', { Name: 'algo' });
  });
}

test.serial('an empty compressed volume reports no ratio rather than failing', async (t) => {
  await fx.call('VolumeDriver.Create', { Name: 'empty', Opts: { type: 'compressed', size: '256M' } });
  await fx.call('VolumeDriver.Mount', { Name: 'empty', ID });
  const s = await waitFor('live status of "empty"', () => status(fx, 'empty'), hasLiveStatus, LIVE_STATUS_MS);
  t.is(s['statusError'], undefined);
  t.is(s['compressionRatio'], null);
  t.is(s['logicalBytes'], 0);
  await fx.call('VolumeDriver.Unmount', { Name: 'empty', ID });
  await fx.call('VolumeDriver.Remove', { Name: 'empty' });
});

test.serial('the size limit holds on btrfs too', async (t) => {
  await fx.call('VolumeDriver.Create', { Name: 'full', Opts: { type: 'compressed', size: '160M' } });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'full', ID })).body['Mountpoint']);
  await t.throwsAsync(writeRandom(join(mountpoint, 'big'), 400 * 1024 ** 2), { code: 'ENOSPC' });
  await fx.call('VolumeDriver.Unmount', { Name: 'full', ID });
  await fx.call('VolumeDriver.Remove', { Name: 'full' });
});

const faults: Array<[string, ToolName, number]> = [
  ['Create', 'makeFilesystem', 1],
  ['Mount', 'mount', 1],
];
for (const [method, step, nth] of faults) {
  test.serial(`${method} of a compressed volume failing at ${step} leaves nothing behind`, async (t) => {
    const faulty = await startTestPlugin(`compressed-fault-${step}`, toolsFailingAt(step, nth));
    t.teardown(() => faulty.close());
    const create = await faulty.call('VolumeDriver.Create', { Name: 'f', Opts: { type: 'compressed', size: '256M' } });
    if (method === 'Create') {
      t.regex(String(create.body['Err']), /^volume "f": could not provision storage: injected failure in makeFilesystem/);
      t.deepEqual((await faulty.call('VolumeDriver.List', {})).body['Volumes'], []);
    } else {
      const mount = await faulty.call('VolumeDriver.Mount', { Name: 'f', ID });
      t.regex(String(mount.body['Err']), /^volume "f": could not be mounted: injected failure in mount/);
    }
    t.deepEqual(await loopsUnder(faulty.root), []);
    t.deepEqual(await mountsUnder(faulty.root), []);
  });
}
