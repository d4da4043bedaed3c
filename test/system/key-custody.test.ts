import test from 'ava';
import { execa } from 'execa';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { kekFindings, sealingCounts } from '../../src/keys/custody.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { VolumeRecord } from '../../src/state/schema.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// Where the KEK lies against the key store, judged on real filesystems: a
// tmpfs mounted here is another filesystem, a directory beside the state is not.

async function layout(t: { teardown: (fn: () => Promise<void>) => void }) {
  const root = await makeTempDir('custody');
  const stateDir = join(root, 'state');
  const keyDir = join(stateDir, 'keys');
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const apart = join(root, 'apart');
  await mkdir(apart);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1M,mode=0700', 'custody-kek', apart]);
  t.teardown(async () => {
    await execa('umount', [apart], { reject: false });
    await removeTempDir(root);
  });
  for (const dir of [stateDir, root, apart]) await writeFile(join(dir, 'kek'), randomBytes(32), { mode: 0o400 });
  return { root, stateDir, keyDir, apart };
}

test('a KEK on its own filesystem is fine; beside the key store a warning; inside the state directory a problem', async (t) => {
  const { root, stateDir, keyDir, apart } = await layout(t);
  t.not((await stat(apart)).dev, (await stat(keyDir)).dev, 'the tmpfs is another filesystem');
  t.deepEqual(await kekFindings({ kekFile: join(apart, 'kek'), stateDir, keyDir }), []);
  t.deepEqual(
    (await kekFindings({ kekFile: join(root, 'kek'), stateDir, keyDir })).map((f) => [f.severity, f.what]),
    [['warning', `CUSTOM_KEK_FILE is on the same filesystem as the key store (${keyDir})`]],
  );
  t.deepEqual(
    (await kekFindings({ kekFile: join(stateDir, 'kek'), kekPreviousFile: join(root, 'kek'), stateDir, keyDir })).map((f) => [
      f.severity,
      f.what,
    ]),
    [
      ['problem', "CUSTOM_KEK_FILE lies inside the plugin's state directory, with the keys it seals"],
      ['warning', `CUSTOM_KEK_PREVIOUS_FILE is on the same filesystem as the key store (${keyDir})`],
    ],
  );
  t.deepEqual(await kekFindings({ stateDir, keyDir }), [], 'no KEK: nothing to place');
  // A link outside that leads inside is inside; a file named "..kek" in the state directory is inside too.
  await symlink(join(stateDir, 'kek'), join(apart, 'link'));
  await writeFile(join(stateDir, '..kek'), randomBytes(32), { mode: 0o400 });
  for (const kekFile of [join(apart, 'link'), join(stateDir, '..kek')]) {
    t.is((await kekFindings({ kekFile, stateDir, keyDir }))[0]?.severity, 'problem', kekFile);
  }
});

test('the start-up counts say how each generated key is kept, never what it is', async (t) => {
  const { keyDir } = await layout(t);
  const kek = randomBytes(32);
  const record = (id: string, keyfile?: string): VolumeRecord =>
    ({
      name: id,
      id,
      createdAt: '2026-01-01T00:00:00.000Z',
      leases: {},
      spec: {
        type: 'encrypted',
        sizeBytes: 1,
        fs: 'ext4',
        cipher: 'aes-xts-plain64',
        keySizeBits: 512,
        keySource: 'generated',
        ...(keyfile ? { keyfile } : {}),
      },
    }) as unknown as VolumeRecord;
  (await new KeyStore(keyDir, undefined).create('old')).fill(0);
  (await new KeyStore(keyDir, kek).create('new')).fill(0);
  const counts = await sealingCounts(
    [
      record('old'),
      record('new'),
      record('lost'),
      record('own', '/etc/own.key'),
      { ...record('p'), spec: { type: 'plain' } } as unknown as VolumeRecord,
    ],
    new KeyStore(keyDir, kek),
  );
  t.deepEqual(counts, { current: 1, previous: 0, unsealed: 1, unreadable: 1, keyfile: 1 });
});

test('retain=true moves a key to another filesystem: copied durably, then unlinked; a retry after a crash in between finishes', async (t) => {
  const { root, apart } = await layout(t);
  const keyDir = join(apart, 'keys'); // the key store on the tmpfs, the retained data elsewhere: rename(2) gives EXDEV
  const retained = join(root, 'retained');
  await mkdir(retained);
  const store = new KeyStore(keyDir, undefined);
  const key = await store.create('v');
  await store.moveTo('v', join(retained, 'volume.key'));
  t.deepEqual(await readFile(join(retained, 'volume.key')), key);
  t.is((await stat(join(retained, 'volume.key'))).mode & 0o777, 0o400);
  t.deepEqual(await readdir(keyDir), [], 'the key left the key store, no temp file either');
  await t.notThrowsAsync(store.moveTo('v', join(retained, 'volume.key')), 'done already: a retried Remove succeeds');

  // Killed after the copy, before the unlink: both are there, the copy maybe stale or partial.
  const again = await store.create('w');
  await writeFile(join(retained, 'w.key'), 'partial', { mode: 0o400 });
  await store.moveTo('w', join(retained, 'w.key'));
  t.deepEqual(await readFile(join(retained, 'w.key')), again);
  t.deepEqual(await readdir(keyDir), []);
});
