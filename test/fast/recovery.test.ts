import test from 'ava';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recoverHost, sweepLeases, type RecoveryReport } from '../../src/volumes/recover.js';
import { CREATING_DIR, TRASH_DIR } from '../../src/state/layout.js';
import { FAKE_IMAGE, idOf, newRig, reboot, restart, WARN, type Rig } from '../helpers/fakes.js';
import { SMALL, ageLease, expectFacts, factsOf, isGone, isWhole } from '../helpers/fast-checks.js';

// Start-up recovery (recoverHost, after the socket listens) and the periodic
// check (sweepLeases): leases are checked against the host's real users.

const V = 'data';
const id = idOf(V);

interface Case {
  /** On the first incarnation, after creating V. */
  readonly before: (rig: Rig) => Promise<void>;
  readonly restartAs: 'crash' | 'reboot';
  /** On the new incarnation, before recovery. */
  readonly setUp?: (rig: Rig) => void;
  readonly leases: Record<string, number>;
  readonly active: boolean;
  readonly report: Partial<Pick<RecoveryReport, 'reactivated' | 'released'>>;
}

const mountM1 = async (rig: Rig) => void (await rig.service.mount(V, 'm1'));
const staleM1 = async (rig: Rig) => {
  await rig.service.mount(V, 'm1');
  await ageLease(rig, V, 'm1', 120_000);
};

const cases: Array<[string, Case]> = [
  [
    'after a reboot, leases of the earlier boot are void and nothing is mounted again',
    { before: mountM1, restartAs: 'reboot', leases: {}, active: false, report: { reactivated: [], released: [] } },
  ],
  [
    'after a plugin crash, a stale lease with no user is released and the volume unmounted',
    { before: staleM1, restartAs: 'crash', leases: {}, active: false, report: { released: [V] } },
  ],
  [
    'a young lease (a Mount in flight) keeps its volume mounted',
    { before: mountM1, restartAs: 'crash', leases: { m1: 1 }, active: true, report: { released: [], reactivated: [] } },
  ],
  [
    'a lease a real user backs is kept however old',
    {
      before: staleM1,
      restartAs: 'crash',
      setUp: (rig) => rig.host.users.set(id, 1),
      leases: { m1: 1 },
      active: true,
      report: { released: [] },
    },
  ],
  [
    'a volume still leased but no longer mounted is mounted again',
    {
      before: async (rig) => {
        await mountM1(rig);
        rig.backing.active.delete(id);
      },
      restartAs: 'crash',
      leases: { m1: 1 },
      active: true,
      report: { reactivated: [V] },
    },
  ],
  [
    'a mounted volume with no lease and no user is unmounted',
    { before: async (rig) => void rig.backing.active.add(id), restartAs: 'crash', leases: {}, active: false, report: { released: [V] } },
  ],
  [
    'a mounted volume with no lease but a user is kept mounted',
    {
      before: async (rig) => void rig.backing.active.add(id),
      restartAs: 'crash',
      setUp: (rig) => rig.host.users.set(id, 1),
      leases: {},
      active: true,
      report: { released: [] },
    },
  ],
  [
    'when the host cannot be read, a stale lease is kept and its volume mounted again',
    {
      before: async (rig) => {
        await staleM1(rig);
        rig.backing.active.delete(id);
      },
      restartAs: 'crash',
      setUp: (rig) => void (rig.host.scanFails = true),
      leases: { m1: 1 },
      active: true,
      report: { released: [], reactivated: [V] },
    },
  ],
  [
    'when the host cannot be read, a mounted volume with no lease is kept mounted',
    {
      before: async (rig) => void rig.backing.active.add(id),
      restartAs: 'crash',
      setUp: (rig) => void (rig.host.scanFails = true),
      leases: {},
      active: true,
      report: { released: [] },
    },
  ],
];

for (const [title, c] of cases) {
  test(`start-up: ${title}`, async (t) => {
    const first = await newRig(t);
    await first.service.create(V, SMALL);
    await c.before(first);
    const rig = c.restartAs === 'crash' ? await restart(first) : await reboot(first);
    c.setUp?.(rig);
    const report = await recoverHost(rig.service, rig.log);
    await expectFacts(t, rig, V, { listed: true, leases: c.leases, active: c.active });
    const expected = { ...c.report, failed: [], unknown: [] };
    t.deepEqual(Object.fromEntries(Object.keys(expected).map((key) => [key, report[key as keyof RecoveryReport]])), expected);
  });
}

test('start-up: a released lease is logged at warn with its mount ID', async (t) => {
  const first = await newRig(t);
  await first.service.create(V, SMALL);
  await staleM1(first);
  const rig = await restart(first);
  await recoverHost(rig.service, rig.log);
  const line = rig.logs.find((entry) => entry.level === WARN && entry.msg === 'released stale mount leases');
  t.deepEqual(line?.['released'], [{ id: 'm1', reason: 'no-user' }]);
  t.is(line?.['volume'], V);
});

test('start-up: a volume a request touched since start is left to that request', async (t) => {
  const first = await newRig(t, { leaseGraceMs: 0 });
  await first.service.create(V, SMALL);
  const rig = await restart(first);
  // With no grace period this lease has no user and would be stale at once.
  await rig.service.mount(V, 'fresh');
  const report = await recoverHost(rig.service, rig.log);
  await expectFacts(t, rig, V, { leases: { fresh: 1 }, active: true });
  t.deepEqual(report.released, []);
});

test('start-up: live ids of volumes we do not know are reported and never touched', async (t) => {
  const rig = await newRig(t);
  rig.backing.active.add('stranger-0123456789abcdef');
  const report = await recoverHost(rig.service, rig.log);
  t.deepEqual(report.unknown, ['stranger-0123456789abcdef']);
  t.true(rig.backing.active.has('stranger-0123456789abcdef'));
  t.deepEqual(
    rig.backing.calls.filter((call) => call.id === 'stranger-0123456789abcdef'),
    [],
  );
});

test('start-up: one volume failing does not stop the others', async (t) => {
  const first = await newRig(t);
  for (const name of ['a', 'b']) {
    await first.service.create(name, SMALL);
    await first.service.mount(name, 'm');
  }
  first.backing.active.clear();
  const rig = await restart(first);
  rig.backing.failNext('activate');
  const report = await recoverHost(rig.service, rig.log);
  t.is(report.failed.length, 1);
  t.is(report.reactivated.length, 1);
  t.is(rig.backing.active.size, 1);
});

test('start-up: an interrupted create is discarded and an interrupted remove finished', async (t) => {
  const first = await newRig(t);
  await first.service.create('gone', SMALL);
  const staging = join(first.roots.dataDir, CREATING_DIR, `${idOf('half')}.0a0b0c0d`);
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, FAKE_IMAGE), 'half made');
  await mkdir(join(first.roots.dataDir, TRASH_DIR));
  await rename(join(first.roots.dataDir, idOf('gone')), join(first.roots.dataDir, TRASH_DIR, `${idOf('gone')}.x1`));
  const rig = await restart(first);
  const report = await recoverHost(rig.service, rig.log);
  t.deepEqual(report.finished.sort(), [`create of ${idOf('half')}`, 'remove of gone']);
  t.deepEqual(
    rig.host.discarded.map((call) => [call.id, call.ownsIdentity]),
    [[idOf('half'), true]],
  );
  t.true(isGone(await factsOf(rig, 'gone')));
  t.true(isGone(await factsOf(rig, 'half')));
  t.is(rig.backing.callsOf('destroy', idOf('gone')).length, 1);
});

// The periodic check: [title, lease age (ms), users, host readable, mounted before, leases after, mounted after, released]
const sweeps: Array<[string, number | undefined, number, boolean, boolean, string[], boolean, boolean]> = [
  ['a stale lease with no user is released and the volume unmounted', 120_000, 0, true, true, [], false, true],
  ['a young lease is kept', 0, 0, true, true, ['m1'], true, false],
  ['a lease with a real user is kept however old', 120_000, 1, true, true, ['m1'], true, false],
  ['nothing is released while the host cannot be read', 120_000, 0, false, true, ['m1'], true, false],
  ['a leased volume that is not mounted is not mounted again', 0, 0, true, false, ['m1'], false, false],
  ['a mounted volume with no lease and no user is unmounted', undefined, 0, true, true, [], false, true],
  ['a mounted volume with no lease but a user stays mounted', undefined, 1, true, true, [], true, false],
];
for (const [title, age, users, readable, mounted, leases, mountedAfter, released] of sweeps) {
  test(`periodic check: ${title}`, async (t) => {
    const rig = await newRig(t);
    await rig.service.create(V, SMALL);
    if (age !== undefined) {
      await rig.service.mount(V, 'm1');
      await ageLease(rig, V, 'm1', age);
    }
    if (mounted) rig.backing.active.add(id);
    else rig.backing.active.delete(id);
    rig.host.users.set(id, users);
    rig.host.scanFails = !readable;
    const result = await sweepLeases(rig.service, rig.log);
    t.deepEqual(result, released ? [V] : []);
    t.deepEqual(Object.keys((await factsOf(rig, V)).leases), leases);
    t.is(rig.backing.active.has(id), mountedAfter);
    t.is(rig.backing.callsOf('activate').length, age === undefined ? 0 : 1, 'only the Mount itself mounted');
  });
}

// Leftovers in .trash/ from the review of the crash windows.
test('an interrupted remove of an older volume of the same name leaves the newer one alone', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  await rig.service.mount(V, 'live');
  // The files of an earlier volume of this name, its Remove killed after the commit.
  const trash = join(rig.roots.dataDir, TRASH_DIR, `${id}.older`);
  await mkdir(trash, { recursive: true });
  const meta = JSON.parse(await readFile(join(rig.roots.dataDir, id, 'volume.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(trash, 'volume.json'), JSON.stringify({ ...meta, createdAt: '2020-01-01T00:00:00.000Z' }));
  await writeFile(join(trash, FAKE_IMAGE), 'old data');
  const next = await restart(rig);
  const report = await recoverHost(next.service, next.log);
  t.deepEqual(report.failed, []);
  await expectFacts(t, next, V, { listed: true, dir: true, active: true, leases: { live: 1 } });
  t.is(next.backing.callsOf('destroy').length, 0, "the live volume's storage was not destroyed");
  t.deepEqual(await readdir(join(rig.roots.dataDir, TRASH_DIR)), []);
});

test('an interrupted remove whose volume.json was already deleted is finished by id', async (t) => {
  const rig = await newRig(t);
  const trash = join(rig.roots.dataDir, TRASH_DIR, `${id}.halfdeleted`);
  await mkdir(trash, { recursive: true });
  await writeFile(join(trash, FAKE_IMAGE), 'left over');
  const report = await recoverHost(rig.service, rig.log);
  t.deepEqual(report.failed, []);
  t.deepEqual(
    rig.host.discarded.map((d) => [d.id, d.ownsIdentity]),
    [[id, true]],
  );
  t.deepEqual(await readdir(join(rig.roots.dataDir, TRASH_DIR)), []);
  await rig.service.create(V, SMALL);
  t.true(isWhole(await factsOf(rig, V)), 'the name is free again');
});
