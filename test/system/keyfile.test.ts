import test from 'ava';
import { chmod, chown, readdir, symlink, writeFile } from 'node:fs/promises';
import { pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { setTimeout } from 'node:timers/promises';
import { join } from 'node:path';
import { KeyFileRefused, readKeyFile } from '../../src/system/keyfile-read.js';
import { checkKeyfile, keyfileProblem, loadKeyfile } from '../../src/backings/keyfile.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { refusedKeyFile } from '../helpers/keyfile-refused.js';

// Real files in a temp directory; the tests run as root, so ownership can be
// given away with chown (and a key file must be root's to be read).
const MiB = 1024 * 1024;
let dir = '';
test.before(async () => {
  dir = await makeTempDir('keyfile');
});
test.after.always(() => removeTempDir(dir));
const refused = refusedKeyFile(() => dir);

async function keyFile(name: string, content: Buffer | string, mode = 0o400, uid = 0): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  await chown(path, uid, 0);
  return path;
}

test(
  'a symlink (not followed, even to a good key file)',
  refused,
  async () => {
    const target = await keyFile('target.key', randomBytes(64));
    const link = join(dir, 'link.key');
    await symlink(target, link);
    return link;
  },
  'symlink',
  'symbolic link',
  'the path of the file itself',
);
test(
  'a file owned by another user',
  refused,
  () => keyFile('theirs.key', randomBytes(64), 0o400, 1000),
  'not-root',
  'must be owned by root',
  'chown root',
  'uid 1000',
);
test(
  'a group-readable file',
  refused,
  () => keyFile('group.key', randomBytes(64), 0o440),
  'group-or-other',
  'not readable by group or others',
  'chmod 0400',
  'mode 0440',
);
test('an other-readable file', refused, () => keyFile('other.key', randomBytes(64), 0o404), 'group-or-other', 'chmod 0400', 'mode 0404');
test('a group-writable file', refused, () => keyFile('gw.key', randomBytes(64), 0o420), 'group-or-other');
test('an empty file', refused, () => keyFile('empty.key', Buffer.alloc(0)), 'empty', 'is empty', '1 byte to 8 MiB');
test('a file of 8 MiB + 1 byte', refused, () => keyFile('large.key', Buffer.alloc(8 * MiB + 1, 7)), 'too-large', 'larger than 8 MiB');

test('a good 0400 root file is read exactly', async (t) => {
  const key = randomBytes(4096);
  const path = await keyFile('good.key', key);
  const read = await readKeyFile(path);
  t.true(read.equals(key));
  t.is(await checkKeyfile(readKeyFile, path), undefined);
  t.true((await loadKeyfile(readKeyFile, path)).equals(key));
});

test('0600 and exactly 8 MiB are fine', async (t) => {
  const key = randomBytes(8 * MiB);
  const read = await readKeyFile(await keyFile('max.key', key, 0o600));
  t.is(read.length, 8 * MiB);
  t.true(read.equals(key));
});

async function openDescriptors(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

// A stuck filesystem, simulated: every libuv worker thread is busy with a slow
// pbkdf2, so the key file's open and read wait in the queue past the deadline.
test.serial('a read that misses its deadline is abandoned with an error; its handle is closed later', async (t) => {
  const path = await keyFile('slow.key', randomBytes(64));
  const before = await openDescriptors();
  const threads = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  const busy = Array.from({ length: threads }, () => promisify(pbkdf2)('x', 'y', 600_000, 64, 'sha512'));
  let stuckIoDone = false;
  const stuck = Promise.all(busy).then(() => (stuckIoDone = true));
  const error = await t.throwsAsync(readKeyFile(path, { maxBytes: 8 * MiB, deadlineMs: 50 }), { instanceOf: KeyFileRefused });
  t.is(error?.reason, 'timeout');
  t.false(stuckIoDone, 'it gave up while the file system was still stuck, not after');
  t.regex(keyfileProblem(error), /did not finish in time/);
  await stuck;
  for (let i = 0; i < 40 && (await openDescriptors()) !== before; i += 1) await setTimeout(50);
  t.is(await openDescriptors(), before, 'the abandoned read closed its handle when it returned');
});

test('the byte cap is a parameter: a file over it is refused before it is read', async (t) => {
  const path = await keyFile('capped.key', randomBytes(100));
  const error = await t.throwsAsync(readKeyFile(path, { maxBytes: 50, deadlineMs: 2000 }), { instanceOf: KeyFileRefused });
  t.is(error?.reason, 'too-large');
});
