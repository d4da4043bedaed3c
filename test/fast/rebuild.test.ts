import test from 'ava';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { META_FILE, STATE_FILE_NAME } from '../../src/state/layout.js';
import type { StateOrigin } from '../../src/state/store.js';
import { readVolumeMeta } from '../../src/state/volume-meta.js';
import { UnaccountedVolumesError } from '../../src/volumes/rebuild.js';
import { ERROR, WARN, idOf, makeService, newRig, restart, type Rig } from '../helpers/fakes.js';
import { SMALL, expectFacts, factsOf, isGone, isWhole } from '../helpers/fast-checks.js';

// rebuildFromDisk runs before the plugin listens: state.json is an index
// checked against the volume directories, rebuilt from each volume.json.

async function twoVolumes(t: Parameters<typeof newRig>[0]): Promise<Rig> {
  const rig = await newRig(t);
  await rig.service.create('a', SMALL);
  await rig.service.create('b', { size: '32M' });
  await rig.service.mount('a', 'm1');
  return rig;
}

const stateFile = (rig: Rig) => join(rig.stateDir, STATE_FILE_NAME);

const damages: Array<[StateOrigin, (rig: Rig) => Promise<void>]> = [
  ['missing', (rig) => rm(stateFile(rig))],
  ['empty', (rig) => writeFile(stateFile(rig), '')],
  ['corrupt', (rig) => writeFile(stateFile(rig), '{"version": 2, "volu')],
];
for (const [origin, damage] of damages) {
  test(`state.json ${origin}: every volume is rebuilt from its volume.json, without leases, and saved`, async (t) => {
    const first = await twoVolumes(t);
    await damage(first);
    const rig = await restart(first);
    t.is(rig.state.origin, origin);
    t.deepEqual([...rig.rebuilt.rebuilt].sort(), ['a', 'b']);
    await expectFacts(t, rig, 'a', { listed: true, leases: {} });
    t.deepEqual(rig.state.get('b')?.spec, { type: 'plain', fs: 'ext4', sizeBytes: 32 * 1024 ** 2 });
    t.is(rig.state.get('a')?.createdAt, first.state.get('a')?.createdAt);
    const again = await restart(rig);
    t.is(again.state.origin, 'intact');
    t.deepEqual(again.rebuilt.rebuilt, []);
    t.is(again.state.all().length, 2);
    const moved = (await readdir(rig.stateDir)).filter((entry) => entry.startsWith(`${STATE_FILE_NAME}.corrupt-`));
    t.is(moved.length, origin === 'corrupt' ? 1 : 0, 'a corrupt file is moved aside, never overwritten');
  });
}

test('state.json listing fewer volumes than the disk: only the missing ones are rebuilt; the rest keep their leases', async (t) => {
  const first = await twoVolumes(t);
  const data = JSON.parse(await readFile(stateFile(first), 'utf8')) as { volumes: Record<string, unknown> };
  delete data.volumes['b'];
  await writeFile(stateFile(first), JSON.stringify(data));
  const rig = await restart(first);
  t.deepEqual(rig.rebuilt.rebuilt, ['b']);
  await expectFacts(t, rig, 'a', { leases: { m1: 1 } });
  t.true(isWhole(await factsOf(rig, 'b')));
});

test('a listed volume without volume.json gets one written from state', async (t) => {
  const first = await twoVolumes(t);
  await rm(join(first.roots.dataDir, idOf('a'), META_FILE));
  const rig = await restart(first);
  t.deepEqual(rig.rebuilt.described, ['a']);
  const meta = await readVolumeMeta(join(rig.roots.dataDir, idOf('a')));
  t.deepEqual('record' in meta ? meta.record : meta, { ...first.state.get('a')!, leases: {} });
});

// A directory nobody can name: [title, what is put into it]
const strangers: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
  ['no volume.json', async () => undefined, /no volume\.json/],
  ['a volume.json that is not JSON', (dir) => writeFile(join(dir, META_FILE), '{not json'), /not JSON/],
  ['a volume.json of an unknown version', (dir) => writeFile(join(dir, META_FILE), '{"version": 99}'), /no supported version/],
];
for (const [title, fill, problem] of strangers) {
  test(`a volume directory with ${title} that state does not list stops the start, naming it and the fix`, async (t) => {
    const first = await twoVolumes(t);
    const dir = join(first.roots.dataDir, 'stranger-0000000000000000');
    await mkdir(dir);
    await fill(dir);
    const error = await t.throwsAsync(restart(first), { instanceOf: UnaccountedVolumesError });
    t.true(error?.message.includes(dir), error?.message);
    t.regex(error?.message ?? '', problem);
    t.regex(
      error?.message ?? '',
      /restore state\.json .* from a backup, or, if a directory is not a volume of this plugin, move it out of the data directory/,
    );
  });
}

test('a volume.json naming another id does not account for its directory', async (t) => {
  const first = await twoVolumes(t);
  await rm(stateFile(first));
  const impostor = join(first.roots.dataDir, idOf('c'));
  await mkdir(impostor);
  await writeFile(join(impostor, META_FILE), await readFile(join(first.roots.dataDir, idOf('a'), META_FILE)));
  const error = await t.throwsAsync(restart(first), { instanceOf: UnaccountedVolumesError });
  t.regex(error?.message ?? '', new RegExp(`${impostor}: its volume.json names id ${idOf('a')}`));
});

test('a bad record in state.json is reported and skipped, and rebuilt from its volume.json', async (t) => {
  const first = await twoVolumes(t);
  const data = JSON.parse(await readFile(stateFile(first), 'utf8')) as { volumes: Record<string, { spec: { sizeBytes: unknown } }> };
  data.volumes['b']!.spec.sizeBytes = 'huge';
  await writeFile(stateFile(first), JSON.stringify(data));
  const rig = await restart(first);
  t.deepEqual(
    rig.state.problems.map((problem) => problem.name),
    ['b'],
  );
  t.true(rig.logs.some((line) => line.level === ERROR && line.msg === 'skipped a bad record in state.json' && line['volume'] === 'b'));
  t.deepEqual(rig.rebuilt.rebuilt, ['b']);
  t.true(isWhole(await factsOf(rig, 'b')));
  await expectFacts(t, rig, 'a', { leases: { m1: 1 } });
});

test('a listed volume whose directory is gone is reported missing', async (t) => {
  const first = await twoVolumes(t);
  await rm(join(first.roots.dataDir, idOf('b')), { recursive: true });
  const rig = await restart(first);
  t.deepEqual(rig.rebuilt.missing, ['b']);
  t.true(rig.logs.some((line) => line.level === ERROR && /storage directory is gone/.test(line.msg)));
});

test('lost+found and dot directories are not volumes', async (t) => {
  const first = await twoVolumes(t);
  await rm(stateFile(first));
  await mkdir(join(first.roots.dataDir, 'lost+found'));
  await mkdir(join(first.roots.dataDir, '.snapshots'));
  const rig = await restart(first);
  t.deepEqual([...rig.rebuilt.rebuilt].sort(), ['a', 'b']);
});

test('a rebuilt volume can be mounted, unmounted and removed', async (t) => {
  const first = await twoVolumes(t);
  await rm(stateFile(first));
  first.backing.active.clear();
  const rig = await makeService(first.root, { backing: first.backing, host: first.host });
  await rig.service.mount('b', 'm2');
  await rig.service.unmount('b', 'm2');
  await rig.service.remove('b');
  t.true(isGone(await factsOf(rig, 'b')));
  t.is((await restart(rig)).state.get('b'), undefined);
});

test("a state.json record that disagrees with the volume's volume.json (an old backup) is corrected from volume.json", async (t) => {
  const rig = await newRig(t);
  await rig.service.create('kept', { size: '32M' });
  const file = join(rig.stateDir, STATE_FILE_NAME);
  const state = JSON.parse(await readFile(file, 'utf8')) as { volumes: Record<string, { spec: { sizeBytes: number }; createdAt: string }> };
  state.volumes['kept']!.spec.sizeBytes = 16 * 1024 ** 2;
  state.volumes['kept']!.createdAt = '2020-01-01T00:00:00.000Z';
  await writeFile(file, JSON.stringify(state));
  const next = await restart(rig);
  t.deepEqual(next.rebuilt.corrected, ['kept']);
  const record = next.state.get('kept');
  t.is(record?.spec.type === 'replicated' ? 0 : record?.spec.sizeBytes, 32 * 1024 ** 2);
  t.not(record?.createdAt, '2020-01-01T00:00:00.000Z');
  t.true(next.logs.some((line) => line.level === WARN && /volume.json wins/.test(line.msg)));
});

test('a protection that state.json lost (a crash between the two writes, an old backup) comes back from volume.json', async (t) => {
  const rig = await newRig(t);
  await rig.service.create('guarded', { size: '32M', protect: 'true' });
  const file = join(rig.stateDir, STATE_FILE_NAME);
  const state = JSON.parse(await readFile(file, 'utf8')) as { volumes: Record<string, { protected?: boolean }> };
  t.true(state.volumes['guarded']!.protected, 'state.json records it');
  delete state.volumes['guarded']!.protected;
  await writeFile(file, JSON.stringify(state));
  const next = await restart(rig);
  t.deepEqual(next.rebuilt.corrected, ['guarded']);
  t.true(next.state.get('guarded')?.protected);
  await t.throwsAsync(next.service.remove('guarded'), { message: /volume "guarded": is protected against removal/ });
});
