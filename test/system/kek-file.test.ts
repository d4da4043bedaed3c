import test from 'ava';
import { writeFile, chmod, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadKek } from '../../src/keys/kek.js';
import { testTempDir } from '../helpers/temp.js';

// A KEK file must be owned by root, the plugin's user: run as root, so a file
// can be given to another owner with chown and one owned by root is accepted.

test('a KEK file is 32 raw bytes or 64 hex digits, readable only by its owner', async (t) => {
  const dir = await testTempDir(t, 'keys');
  const raw = join(dir, 'raw');
  await writeFile(raw, randomBytes(32), { mode: 0o600 });
  t.is((await loadKek(raw)).length, 32);
  const hex = join(dir, 'hex');
  await writeFile(hex, `${'ab'.repeat(32)}\n`, { mode: 0o400 });
  t.deepEqual(await loadKek(hex), Buffer.alloc(32, 0xab));
  const open = join(dir, 'open');
  await writeFile(open, randomBytes(32), { mode: 0o644 });
  await chmod(open, 0o644);
  await t.throwsAsync(loadKek(open), { message: /must not be readable by group or others/ });
  const foreign = join(dir, 'foreign');
  await writeFile(foreign, randomBytes(32), { mode: 0o400 });
  await chown(foreign, 1000, 1000);
  await t.throwsAsync(loadKek(foreign), { message: /must be owned by root \(the plugin's user\), not uid 1000/ });
  const short = join(dir, 'short');
  await writeFile(short, 'too short', { mode: 0o600 });
  await t.throwsAsync(loadKek(short), { message: /32 raw bytes or 64 hex digits/ });
  // Hex in either case, with whitespace around it, decoded without a string; one non-hex digit refuses it.
  const mixed = join(dir, 'mixed');
  const bytes = randomBytes(32);
  await writeFile(mixed, `  ${bytes.toString('hex').toUpperCase().slice(0, 20)}${bytes.toString('hex').slice(20)}\r\n`, { mode: 0o400 });
  t.deepEqual(await loadKek(mixed), bytes);
  const bad = join(dir, 'bad');
  await writeFile(bad, `${'ab'.repeat(31)}ag`, { mode: 0o400 });
  await t.throwsAsync(loadKek(bad), { message: /32 raw bytes or 64 hex digits/ });
});
