import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { createSystemTools } from '../../src/system/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// LUKS header operations need no device-mapper: they run on an image file
// here. Opening (dm-crypt) is tested in the guest suite.
const tools = createSystemTools(30_000);

test('luksFormat, luksDump, luksAddKey, luksRemoveKey and erase on a real LUKS2 header', async (t) => {
  const dir = await makeTempDir('luks-header');
  t.teardown(() => removeTempDir(dir));
  const image = join(dir, 'disk.img');
  await execa('truncate', ['-s', '32M', image]);
  const key = randomBytes(64);
  await tools.luksFormat(image, key, { cipher: 'aes-xts-plain64', keySizeBits: 512, pbkdf: 'pbkdf2-minimal' });
  const dump = await tools.luksDump(image);
  t.regex(dump, /Version:\s+2/);
  t.regex(dump, /cipher: aes-xts-plain64/);
  t.regex(dump, /PBKDF:\s+pbkdf2/);
  t.is(dump.match(/^\s+\d+: luks2$/gm)?.length, 1, 'one keyslot');

  const second = randomBytes(64);
  await tools.luksAddKey(image, key, second);
  t.is((await tools.luksDump(image)).match(/^\s+\d+: luks2$/gm)?.length, 2);
  // The second key unlocks the header (a dm-free check of the passphrase).
  const check = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', image], { input: second, reject: false });
  t.is(check.exitCode, 0, check.stderr);
  await tools.luksRemoveKey(image, second);
  const after = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', image], { input: second, reject: false });
  t.not(after.exitCode, 0);

  await tools.luksErase(image);
  t.notRegex(await tools.luksDump(image), /^\s+\d+: luks2$/m, 'no keyslot left');
  const erased = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', image], { input: key, reject: false });
  t.not(erased.exitCode, 0);
});

test('a wrong cipher is refused by luksFormat with a clear message', async (t) => {
  const dir = await makeTempDir('luks-cipher');
  t.teardown(() => removeTempDir(dir));
  const image = join(dir, 'disk.img');
  await execa('truncate', ['-s', '32M', image]);
  await t.throwsAsync(
    tools.luksFormat(image, randomBytes(64), { cipher: 'nonsense-xts-plain64', keySizeBits: 512, pbkdf: 'pbkdf2-minimal' }),
    { message: /cryptsetup exited with/ },
  );
});

test('keys are passed on stdin, never in argv', async (t) => {
  const source = await readFile(new URL('../../src/system/cryptsetup.js', import.meta.url), 'utf8');
  t.false(/'--key-file=(?!-)/.test(source));
  t.false(/--passphrase/.test(source));
});
