import test from 'ava';
import { addLease, hasLease, releaseLease, totalLeases } from '../../src/volumes/leases.js';

test('the same ID mounted twice needs two unmounts', (t) => {
  let leases = addLease(addLease({}, 'A'), 'A');
  t.is(totalLeases(leases), 2);
  leases = releaseLease(leases, 'A');
  t.is(totalLeases(leases), 1);
  t.true(hasLease(leases, 'A'));
  leases = releaseLease(leases, 'A');
  t.is(totalLeases(leases), 0);
  t.false(hasLease(leases, 'A'));
  t.deepEqual(leases, {});
});

test('different IDs are counted apart', (t) => {
  const leases = releaseLease(addLease(addLease({}, 'A'), 'B'), 'A');
  t.deepEqual(leases, { B: 1 });
});

test('releasing an unknown ID changes nothing', (t) => {
  const leases = addLease({}, 'A');
  t.is(releaseLease(leases, 'nope'), leases);
  t.deepEqual(releaseLease({}, 'x'), {});
});

test('prototype-like IDs are ordinary keys', (t) => {
  let leases = addLease({}, '__proto__');
  leases = addLease(leases, 'constructor');
  t.is(totalLeases(leases), 2);
  t.deepEqual(Object.keys(leases).sort(), ['__proto__', 'constructor']);
  t.deepEqual(JSON.parse(JSON.stringify(leases)), JSON.parse('{"__proto__":1,"constructor":1}'));
  t.is(Object.getPrototypeOf(leases), Object.prototype);
  leases = releaseLease(leases, '__proto__');
  t.deepEqual(Object.keys(leases), ['constructor']);
});

test('leases are never mutated in place', (t) => {
  const before = { A: 1 };
  addLease(before, 'A');
  releaseLease(before, 'A');
  t.deepEqual(before, { A: 1 });
});
