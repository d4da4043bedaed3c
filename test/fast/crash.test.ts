import test, { type ExecutionContext } from 'ava';
import { recoverHost } from '../../src/volumes/recover.js';
import type { Checkpoint } from '../../src/volumes/checkpoints.js';
import { freezeAt, newRig, reboot, restart, throwAt, type Rig } from '../helpers/fakes.js';
import { SMALL, codeOf, expectFacts, factsOf, isGone, isWhole, settle } from '../helpers/fast-checks.js';

// A crash at each named step of Create, Mount, Unmount and Remove. "Frozen":
// the process stops for ever at the step (no undo runs, as with SIGKILL);
// "failed": the step throws and the service's undo runs. Either way, after a
// restart (new store and service over the same directories; mounts survive)
// or a reboot, and start-up recovery, the volume is whole or gone, usable and
// removable. No grace period: leases no container backs are stale at once.

const V = 'data';
type Op = 'create' | 'mount' | 'unmount' | 'remove';
type End = 'whole' | 'gone';

// [step, operation, end after a frozen crash, end after a failure]
const steps: Array<[string, Op, End, End]> = [
  ['create.provisioned', 'create', 'gone', 'gone'],
  ['create.committed', 'create', 'whole', 'gone'],
  ['create.recorded', 'create', 'whole', 'gone'],
  ['mount.activated', 'mount', 'whole', 'whole'],
  ['mount.recorded', 'mount', 'whole', 'whole'],
  ['unmount.recorded', 'unmount', 'whole', 'whole'],
  ['unmount.done', 'unmount', 'whole', 'whole'],
  ['remove.deactivated', 'remove', 'whole', 'whole'],
  ['remove.committed', 'remove', 'gone', 'gone'],
  ['remove.forgotten', 'remove', 'gone', 'gone'],
];

/** A service with V ready for `op`, whose checkpoint is `checkpoint`. */
async function armed(t: ExecutionContext, op: Op, checkpoint: Checkpoint): Promise<Rig> {
  const first = await newRig(t, { leaseGraceMs: 0 });
  if (op !== 'create') await first.service.create(V, SMALL);
  if (op === 'unmount') await first.service.mount(V, 'm1');
  return restart(first, { checkpoint });
}

function run(rig: Rig, op: Op): Promise<unknown> {
  if (op === 'create') return rig.service.create(V, SMALL);
  if (op === 'mount') return rig.service.mount(V, 'm1');
  if (op === 'unmount') return rig.service.unmount(V, 'm1');
  return rig.service.remove(V);
}

/** Whole (and idle) or gone as expected; then it can be used and removed, or made again. */
async function expectUsable(t: ExecutionContext, rig: Rig, end: End): Promise<void> {
  const facts = await factsOf(rig, V);
  t.true(end === 'whole' ? isWhole(facts) : isGone(facts), `expected ${end}: ${JSON.stringify(facts)}`);
  if (end === 'whole') {
    await expectFacts(t, rig, V, { active: false, leases: {} }, 'nothing left mounted for a mount nobody has');
    await rig.service.mount(V, 'after');
    await rig.service.unmount(V, 'after');
  } else {
    await rig.service.create(V, SMALL);
    t.true(isWhole(await factsOf(rig, V)));
  }
  await rig.service.remove(V);
  t.true(isGone(await factsOf(rig, V)), 'removable');
}

for (const [step, op, frozenEnd, failedEnd] of steps) {
  for (const how of ['restart', 'reboot'] as const) {
    test(`frozen at ${step}, then ${how}: the volume is ${frozenEnd}`, async (t) => {
      const freeze = freezeAt(step);
      const rig = await armed(t, op, freeze.checkpoint);
      // The call never returns once frozen; if it returns, the step was never reached.
      await Promise.race([freeze.reached, run(rig, op).then(() => t.fail(`${step} was never reached`))]);
      const after = how === 'restart' ? await restart(rig) : await reboot(rig);
      const report = await recoverHost(after.service, after.log);
      t.deepEqual(report.failed, []);
      await expectUsable(t, after, frozenEnd);
    });
  }

  test(`failed at ${step}: the call fails, and after a restart the volume is ${failedEnd}`, async (t) => {
    const rig = await armed(t, op, throwAt(step));
    t.not(codeOf(await settle(run(rig, op))), 'ok');
    const after = await restart(rig);
    const report = await recoverHost(after.service, after.log);
    t.deepEqual(report.failed, []);
    await expectUsable(t, after, failedEnd);
  });

  test(`failed at ${step}: retried in the same process, the call finishes the job`, async (t) => {
    const rig = await armed(t, op, throwAt(step));
    t.not(codeOf(await settle(run(rig, op))), 'ok');
    await t.notThrowsAsync(run(rig, op));
    const facts = await factsOf(rig, V);
    t.true(op === 'remove' ? isGone(facts) : isWhole(facts), JSON.stringify(facts));
    if (op === 'mount') await expectFacts(t, rig, V, { active: true, leases: { m1: 1 } });
    if (op === 'unmount') await expectFacts(t, rig, V, { active: false, leases: {} });
  });
}

test('a failure right after a Create is recorded takes the record back with the storage', async (t) => {
  const rig = await armed(t, 'create', throwAt('create.recorded'));
  t.not(codeOf(await settle(run(rig, 'create'))), 'ok');
  t.true(isGone(await factsOf(rig, V)), JSON.stringify(await factsOf(rig, V)));
});

test('a failure right after a Mount is recorded takes the lease back and unmounts', async (t) => {
  const rig = await armed(t, 'mount', throwAt('mount.recorded'));
  t.not(codeOf(await settle(run(rig, 'mount'))), 'ok');
  await expectFacts(t, rig, V, { listed: true, active: false, leases: {} });
});
