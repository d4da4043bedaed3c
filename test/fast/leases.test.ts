import test from 'ava';
import { join } from 'node:path';
import { idOf, newRig, WARN, type Rig } from '../helpers/fakes.js';
import { SMALL, ageLease, expectFacts, factsOf, rejects } from '../helpers/fast-checks.js';

// Mount records a lease per Docker mount ID; Unmount drops one count; the
// volume is unmounted when the last lease goes and no container uses it.
// Leases no real user backs are released after an Unmount and before a
// Remove refuses. Grace period here: 60 s, so a fresh lease is "young".

const V = 'data';

async function volume(t: Parameters<typeof newRig>[0], grace = 60_000): Promise<Rig> {
  const rig = await newRig(t, { leaseGraceMs: grace });
  await rig.service.create(V, SMALL);
  return rig;
}

test('Mount answers the mount point under the mount root, and mounts the volume', async (t) => {
  const rig = await volume(t);
  const mountpoint = await rig.service.mount(V, 'm1');
  t.is(mountpoint, join(rig.roots.mountDir, idOf(V), '_data'));
  await expectFacts(t, rig, V, { listed: true, active: true, leases: { m1: 1 } });
  t.is(rig.backing.callsOf('activate').length, 1);
});

test('the same mount ID mounted twice needs two Unmounts; the last one unmounts', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'm1');
  await rig.service.mount(V, 'm1');
  t.deepEqual((await factsOf(rig, V)).leases, { m1: 2 });
  await rig.service.unmount(V, 'm1');
  await expectFacts(t, rig, V, { active: true, leases: { m1: 1 } });
  await rig.service.unmount(V, 'm1');
  await expectFacts(t, rig, V, { active: false, leases: {} });
  t.is(rig.backing.callsOf('deactivate').length, 1);
});

test('two mount IDs: the volume stays mounted until both are unmounted', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'a');
  await rig.service.mount(V, 'b');
  await rig.service.unmount(V, 'a');
  await expectFacts(t, rig, V, { active: true, leases: { b: 1 } });
  t.is(rig.backing.callsOf('deactivate').length, 0);
  await rig.service.unmount(V, 'b');
  await expectFacts(t, rig, V, { active: false, leases: {} });
});

test('an Unmount for an unknown mount ID succeeds and takes no other lease', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'm1');
  await rig.service.unmount(V, 'never-mounted');
  await expectFacts(t, rig, V, { active: true, leases: { m1: 1 } });
});

test('an Unmount of a volume that does not exist is VOLUME_NOT_FOUND', async (t) => {
  const rig = await volume(t);
  await rejects(t, rig.service.unmount('other', 'm1'), 'VOLUME_NOT_FOUND');
});

test('the last lease gone while the host still shows a user: kept mounted, and said so', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'm1');
  rig.host.users.set(idOf(V), 1);
  await rig.service.unmount(V, 'm1');
  await expectFacts(t, rig, V, { active: true, leases: {} });
  t.true(rig.logs.some((line) => line.level === WARN && /kept mounted/.test(line.msg)));
});

// After an Unmount of `a`, lease `b` is judged: [title, age of b (ms), b's boot, users, b kept?, still mounted?]
const afterUnmount: Array<[string, number, string | undefined, number, boolean, boolean]> = [
  ['past the grace period and no user: released, then the volume is unmounted', 120_000, undefined, 0, false, false],
  ['young and no user (a Mount in flight): kept', 0, undefined, 0, true, true],
  ['old but a real user: kept', 120_000, undefined, 1, true, true],
  ['from an earlier boot: void', 0, 'boot-0', 0, false, false],
];
for (const [title, age, boot, users, kept, mounted] of afterUnmount) {
  test(`after an Unmount, another lease ${title}`, async (t) => {
    const rig = await volume(t);
    await rig.service.mount(V, 'a');
    await rig.service.mount(V, 'b');
    await ageLease(rig, V, 'b', age, boot);
    rig.host.users.set(idOf(V), users);
    await rig.service.unmount(V, 'a');
    const facts = await factsOf(rig, V);
    t.deepEqual(facts.leases, kept ? { b: 1 } : {});
    t.is(facts.active, mounted);
    const released = rig.logs.filter((line) => line.level === WARN && line.msg === 'released stale mount leases');
    t.is(released.length, kept ? 0 : 1);
    if (!kept)
      t.deepEqual(
        (released[0]?.['released'] as Array<{ id: string }>).map((entry) => entry.id),
        ['b'],
      );
  });
}

test('Remove with only stale leases succeeds; each release is logged at warn with its mount ID', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'old-1');
  await rig.service.mount(V, 'old-2');
  await ageLease(rig, V, 'old-1', 120_000);
  await ageLease(rig, V, 'old-2', 90_000);
  await rig.service.remove(V);
  await expectFacts(t, rig, V, { listed: false, dir: false, active: false });
  const released = rig.logs.find((line) => line.level === WARN && line.msg === 'released stale mount leases');
  t.deepEqual((released?.['released'] as Array<{ id: string }> | undefined)?.map((entry) => entry.id).sort(), ['old-1', 'old-2']);
  t.is(released?.['volume'], V);
  const order = rig.backing.calls.filter((call) => call.method === 'deactivate' || call.method === 'destroy').map((call) => call.method);
  t.is(order[0], 'deactivate', 'unmounted before its storage is destroyed');
});

test('Remove with a real user is refused with VOLUME_IN_USE naming the count; nothing changes', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'a');
  await rig.service.mount(V, 'b');
  await ageLease(rig, V, 'a', 120_000);
  rig.host.users.set(idOf(V), 2);
  await rejects(t, rig.service.remove(V), 'VOLUME_IN_USE', /in use \(2 container mounts on this host\)/);
  await expectFacts(t, rig, V, { listed: true, dir: true, active: true, leases: { a: 1, b: 1 } });
  t.is(rig.backing.callsOf('deactivate').length, 0);
});

test('Remove with a young lease is refused: retry after the grace period', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'starting');
  await rejects(t, rig.service.remove(V), 'VOLUME_IN_USE', /less than 60 s ago.*retry in 60 s/);
  await expectFacts(t, rig, V, { listed: true, active: true, leases: { starting: 1 } });
});

test('the retry hint counts down from the youngest lease', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'starting');
  await ageLease(rig, V, 'starting', 45_000);
  await rejects(t, rig.service.remove(V), 'VOLUME_IN_USE', /less than 60 s ago.*retry in 1[56] s/);
});

test('Remove with a stale and a young lease releases the stale one and refuses for the young one', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'old');
  await rig.service.mount(V, 'new');
  await ageLease(rig, V, 'old', 120_000);
  await rejects(t, rig.service.remove(V), 'VOLUME_IN_USE', /retry in 60 s/);
  t.deepEqual((await factsOf(rig, V)).leases, { new: 1 });
});

test('a lease from an earlier boot is void even while the host shows a user; the user still refuses Remove', async (t) => {
  const rig = await volume(t);
  await rig.service.mount(V, 'before-reboot');
  await ageLease(rig, V, 'before-reboot', 0, 'boot-0');
  rig.host.users.set(idOf(V), 1);
  await rejects(t, rig.service.remove(V), 'VOLUME_IN_USE', /1 container mount on this host/);
  t.deepEqual((await factsOf(rig, V)).leases, {});
});

test('Remove while the host cannot be read keeps the leases and refuses', async (t) => {
  const rig = await volume(t, 0);
  await rig.service.mount(V, 'm1');
  rig.host.scanFails = true;
  await rejects(t, rig.service.remove(V), 'VOLUME_IN_USE', /could not be read/);
  await expectFacts(t, rig, V, { listed: true, active: true, leases: { m1: 1 } });
});

test('Remove of a volume mounted with no lease and no user unmounts and deletes it', async (t) => {
  const rig = await volume(t);
  rig.backing.active.add(idOf(V));
  await rig.service.remove(V);
  await expectFacts(t, rig, V, { listed: false, dir: false, active: false, pending: [] });
});
