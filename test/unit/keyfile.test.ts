import test from 'ava';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadKeyfile } from '../../src/backings/keyfile.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { refusedKeyFile } from '../helpers/keyfile-refused.js';

// Key files refused for what they are (a FIFO, a directory, nothing) and a
// reader's own error: real files in a temp directory, no root needed. Those
// refused for their owner or mode are in test/system/keyfile.test.ts.
let dir = '';
test.before(async () => {
  dir = await makeTempDir('keyfile');
});
test.after.always(() => removeTempDir(dir));
const refused = refusedKeyFile(() => dir);

test(
  'a FIFO, without blocking on it',
  refused,
  async () => {
    const fifo = join(dir, 'fifo.key');
    await execa('mkfifo', ['-m', '0400', fifo]);
    return fifo;
  },
  'not-regular',
  'not a regular file',
);
test(
  'a directory',
  refused,
  async () => {
    const path = join(dir, 'a-directory');
    await mkdir(path, { mode: 0o700 });
    return path;
  },
  'not-regular',
  'not a regular file',
);
test('a missing file', refused, async () => join(dir, 'nothing-here.key'), 'missing', 'does not exist on the host');

test('a foreign error (which may carry the path) is reported without it and without its cause', async (t) => {
  const failing = async (path: string): Promise<Buffer> => {
    throw Object.assign(new Error(`EIO: i/o error, open '${path}'`), { code: 'EIO', path });
  };
  const error = await t.throwsAsync(loadKeyfile(failing, '/secret/place.key'));
  t.is(error?.message, 'keyfile: the key file given with -o keyfile could not be read');
  t.is(error?.cause, undefined);
});
