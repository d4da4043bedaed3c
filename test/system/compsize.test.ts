import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { measureCompression } from '../../src/system/compsize.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { scrubHost } from '../helpers/host.js';

// compsize on a real compressed btrfs: it exits 1 both on an empty
// filesystem and while every file still waits in memory (delalloc); both
// mean "nothing stored yet", not a failure of the volume's Status.

test('empty, delalloc only, then written: nothing stored until the data reaches the disk', async (t) => {
  const root = await makeTempDir('compsize');
  t.teardown(async () => {
    await scrubHost(root);
    await removeTempDir(root);
  });
  const image = join(root, 'fs.img');
  const mnt = join(root, 'mnt');
  await mkdir(mnt);
  await execa('truncate', ['-s', '128M', image]);
  await execa('mkfs.btrfs', ['-q', image]);
  await execa('mount', ['-o', 'loop,compress=zstd', image, mnt]);

  t.deepEqual(await measureCompression(mnt, 10_000), { logicalBytes: 0, storedBytes: 0 }, 'empty');

  const text = 'a line that compresses well\n'.repeat(40_000);
  await writeFile(join(mnt, 'pending.txt'), text);
  const pending = await measureCompression(mnt, 10_000);
  // Asked after: data never goes back to delalloc, so a refusal now means it was pending above too.
  const raw = await execa('compsize', ['-b', '-x', '--', mnt], { reject: false });
  if (raw.exitCode !== 0) t.regex(raw.stderr, /still-delalloced/, 'compsize refuses while the data waits in memory');
  else t.log('written back before compsize ran: the delalloc case did not happen this time');
  // Extents count whole 4 KiB blocks.
  const whole = (bytes: number) => bytes >= text.length && bytes < text.length + 4096;
  t.true(pending.logicalBytes === 0 || whole(pending.logicalBytes), `pending: ${JSON.stringify(pending)}`);

  await execa('sync', ['-f', mnt]);
  const stored = await measureCompression(mnt, 10_000);
  t.true(whole(stored.logicalBytes), `logical ${stored.logicalBytes} for ${text.length}`);
  t.true(stored.storedBytes < text.length / 4, `stored ${stored.storedBytes} of ${text.length}`);
});
