import test from 'ava';
import { recoverHost, sweepLeases } from '../../src/volumes/recover.js';
import { idOf, newRig, restart, type Rig } from '../helpers/fakes.js';
import { SMALL, ageLease, breakStateDir, expectFacts, factsOf, isGone, isWhole, rejects } from '../helpers/fast-checks.js';

// A step that fails undoes the steps before it: the host is left as it was,
// and the state in memory never runs ahead of the state on disk. State
// writes fail without root: the state directory is replaced by a file, so
// every write fails with ENOTDIR.

const V = 'data';

async function withVolume(t: Parameters<typeof newRig>[0], grace = 60_000): Promise<Rig> {
  const rig = await newRig(t, { leaseGraceMs: grace });
  await rig.service.create(V, SMALL);
  return rig;
}

/** Memory is what the disk holds: after the directory is repaired, a restart reads the same records. */
async function memoryMatchesDisk(t: Parameters<typeof newRig>[0], rig: Rig, repair: () => Promise<void>): Promise<void> {
  const inMemory = rig.state.all();
  await repair();
  const reopened = await restart(rig);
  t.deepEqual(reopened.state.all(), inMemory, 'memory never runs ahead of disk');
}

test('a Mount whose lease cannot be saved fails with STATE_FAILED and unmounts again', async (t) => {
  const rig = await withVolume(t);
  const broken = await breakStateDir(rig);
  await rejects(
    t,
    rig.service.mount(V, 'm1'),
    'STATE_FAILED',
    /could not record the mount: the plugin's state could not be saved \(.*ENOTDIR/,
  );
  await expectFacts(t, rig, V, { listed: true, active: false, leases: {} });
  t.is(rig.backing.callsOf('deactivate').length, 1);
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('a Mount of a mounted volume whose lease cannot be saved leaves the other lease mounted', async (t) => {
  const rig = await withVolume(t);
  await rig.service.mount(V, 'a');
  const broken = await breakStateDir(rig);
  await rejects(t, rig.service.mount(V, 'b'), 'STATE_FAILED');
  await expectFacts(t, rig, V, { active: true, leases: { a: 1 } });
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('a Create whose record cannot be saved leaves no directory and no record', async (t) => {
  const rig = await newRig(t);
  const broken = await breakStateDir(rig);
  await rejects(t, rig.service.create(V, SMALL), 'STATE_FAILED', /could not record the volume/);
  t.true(isGone(await factsOf(rig, V)), JSON.stringify(await factsOf(rig, V)));
  t.is(rig.backing.callsOf('destroy').length, 1);
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('an Unmount that cannot be saved keeps the lease and the mount', async (t) => {
  const rig = await withVolume(t);
  await rig.service.mount(V, 'm1');
  const broken = await breakStateDir(rig);
  await rejects(t, rig.service.unmount(V, 'm1'), 'STATE_FAILED', /could not record the unmount/);
  await expectFacts(t, rig, V, { active: true, leases: { m1: 1 } });
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('a Remove that cannot forget the volume puts its directory back', async (t) => {
  const rig = await withVolume(t);
  const broken = await breakStateDir(rig);
  await rejects(t, rig.service.remove(V), 'STATE_FAILED', /could not forget the volume/);
  t.true(isWhole(await factsOf(rig, V)), JSON.stringify(await factsOf(rig, V)));
  t.is(rig.backing.callsOf('destroy').length, 0);
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('a Remove whose release of a stale lease cannot be saved changes nothing', async (t) => {
  const rig = await withVolume(t);
  await rig.service.mount(V, 'm1');
  await ageLease(rig, V, 'm1', 120_000);
  const broken = await breakStateDir(rig);
  await rejects(t, rig.service.remove(V), 'STATE_FAILED', /could not record the released leases/);
  await expectFacts(t, rig, V, { listed: true, dir: true, active: true, leases: { m1: 1 } });
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('start-up recovery that cannot save a released lease keeps the lease and the mount, and reports the volume', async (t) => {
  const first = await withVolume(t);
  await first.service.mount(V, 'm1');
  await ageLease(first, V, 'm1', 120_000);
  const rig = await restart(first);
  const broken = await breakStateDir(rig);
  const report = await recoverHost(rig.service, rig.log);
  t.deepEqual(report.failed, [V]);
  await expectFacts(t, rig, V, { active: true, leases: { m1: 1 } });
  await memoryMatchesDisk(t, rig, broken.repair);
});

test('when the undo fails too, the error says which clean-up failed', async (t) => {
  const rig = await withVolume(t);
  await breakStateDir(rig);
  rig.backing.failNext('deactivate');
  await rejects(t, rig.service.mount(V, 'm1'), 'STATE_FAILED', /clean-up also failed at: unmount again/);
  await expectFacts(t, rig, V, { active: true, leases: {} });
});

test('a Create whose storage cannot be provisioned leaves nothing', async (t) => {
  const rig = await newRig(t);
  rig.backing.failNext('create', 'mkfs: No space left on device');
  await rejects(t, rig.service.create(V, SMALL), 'BACKING_FAILED', /could not provision storage: mkfs: No space left on device/);
  t.true(isGone(await factsOf(rig, V)));
});

test('a Mount that cannot mount records no lease', async (t) => {
  const rig = await withVolume(t);
  rig.backing.failNext('activate');
  await rejects(t, rig.service.mount(V, 'm1'), 'BACKING_FAILED', /could not be mounted/);
  await expectFacts(t, rig, V, { active: false, leases: {} });
});

test('a Remove that cannot unmount keeps the volume', async (t) => {
  const rig = await withVolume(t);
  rig.backing.active.add(idOf(V));
  rig.backing.failNext('deactivate', 'umount: target is busy');
  await rejects(t, rig.service.remove(V), 'BACKING_FAILED', /could not be unmounted: umount: target is busy/);
  t.true(isWhole(await factsOf(rig, V)));
});

test('a Remove whose storage cannot be deleted is no longer listed, and the next Remove finishes it', async (t) => {
  const rig = await withVolume(t);
  rig.backing.failNext('destroy');
  await rejects(
    t,
    rig.service.remove(V),
    'BACKING_FAILED',
    /no longer listed; the next remove of this name, or the next start, finishes deleting it/,
  );
  const facts = await factsOf(rig, V);
  t.false(facts.listed);
  t.is(facts.pending.length, 1);
  await rig.service.remove(V);
  t.true(isGone(await factsOf(rig, V)));
});

test('an Unmount that cannot unmount fails, and the periodic check releases the mount later', async (t) => {
  const rig = await withVolume(t);
  await rig.service.mount(V, 'm1');
  rig.backing.failNext('deactivate');
  await rejects(t, rig.service.unmount(V, 'm1'), 'BACKING_FAILED', /could not be unmounted/);
  await expectFacts(t, rig, V, { active: true, leases: {} });
  t.deepEqual(await sweepLeases(rig.service, rig.log), [V]);
  await expectFacts(t, rig, V, { active: false, leases: {} });
});
