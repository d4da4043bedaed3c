import test from 'ava';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StateStore, STATE_FILE_NAME } from '../../src/state/store.js';
import { STATE_VERSION, type VolumeRecord } from '../../src/state/schema.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

function record(name: string, leases: Record<string, number> = {}): VolumeRecord {
  return { name, id: `${name}-id`, spec: { type: 'plain', fs: 'ext4', sizeBytes: 1 << 24 }, createdAt: '2026-01-01T00:00:00.000Z', leases };
}

test('a reopened store has every volume and lease written before', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  const store = await StateStore.open(dir);
  await store.put(record('a', { X: 2 }));
  await store.put(record('b'));
  await store.delete('b');
  const reopened = await StateStore.open(dir);
  t.deepEqual(reopened.all(), [record('a', { X: 2 })]);
  const file = JSON.parse(await readFile(join(dir, STATE_FILE_NAME), 'utf8')) as { version: number };
  t.is(file.version, STATE_VERSION);
});

test('the state file is private and no temp files are left', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  const store = await StateStore.open(dir);
  await Promise.all(Array.from({ length: 50 }, (_, i) => store.put(record(`v${i}`))));
  t.deepEqual(await readdir(dir), [STATE_FILE_NAME]);
  t.is((await stat(join(dir, STATE_FILE_NAME))).mode & 0o777, 0o600);
  t.is((await StateStore.open(dir)).all().length, 50);
});

test('names that look like prototype keys are stored as volumes', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  const store = await StateStore.open(dir);
  await store.put(record('__proto__'));
  await store.put(record('constructor'));
  const reopened = await StateStore.open(dir);
  t.is(reopened.get('__proto__')?.name, '__proto__');
  t.is(reopened.get('constructor')?.name, 'constructor');
  t.is(reopened.get('toString'), undefined);
  t.is(reopened.all().length, 2);
});

test('a state file from a newer plugin is refused, not misread', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  await writeFile(join(dir, STATE_FILE_NAME), JSON.stringify({ version: STATE_VERSION + 1, volumes: {} }));
  await t.throwsAsync(StateStore.open(dir), { message: /newer than this plugin/ });
});

test('a corrupt state file stops start-up instead of starting empty', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  await writeFile(join(dir, STATE_FILE_NAME), '{"version":1,"volu');
  await t.throwsAsync(StateStore.open(dir));
});

test('a change that cannot be written is taken back: memory never runs ahead of disk', async (t) => {
  const { execa } = await import('execa');
  const dir = await makeTempDir('state');
  t.teardown(async () => {
    await execa('chattr', ['-i', dir], { reject: false });
    await removeTempDir(dir);
  });
  const store = await StateStore.open(dir);
  await store.put(record('kept'));
  // Immutable directory: even root cannot create the temp file, so the write really fails.
  await execa('chattr', ['+i', dir]);
  await t.throwsAsync(store.put(record('lost')));
  t.is(store.get('lost'), undefined);
  await t.throwsAsync(store.delete('kept'));
  t.truthy(store.get('kept'));
  await execa('chattr', ['-i', dir]);
  t.deepEqual((await StateStore.open(dir)).all().map((r) => r.name), ['kept']);
});
