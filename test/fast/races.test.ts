import test from 'ava';
import { setImmediate as tick } from 'node:timers/promises';
import { recoverHost, sweepLeases } from '../../src/volumes/recover.js';
import { holdAt, idOf, newRig, restart, type Rig } from '../helpers/fakes.js';
import { SMALL, ageLease, codeOf, expectFacts, factsOf, isGone, isWhole, settle } from '../helpers/fast-checks.js';

// Requests that race: each volume is handled under its own lock, so racing
// calls see each other's complete result, never half of it. Calls are fired
// together with Promise.all (the order of the calls is the order of the lock).

const V = 'data';
const MiB = 1024 ** 2;

async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i += 1) await tick();
}

test('two Creates of one name with different options: exactly one is refused with VOLUME_EXISTS', async (t) => {
  const rig = await newRig(t);
  const outcomes = await Promise.all([settle(rig.service.create(V, { size: '16M' })), settle(rig.service.create(V, { size: '32M' }))]);
  t.deepEqual(outcomes.map(codeOf), ['ok', 'VOLUME_EXISTS']);
  t.deepEqual(rig.state.get(V)?.spec, { type: 'plain', fs: 'ext4', sizeBytes: 16 * MiB });
  t.is(rig.backing.callsOf('create').length, 1);
});

test('two Creates of one name with the same options both succeed, and make one volume', async (t) => {
  const rig = await newRig(t);
  const outcomes = await Promise.all([
    settle(rig.service.create(V, { size: '16M', fs: 'ext4' })),
    settle(rig.service.create(V, { fs: 'ext4', size: '16m' })),
  ]);
  t.deepEqual(outcomes.map(codeOf), ['ok', 'ok']);
  t.is(rig.backing.callsOf('create').length, 1);
  t.true(isWhole(await factsOf(rig, V)));
});

test('concurrent Creates that each fit but not together: exactly one is refused', async (t) => {
  const rig = await newRig(t);
  rig.host.free = 64 * MiB + 100 * MiB;
  const outcomes = await Promise.all(['a', 'b', 'c'].map((name) => settle(rig.service.create(name, { size: '40M' }))));
  t.deepEqual(outcomes.map(codeOf).sort(), ['INSUFFICIENT_SPACE', 'ok', 'ok']);
  t.is(rig.state.all().length, 2);
});

// Creates and Removes of different names share .creating/ and .trash/.
test('eight Creates of different names at once all succeed, each volume whole', async (t) => {
  const rig = await newRig(t);
  const names = Array.from({ length: 8 }, (_, i) => `v${i}`);
  const outcomes = await Promise.all(names.map((name) => settle(rig.service.create(name, SMALL))));
  for (const [i, name] of names.entries()) {
    const facts = await factsOf(rig, name);
    t.true(
      outcomes[i]?.ok ? isWhole(facts) : isGone(facts),
      `${name}: a failed Create leaves nothing, a good one everything: ${JSON.stringify(facts)}`,
    );
  }
  t.deepEqual(
    outcomes.map(codeOf),
    names.map(() => 'ok'),
    outcomes.map((o) => (o.ok ? 'ok' : String(o.error))).join('\n'),
  );
});

test('eight Removes of different names at once all succeed, each volume gone', async (t) => {
  const rig = await newRig(t);
  const names = Array.from({ length: 8 }, (_, i) => `v${i}`);
  for (const name of names) await rig.service.create(name, SMALL);
  const outcomes = await Promise.all(names.map((name) => settle(rig.service.remove(name))));
  for (const [i, name] of names.entries()) {
    const facts = await factsOf(rig, name);
    t.true(outcomes[i]?.ok ? isGone(facts) : isWhole(facts), `${name}: ${JSON.stringify(facts)}`);
  }
  t.deepEqual(
    outcomes.map(codeOf),
    names.map(() => 'ok'),
    outcomes.map((o) => (o.ok ? 'ok' : String(o.error))).join('\n'),
  );
});

// [title, Mount first?, expected Mount, expected Remove]
const mountVersusRemove: Array<[string, boolean, string, string]> = [
  ['Mount first: Remove is refused while the fresh lease may be a starting container', true, 'ok', 'VOLUME_IN_USE'],
  ['Remove first: the Mount finds no volume', false, 'VOLUME_NOT_FOUND', 'ok'],
];
for (const [title, mountFirst, mountCode, removeCode] of mountVersusRemove) {
  test(`Mount racing Remove, ${title}`, async (t) => {
    const rig = await newRig(t);
    await rig.service.create(V, SMALL);
    const mount = () => settle(rig.service.mount(V, 'm1'));
    const remove = () => settle(rig.service.remove(V));
    const [mounted, removed] = mountFirst ? await Promise.all([mount(), remove()]) : (await Promise.all([remove(), mount()])).reverse();
    t.is(codeOf(mounted!), mountCode);
    t.is(codeOf(removed!), removeCode);
    const facts = await factsOf(rig, V);
    if (mountFirst) await expectFacts(t, rig, V, { listed: true, active: true, leases: { m1: 1 } });
    else t.true(isGone(facts), JSON.stringify(facts));
  });
}

test('two Mounts of different IDs at once, then both Unmounts at once: one mount, one unmount', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  await Promise.all([rig.service.mount(V, 'a'), rig.service.mount(V, 'b')]);
  await expectFacts(t, rig, V, { active: true, leases: { a: 1, b: 1 } });
  await Promise.all([rig.service.unmount(V, 'a'), rig.service.unmount(V, 'b')]);
  await expectFacts(t, rig, V, { active: false, leases: {} });
  t.is(rig.backing.callsOf('deactivate').length, 1);
});

test('an Unmount of the last lease racing a Mount of a new ID leaves the volume mounted for the new one', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  await rig.service.mount(V, 'old');
  await Promise.all([rig.service.unmount(V, 'old'), rig.service.mount(V, 'new')]);
  await expectFacts(t, rig, V, { active: true, leases: { new: 1 } });
});

// Recovery takes each volume's lock: a Mount that comes meanwhile waits for its verdict.
const verdicts: Array<[string, 'activate' | 'deactivate', (rig: Rig) => Promise<void>, 'reactivated' | 'released']> = [
  [
    'mounting it again',
    'activate',
    async (rig) => {
      await rig.service.mount(V, 'm1');
      rig.backing.active.delete(idOf(V));
    },
    'reactivated',
  ],
  ['releasing it', 'deactivate', async (rig) => void rig.backing.active.add(idOf(V)), 'released'],
];
for (const [title, method, before, verdict] of verdicts) {
  test(`a Mount while start-up recovery is ${title} waits for the verdict, then holds`, async (t) => {
    const first = await newRig(t);
    await first.service.create(V, SMALL);
    await before(first);
    const rig = await restart(first);
    const gate = rig.backing.holdNext(method);
    const recovering = recoverHost(rig.service, rig.log);
    await gate.reached;
    const events: string[] = [];
    const mounting = rig.service.mount(V, 'm2').then(() => events.push('mounted'));
    await ticks();
    events.push('verdict');
    gate.release();
    const [report] = await Promise.all([recovering, mounting]);
    t.deepEqual(events, ['verdict', 'mounted']);
    t.deepEqual(report[verdict], [V]);
    t.true(rig.backing.active.has(idOf(V)));
    t.true('m2' in (await factsOf(rig, V)).leases);
  });
}

test('a Create in flight while start-up recovery runs keeps its storage', async (t) => {
  const first = await newRig(t);
  const hold = holdAt('create.provisioned');
  const rig = await restart(first, { checkpoint: hold.checkpoint });
  const creating = settle(rig.service.create(V, SMALL));
  await hold.reached;
  const recovering = recoverHost(rig.service, rig.log);
  await ticks(20);
  hold.release();
  const [created, report] = await Promise.all([creating, recovering]);
  t.is(codeOf(created), 'ok');
  t.true(isWhole(await factsOf(rig, V)), 'the committed volume has its image');
  t.deepEqual(rig.host.discarded, []);
  t.deepEqual(report.finished, []);
});

test('a Remove in flight while start-up recovery runs is finished once, by the Remove', async (t) => {
  const first = await newRig(t);
  await first.service.create(V, SMALL);
  const hold = holdAt('remove.committed');
  const rig = await restart(first, { checkpoint: hold.checkpoint });
  const removing = settle(rig.service.remove(V));
  await hold.reached;
  const recovering = recoverHost(rig.service, rig.log);
  await ticks(20);
  hold.release();
  const [removed] = await Promise.all([removing, recovering]);
  t.is(codeOf(removed), 'ok');
  t.true(isGone(await factsOf(rig, V)));
  t.is(rig.backing.callsOf('destroy').length, 1);
});

test('a Mount racing the periodic check that releases a stale lease: the new lease keeps the volume mounted', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  await rig.service.mount(V, 'old');
  await ageLease(rig, V, 'old', 120_000);
  const gate = rig.backing.holdNext('deactivate');
  const sweeping = sweepLeases(rig.service, rig.log);
  await gate.reached;
  const mounting = rig.service.mount(V, 'new');
  await ticks();
  gate.release();
  const [released] = await Promise.all([sweeping, mounting]);
  t.deepEqual(released, [V]);
  await expectFacts(t, rig, V, { active: true, leases: { new: 1 } });
});

// [title, Create first?, final state]
const createVersusRemove: Array<[string, boolean, 'whole' | 'gone']> = [
  ['Create first: the Remove deletes it', true, 'gone'],
  ['Remove first (nothing to do): the Create makes it', false, 'whole'],
];
for (const [title, createFirst, final] of createVersusRemove) {
  test(`Create racing Remove of one name, ${title}`, async (t) => {
    const rig = await newRig(t);
    const create = () => settle(rig.service.create(V, SMALL));
    const remove = () => settle(rig.service.remove(V));
    const outcomes = createFirst ? await Promise.all([create(), remove()]) : await Promise.all([remove(), create()]);
    t.deepEqual(outcomes.map(codeOf), ['ok', 'ok']);
    const facts = await factsOf(rig, V);
    t.true(final === 'whole' ? isWhole(facts) : isGone(facts), JSON.stringify(facts));
  });
}

test('two Removes at once: one deletes, the other finds nothing to do', async (t) => {
  const rig = await newRig(t);
  await rig.service.create(V, SMALL);
  const outcomes = await Promise.all([settle(rig.service.remove(V)), settle(rig.service.remove(V))]);
  t.deepEqual(outcomes.map(codeOf), ['ok', 'ok']);
  t.is(rig.backing.callsOf('destroy').length, 1);
  t.true(isGone(await factsOf(rig, V)));
});
