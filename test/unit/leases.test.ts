import test from 'ava';
import { addLease, hasLease, judgeLeases, releaseLease, totalLeases, type LeaseMap } from '../../src/volumes/leases.js';

const BOOT = 'boot-now';
const T0 = new Date('2026-11-25T10:00:00.000Z');
const add = (leases: LeaseMap, id: string, at = T0, boot = BOOT) => addLease(leases, id, at, boot);

test('the same ID mounted twice needs two unmounts', (t) => {
  let leases = add(add({}, 'A'), 'A');
  t.is(totalLeases(leases), 2);
  leases = releaseLease(leases, 'A');
  t.is(totalLeases(leases), 1);
  t.true(hasLease(leases, 'A'));
  leases = releaseLease(leases, 'A');
  t.is(totalLeases(leases), 0);
  t.false(hasLease(leases, 'A'));
  t.deepEqual(leases, {});
});

test('different IDs are counted apart; a lease remembers its boot and latest Mount', (t) => {
  const later = new Date(T0.getTime() + 5000);
  const leases = releaseLease(add(add(add({}, 'A'), 'B'), 'B', later), 'A');
  t.deepEqual(leases, { B: { count: 2, since: later.toISOString(), boot: BOOT } });
});

test('releasing an unknown ID changes nothing', (t) => {
  const leases = add({}, 'A');
  t.is(releaseLease(leases, 'nope'), leases);
  t.deepEqual(releaseLease({}, 'x'), {});
});

test('prototype-like IDs are ordinary keys', (t) => {
  let leases = add({}, '__proto__');
  leases = add(leases, 'constructor');
  t.is(totalLeases(leases), 2);
  t.deepEqual(Object.keys(leases).sort(), ['__proto__', 'constructor']);
  t.is(Object.getPrototypeOf(leases), Object.prototype);
  leases = releaseLease(leases, '__proto__');
  t.deepEqual(Object.keys(leases), ['constructor']);
});

test('leases are never mutated in place', (t) => {
  const before = add({}, 'A');
  const copy = structuredClone(before);
  add(before, 'A');
  releaseLease(before, 'A');
  t.deepEqual(before, copy);
});

const facts = (users: number | undefined, nowMs = T0.getTime() + 60_000) => ({ bootId: BOOT, now: nowMs, graceMs: 30_000, users });

const verdicts: Array<[string, LeaseMap, number | undefined, string[], string[]]> = [
  ['a lease from an earlier boot is void, even with users', add({}, 'old', T0, 'boot-before'), 2, ['old'], []],
  ['a user keeps every current lease', add(add({}, 'A'), 'B'), 1, [], ['A', 'B']],
  ['no user: a lease past the grace period is stale', add({}, 'A'), 0, ['A'], []],
  ['no user: a young lease (a Mount in flight) is kept', add({}, 'A', new Date(T0.getTime() + 50_000)), 0, [], ['A']],
  ['host unreadable: only earlier-boot leases go', add(add({}, 'A'), 'old', T0, 'boot-before'), undefined, ['old'], ['A']],
  ['an unknown boot (schema 1) is judged by its users', add({}, 'A', T0, ''), 0, ['A'], []],
];
for (const [title, leases, users, dropped, kept] of verdicts) {
  test(`judgeLeases: ${title}`, (t) => {
    const verdict = judgeLeases(leases, facts(users));
    t.deepEqual(verdict.drop.map((d) => d.id).sort(), dropped);
    t.deepEqual(Object.keys(verdict.keep).sort(), kept);
  });
}
