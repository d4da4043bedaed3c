import test, { type ExecutionContext } from 'ava';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startTestPlugin } from '../helpers/plugin.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { volumeId } from '../../src/state/volume-id.js';
import { hasLiveStatus, LIVE_STATUS_MS, waitFor } from '../helpers/wait.js';

// Capacity against a real filesystem of known size: images are sparse, so
// Create must count what existing images may still claim.

async function smallDataDir(t: ExecutionContext, megabytes: number): Promise<string> {
  const root = await makeTempDir('capacity-fs');
  const dir = join(root, 'fs');
  await mkdir(dir);
  await execa('truncate', ['-s', `${megabytes}M`, join(root, 'fs.img')]);
  await execa('mkfs.ext4', ['-q', '-F', '-m', '0', join(root, 'fs.img')]);
  await execa('mount', ['-o', 'loop', join(root, 'fs.img'), dir]);
  t.teardown(async () => {
    await execa('umount', ['-l', dir], { reject: false });
    await removeTempDir(root);
  });
  return dir;
}

test('a size that does not fit is refused with the sizes and the setting that allows overcommit; what fits is created', async (t) => {
  const dataDir = await smallDataDir(t, 320);
  const fx = await startTestPlugin('capacity', undefined, { dataDir });
  t.teardown(() => fx.close());
  const huge = await fx.call('VolumeDriver.Create', { Name: 'huge', Opts: { size: '500G' } });
  t.regex(
    String(huge.body['Err']),
    /^volume "huge": size 500 GiB does not fit: the data directory's filesystem has \d+(\.\d)? MiB free, existing volumes may still claim 0 B and 64 MiB is kept for state, which leaves \d+(\.\d)? MiB\. Use a smaller size, free space, or allow overcommit with CUSTOM_OVERCOMMIT/,
  );
  t.is((await fx.call('VolumeDriver.Create', { Name: 'first', Opts: { size: '128M' } })).body['Err'], '');
  // The first image is sparse: almost all of its 128 MiB may still be claimed.
  const second = await fx.call('VolumeDriver.Create', { Name: 'second', Opts: { size: '128M' } });
  t.regex(String(second.body['Err']), /existing volumes may still claim 1\d\d(\.\d)? MiB/);
  t.deepEqual((await fx.call('VolumeDriver.List', {})).body['Volumes'], [
    { Name: 'first', Mountpoint: join(fx.config.mountDir, volumeId('first'), '_data') },
  ]);
});

test('CUSTOM_OVERCOMMIT=2 promises twice the free space to sparse images', async (t) => {
  const dataDir = await smallDataDir(t, 320);
  const fx = await startTestPlugin('overcommit', undefined, { dataDir, overcommit: 2 });
  t.teardown(() => fx.close());
  t.is((await fx.call('VolumeDriver.Create', { Name: 'first', Opts: { size: '128M' } })).body['Err'], '');
  t.is((await fx.call('VolumeDriver.Create', { Name: 'second', Opts: { size: '128M' } })).body['Err'], '');
  t.regex(
    String((await fx.call('VolumeDriver.Create', { Name: 'third', Opts: { size: '400M' } })).body['Err']),
    /does not fit: .* free × CUSTOM_OVERCOMMIT=2/,
  );
});

test('-o sparse=false preallocates the image, so it claims nothing more later', async (t) => {
  const dataDir = await smallDataDir(t, 320);
  const fx = await startTestPlugin('preallocated', undefined, { dataDir });
  t.teardown(() => fx.close());
  t.is((await fx.call('VolumeDriver.Create', { Name: 'full', Opts: { size: '128M', sparse: 'false' } })).body['Err'], '');
  const image = await stat(join(dataDir, volumeId('full'), 'disk.img'));
  t.true(image.blocks * 512 >= 128 * 1024 ** 2, `allocated ${image.blocks * 512} bytes`);
  // It claims nothing more: what is left after it (less the 64 MiB reserve) is free for a sparse volume.
  t.is((await fx.call('VolumeDriver.Create', { Name: 'sparse', Opts: { size: '80M' } })).body['Err'], '');
  // allocatedBytes is live status (a stat of the image, within Get's 2 s).
  const status = await waitFor(
    'live status of "full"',
    async () => ((await fx.call('VolumeDriver.Get', { Name: 'full' })).body['Volume'] as { Status: Record<string, unknown> }).Status,
    hasLiveStatus,
    LIVE_STATUS_MS,
  );
  t.true(Number(status['allocatedBytes']) >= 128 * 1024 ** 2);
  // A preallocation the disk cannot hold fails cleanly.
  const tooBig = await fx.call('VolumeDriver.Create', { Name: 'nope', Opts: { size: '300M', sparse: 'false' } });
  t.regex(String(tooBig.body['Err']), /does not fit/);
});
