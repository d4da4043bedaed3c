import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startTestPlugin, type PluginFixture } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { fileContains, ourMappings } from '../helpers/luks.js';
import { hasLiveStatus, LIVE_STATUS_MS, waitFor } from '../helpers/wait.js';
import { writeTextCorpus } from '../helpers/corpus.js';
import { volumeId } from '../../src/volumes/names.js';

// loop → LUKS2 → btrfs with compression, in a kernel with dm-crypt.
const ID = 'd'.repeat(64);
type Status = Record<string, unknown>;

async function status(fx: PluginFixture, name: string): Promise<Status> {
  return ((await fx.call('VolumeDriver.Get', { Name: name })).body['Volume'] as Record<string, Status>)['Status']!;
}

test.serial('encrypted + compressed: round trip, ratio in Status, closed after the last unmount', async (t) => {
  const fx = await startTestPlugin('stacked');
  t.teardown(() => fx.close());
  t.is(
    (await fx.call('VolumeDriver.Create', { Name: 'both', Opts: { type: 'encrypted', compression: 'zstd:3', size: '256M' } })).body['Err'],
    '',
  );
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'both', ID })).body['Mountpoint']);
  await writeTextCorpus(join(mountpoint, 'corpus.txt'), 16 * 1024 ** 2);
  // open, compression and the ratio are live status (within Get's 2 s; the emulated guest is slow).
  const s = await waitFor('live status of "both"', () => status(fx, 'both'), hasLiveStatus, LIVE_STATUS_MS);
  t.like(s, { type: 'encrypted', fs: 'btrfs', encrypted: true, cipher: 'aes-xts-plain64', open: true, compression: 'zstd:3' });
  t.true(Number(s['compressionRatio']) < 0.5, `ratio ${String(s['compressionRatio'])}`);
  await fx.call('VolumeDriver.Unmount', { Name: 'both', ID });
  t.deepEqual(await ourMappings(), []);
  t.deepEqual(await loopsUnder(fx.root), []);
  await fx.call('VolumeDriver.Mount', { Name: 'both', ID });
  t.is((await readFile(join(mountpoint, 'corpus.txt'))).length, 16 * 1024 ** 2);
  await fx.call('VolumeDriver.Unmount', { Name: 'both', ID });
  await fx.call('VolumeDriver.Remove', { Name: 'both' });
  t.deepEqual(await mountsUnder(fx.root), []);
});

test.serial('encrypted + compressed images hold no plaintext (a compressed-only control does)', async (t) => {
  const fx = await startTestPlugin('stacked-plaintext');
  t.teardown(() => fx.close());
  // Random bytes do not compress, so btrfs stores them as they are: the
  // control image must show them, the encrypted one must not.
  const blob = randomBytes(1024 * 1024);
  const needle = blob.subarray(4096, 4096 + 64);
  const text = `secret-line-${randomBytes(8).toString('hex')}\n`;
  for (const [name, opts] of [
    ['stack', { type: 'encrypted', compression: 'zstd' }],
    ['control', { type: 'compressed' }],
  ] as const) {
    await fx.call('VolumeDriver.Create', { Name: name, Opts: { ...opts, size: '256M' } });
    const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: name, ID })).body['Mountpoint']);
    await writeFile(join(mountpoint, 'blob'), blob);
    await writeFile(join(mountpoint, 'short.txt'), text);
    await fx.call('VolumeDriver.Unmount', { Name: name, ID });
  }
  const image = (name: string) => join(fx.config.dataDir, volumeId(name), 'disk.img');
  t.true(await fileContains(image('control'), needle), 'the check finds stored bytes when they are there');
  t.false(await fileContains(image('stack'), needle), 'plaintext in the encrypted+compressed image');
  t.false(await fileContains(image('stack'), Buffer.from(text)), 'a small file leaked');
  for (const name of ['stack', 'control']) await fx.call('VolumeDriver.Remove', { Name: name });
});
