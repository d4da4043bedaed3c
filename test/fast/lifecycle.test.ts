import test from 'ava';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeErrorCode } from '../../src/volumes/errors.js';
import { CREATING_DIR, META_FILE, TRASH_DIR } from '../../src/state/layout.js';
import { FAKE_IMAGE, idOf, newRig, restart } from '../helpers/fakes.js';
import { SMALL, factsOf, isGone, isWhole, rejects } from '../helpers/fast-checks.js';

// Create and Remove one at a time: what they leave on disk and in state.

const V = 'data';
const MiB = 1024 ** 2;

test('Create leaves <data>/<id> with the storage and a volume.json, records it durably, and leaves no staging', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  t.true(isWhole(await factsOf(rig, V)));
  const meta = JSON.parse(await readFile(join(rig.roots.dataDir, idOf(V), META_FILE), 'utf8')) as Record<string, unknown>;
  t.deepEqual(meta, {
    version: 1,
    name: V,
    id: idOf(V),
    spec: { type: 'plain', fs: 'ext4', sizeBytes: 16 * MiB },
    createdAt: rig.state.get(V)?.createdAt,
  });
  t.deepEqual(await readdir(join(rig.roots.dataDir, CREATING_DIR)).catch(() => []), []);
  t.deepEqual((await restart(rig)).state.get(V), rig.state.get(V));
  const [call] = rig.backing.callsOf('create');
  t.true(call?.dir.startsWith(join(rig.roots.dataDir, CREATING_DIR, `${idOf(V)}.`)), 'built in .creating/, then renamed into place');
});

// [title, name, options, code]
const invalid: Array<[string, string, Record<string, string>, VolumeErrorCode]> = [
  ['an empty name', '', {}, 'INVALID_NAME'],
  ['a name with a control character', 'a\u0007b', {}, 'INVALID_NAME'],
  ['an unknown option', V, { colour: 'blue' }, 'INVALID_OPTION'],
  ['a size below the minimum', V, { size: '1M' }, 'INVALID_OPTION'],
  ['a secret as an option', V, { type: 'encrypted', passphrase: 'hunter2' }, 'INVALID_OPTION'],
];
for (const [title, name, options, code] of invalid) {
  test(`Create with ${title} is refused before anything is touched`, async (t) => {
    const rig = await newRig(t);
    const error = await rejects(t, rig.service.create(name, options), code);
    t.false((error?.message ?? '').includes('hunter2'), 'a secret value is never echoed');
    t.deepEqual(rig.backing.calls, []);
    t.deepEqual(await readdir(rig.roots.dataDir).catch(() => []), []);
    t.deepEqual(rig.state.all(), []);
  });
}

test('Create again with the same options succeeds and changes nothing; with other options it is VOLUME_EXISTS', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, { size: '16M' });
  const before = rig.state.get(V);
  await rig.service.create(V, { size: '16M', fs: 'ext4' });
  t.is(rig.state.get(V), before);
  await rejects(t, rig.service.create(V, { size: '32M' }), 'VOLUME_EXISTS', /already exists with other options/);
  t.is(rig.backing.callsOf('create').length, 1);
});

test('Create of a name whose directory exists without a record refuses and leaves the directory alone', async (t) => {
  const rig = await newRig(t);
  const dir = join(rig.roots.dataDir, idOf(V));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, FAKE_IMAGE), "someone else's data");
  await rejects(t, rig.service.create(V, SMALL), 'BACKING_FAILED', /already exists .* left untouched/);
  t.is(await readFile(join(dir, FAKE_IMAGE), 'utf8'), "someone else's data");
  t.is(rig.state.get(V), undefined);
});

test('Create first finishes an interrupted Remove of the same name', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  rig.backing.failNext('destroy');
  await rig.service.remove(V).catch(() => undefined);
  t.is((await factsOf(rig, V)).pending.length, 1);
  await rig.service.create(V, { size: '32M' });
  const facts = await factsOf(rig, V);
  t.true(isWhole(facts), JSON.stringify(facts));
  t.deepEqual(await readdir(join(rig.roots.dataDir, TRASH_DIR)).catch(() => []), []);
});

test('Remove deletes the record and the storage; a Remove of an unknown volume succeeds', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  await rig.service.remove(V);
  t.true(isGone(await factsOf(rig, V)));
  t.is((await restart(rig)).state.get(V), undefined);
  await t.notThrowsAsync(rig.service.remove('never-was'));
});

test('Get, List and Path answer from state; an unknown volume is VOLUME_NOT_FOUND', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  await rig.service.mount(V, 'm1');
  const mountpoint = join(rig.roots.mountDir, idOf(V), '_data');
  const info = await rig.service.get(V);
  t.like(info, { name: V, mountpoint, status: { type: 'plain', leases: 1, mounted: true, size: '16 MiB' } });
  t.deepEqual(await rig.service.list(), [{ name: V, mountpoint }]);
  t.is(await rig.service.path(V), mountpoint);
  await rejects(t, rig.service.get('nope'), 'VOLUME_NOT_FOUND');
  await rejects(t, rig.service.path('nope'), 'VOLUME_NOT_FOUND');
  await rejects(t, rig.service.mount('nope', 'm1'), 'VOLUME_NOT_FOUND');
});
