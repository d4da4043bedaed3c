import test from 'ava';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_FILE_NAME } from '../../src/state/layout.js';
import { StateStore } from '../../src/state/store.js';
import { STATE_VERSION } from '../../src/state/schema.js';
import { volumeId } from '../../src/state/volume-id.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { lease, plainRecord as record } from '../helpers/records.js';

test('a reopened store has every volume and lease written before', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  const store = await StateStore.open(dir);
  await store.put(record('a', { X: lease(2) }));
  await store.put(record('b'));
  await store.delete('b');
  const reopened = await StateStore.open(dir);
  t.deepEqual(reopened.all(), [record('a', { X: lease(2) })]);
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

test('a corrupt state file is moved aside, never overwritten, and reported (the disk rebuilds it)', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  await writeFile(join(dir, STATE_FILE_NAME), '{"version":1,"volu');
  const store = await StateStore.open(dir);
  t.is(store.origin, 'corrupt');
  t.deepEqual(store.all(), []);
  const kept = (await readdir(dir)).filter((f) => f.startsWith(`${STATE_FILE_NAME}.corrupt-`));
  t.is(kept.length, 1);
  t.is(await readFile(join(dir, kept[0]!), 'utf8'), '{"version":1,"volu');
});

for (const [what, text] of [
  ['an empty object', '{}'],
  ['null', 'null'],
  ['a list', '[]'],
  ['no volumes table', '{"version":2}'],
]) {
  test(`a state file that is JSON but not a state (${what}) is moved aside and rebuilt, not fatal`, async (t) => {
    const dir = await makeTempDir('state');
    t.teardown(() => removeTempDir(dir));
    await writeFile(join(dir, STATE_FILE_NAME), text!);
    const store = await StateStore.open(dir);
    t.is(store.origin, 'corrupt');
    t.is((await readdir(dir)).filter((f) => f.startsWith(`${STATE_FILE_NAME}.corrupt-`)).length, 1);
  });
}

test('missing and empty state files are told apart from an intact one', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  t.is((await StateStore.open(dir)).origin, 'missing');
  await writeFile(join(dir, STATE_FILE_NAME), '');
  t.is((await StateStore.open(dir)).origin, 'empty');
  await (await StateStore.open(dir)).put(record('a'));
  t.is((await StateStore.open(dir)).origin, 'intact');
});

test('a bad record is reported and skipped; the others load', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  const good = record('good');
  const volumes = {
    good,
    wrongId: { ...record('wrongId'), id: volumeId('other') },
    badSpec: { ...record('badSpec'), spec: { type: 'plain', fs: 'ntfs', sizeBytes: 1 } },
    badLease: record('badLease', { X: { count: -1, since: 'yesterday', boot: 'b' } }),
    misfiled: record('elsewhere'),
    notObject: 42,
  };
  await writeFile(join(dir, STATE_FILE_NAME), JSON.stringify({ version: STATE_VERSION, volumes }));
  const store = await StateStore.open(dir);
  t.deepEqual(store.all(), [good]);
  t.deepEqual(store.problems.map((p) => p.name).sort(), ['badLease', 'badSpec', 'misfiled', 'notObject', 'wrongId']);
  t.regex(store.problems.find((p) => p.name === 'wrongId')!.problem, /does not match the name/);
});

test('schema 1 leases (bare counts) are migrated with an unknown boot', async (t) => {
  const dir = await makeTempDir('state');
  t.teardown(() => removeTempDir(dir));
  const v1 = { ...record('old'), leases: { A: 2 } };
  await writeFile(join(dir, STATE_FILE_NAME), JSON.stringify({ version: 1, volumes: { old: v1 } }));
  const store = await StateStore.open(dir);
  t.like(store.get('old')?.leases['A'], { count: 2, boot: '' });
  t.deepEqual(store.problems, []);
});
