import test from 'ava';
import { readdir } from 'node:fs/promises';
import { idOf, newRig, restart } from '../helpers/fakes.js';
import { factsOf, isGone, rejects } from '../helpers/fast-checks.js';

// Create refuses a size that does not fit: room = (free − 64 MiB reserve) ×
// overcommit − what existing sparse images may still claim.

const MiB = 1024 ** 2;
const RESERVE = 64 * MiB;

interface Existing {
  readonly name: string;
  readonly size: string;
  /** What its image may still claim; absent means its whole size. */
  readonly unclaimed?: number;
}

// [title, free bytes, overcommit, existing volumes, requested size, fits?]
const cases: Array<[string, number, number, Existing[], string, boolean]> = [
  ['a size that fits exactly is accepted', RESERVE + 100 * MiB, 1, [], '100M', true],
  ['one MiB more is refused', RESERVE + 100 * MiB, 1, [], '101M', false],
  ['existing sparse images claim their unallocated part', RESERVE + 100 * MiB, 1, [{ name: 'a', size: '60M' }], '50M', false],
  ['a mostly written image claims little', RESERVE + 100 * MiB, 1, [{ name: 'a', size: '60M', unclaimed: 10 * MiB }], '90M', true],
  ['… but not nothing', RESERVE + 100 * MiB, 1, [{ name: 'a', size: '60M', unclaimed: 10 * MiB }], '91M', false],
  [
    'overcommit 2 promises the usable space twice, minus existing claims',
    RESERVE + 100 * MiB,
    2,
    [{ name: 'a', size: '60M' }],
    '140M',
    true,
  ],
  ['overcommit 2 still has a limit', RESERVE + 100 * MiB, 2, [{ name: 'a', size: '60M' }], '141M', false],
  ['less free space than the reserve leaves no room', 32 * MiB, 4, [], '16M', false],
];

for (const [title, free, overcommit, existing, size, fits] of cases) {
  test(`capacity: ${title}`, async (t) => {
    const first = await newRig(t, { overcommit });
    for (const volume of existing) {
      await first.service.create(volume.name, { size: volume.size });
      if (volume.unclaimed !== undefined) first.backing.unclaimed.set(idOf(volume.name), volume.unclaimed);
    }
    // Claims are measured at start (and refreshed in the background); a restart measures them anew.
    const rig = await restart(first);
    rig.host.free = free;
    const creating = rig.service.create('new', { size });
    if (fits) {
      await creating;
      t.true(rig.state.get('new') !== undefined);
    } else {
      await rejects(t, creating, 'INSUFFICIENT_SPACE', new RegExp(`^volume "new": size ${size.replace('M', '')}(\\.0)? MiB does not fit`));
      t.true(isGone(await factsOf(rig, 'new')));
    }
  });
}

test('a refused create touches nothing and says what to do', async (t) => {
  const rig = await newRig(t);
  rig.host.free = RESERVE + 10 * MiB;
  const error = await rejects(t, rig.service.create('big', { size: '1G' }), 'INSUFFICIENT_SPACE');
  t.regex(error?.message ?? '', /Use a smaller size, free space, or allow overcommit with CUSTOM_OVERCOMMIT/);
  t.deepEqual(rig.backing.callsOf('create'), []);
  t.deepEqual(await readdir(rig.roots.dataDir).catch(() => []), []);
  t.is(rig.state.get('big'), undefined);
});

test('a removed volume no longer claims space', async (t) => {
  const rig = await newRig(t);
  rig.host.free = RESERVE + 100 * MiB;
  await rig.service.create('a', { size: '60M' });
  await rejects(t, rig.service.create('b', { size: '60M' }), 'INSUFFICIENT_SPACE');
  await rig.service.remove('a');
  await rig.service.create('b', { size: '60M' });
  t.true(rig.state.get('b') !== undefined);
});

test('a replicated volume lives on its peers and is not checked against the local disk', async (t) => {
  const rig = await newRig(t);
  rig.host.free = 0;
  await rig.service.create('shared', { type: 'replicated' });
  t.is(rig.state.get('shared')?.spec.type, 'replicated');
  await rejects(t, rig.service.create('local', { size: '16M' }), 'INSUFFICIENT_SPACE');
});

test('a claim measured earlier counts until it is measured again: a cache that errs toward refusing, never toward overfilling', async (t) => {
  const rig = await newRig(t);
  rig.host.free = RESERVE + 100 * MiB;
  await rig.service.create('a', { size: '60M' });
  rig.backing.unclaimed.set(idOf('a'), 10 * MiB); // it filled up since
  await rejects(t, rig.service.create('b', { size: '50M' }), 'INSUFFICIENT_SPACE', /may still claim 60 MiB/);
  const next = await restart(rig);
  next.host.free = RESERVE + 100 * MiB;
  await next.service.create('b', { size: '50M' });
  t.truthy(next.state.get('b'));
});
