import test from 'ava';
import { readFile, readdir, rename, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyStore, VOLUME_KEY_BYTES } from '../../src/keys/key-store.js';
import { testTempDir } from '../helpers/temp.js';

const tempDir = (t: { teardown: (fn: () => Promise<void>) => void }) => testTempDir(t, 'keys');

test('generated keys are 64 random bytes in a 0400 file inside a 0700 directory', async (t) => {
  const dir = join(await tempDir(t), 'keys');
  const store = new KeyStore(dir, undefined);
  const key = await store.create('vol-1');
  t.is(key.length, VOLUME_KEY_BYTES);
  t.deepEqual(await store.load('vol-1'), key);
  t.is((await stat(dir)).mode & 0o777, 0o700);
  t.is((await stat(join(dir, 'vol-1.key'))).mode & 0o777, 0o400);
  t.notDeepEqual(await store.create('vol-2'), key);
  await t.throwsAsync(store.create('vol-1'), { code: 'EEXIST' });
  await store.remove('vol-1');
  t.deepEqual(await readdir(dir), ['vol-2.key']);
});

test('with a KEK the key file holds only ciphertext and opens only for its own volume', async (t) => {
  const dir = join(await tempDir(t), 'keys');
  const kek = randomBytes(32);
  const store = new KeyStore(dir, kek);
  t.is(store.source, 'sealed');
  const a = await store.create('a');
  const b = await store.create('b');
  const fileA = await readFile(join(dir, 'a.key'));
  t.false(fileA.includes(a), 'plaintext key in the sealed file');
  t.deepEqual(await new KeyStore(dir, kek).load('a'), a);
  await t.throwsAsync(new KeyStore(dir, randomBytes(32)).load('a'), { message: /does not open with the configured key-encryption key/ });
  await t.throwsAsync(new KeyStore(dir, undefined).load('a'), { message: /sealed but no key-encryption key is configured/ });
  // A sealed key copied over another volume's file does not unlock that volume.
  await chmod(join(dir, 'b.key'), 0o600);
  await rename(join(dir, 'a.key'), join(dir, 'b.key'));
  await t.throwsAsync(store.load('b'), { message: /does not open/ });
  t.truthy(b);
});

test('wipe zeroes the KEKs the store holds: nothing sealed opens after it', async (t) => {
  const dir = join(await tempDir(t), 'keys');
  const kek = randomBytes(32);
  const previous = randomBytes(32);
  const store = new KeyStore(dir, kek, previous);
  await store.create('v');
  store.wipe();
  t.deepEqual(kek, Buffer.alloc(32));
  t.deepEqual(previous, Buffer.alloc(32));
  await t.throwsAsync(store.load('v'), { message: /the key store was closed/ });
  await t.throwsAsync(store.create('w'), { message: /the key store was closed/ }, 'nothing is sealed under a zeroed KEK');
});

test('KEK rotation: keys open with the new or the previous KEK; reseal moves each under the new one, atomically, staged keys too', async (t) => {
  const dir = join(await tempDir(t), 'keys');
  const oldKek = randomBytes(32);
  const newKek = randomBytes(32);
  const plainKey = await new KeyStore(dir, undefined).create('made-before-any-kek');
  const sealedKey = await new KeyStore(dir, oldKek).create('sealed-old');
  await new KeyStore(dir, oldKek).stageNext('sealed-old');
  const rotating = new KeyStore(dir, newKek, oldKek);
  t.deepEqual(await rotating.load('sealed-old'), sealedKey, 'the previous KEK still opens');
  t.is(await rotating.sealing('sealed-old'), 'previous');
  t.is(await rotating.sealing('made-before-any-kek'), 'unsealed');
  t.is(await rotating.reseal('sealed-old'), 'previous');
  t.is(await rotating.reseal('made-before-any-kek'), 'unsealed');
  t.is(await rotating.reseal('sealed-old'), 'current', 'a second reseal changes nothing');
  const after = new KeyStore(dir, newKek);
  t.deepEqual(await after.load('sealed-old'), sealedKey, 'the new KEK alone opens it');
  t.deepEqual(await after.load('made-before-any-kek'), plainKey);
  t.truthy(await after.loadStaged('sealed-old', 'next'), "a rekey's staged key was resealed too");
  await t.throwsAsync(new KeyStore(dir, oldKek).load('sealed-old'), { message: /does not open with the configured key-encryption key/ });
  t.false((await readFile(join(dir, 'made-before-any-kek.key'))).includes(plainKey), 'no plaintext left in the file');
  t.deepEqual(
    (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
    [],
  );
  t.is(await new KeyStore(dir, randomBytes(32)).sealing('sealed-old'), 'unreadable');
});
