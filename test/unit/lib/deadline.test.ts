import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { withDeadline } from '../../../src/lib/deadline.js';

const never = new Promise<string>(() => undefined);

test('work that settles in time gives its own outcome', async (t) => {
  t.is(await withDeadline(Promise.resolve('done'), 1000), 'done');
  await t.throwsAsync(withDeadline(Promise.reject(new Error('broke')), 1000), { message: 'broke' });
});

test('late work is a timeout error by default', async (t) => {
  await t.throwsAsync(withDeadline(never, 10), { message: 'timed out after 10 ms' });
});

test('late work gives what late() returns or throws', async (t) => {
  t.is(await withDeadline(never, 10, () => 'stale'), 'stale');
  await t.throwsAsync(
    withDeadline(never, 10, () => {
      throw new RangeError('hung');
    }),
    { instanceOf: RangeError, message: 'hung' },
  );
});

test('late() is not called once work has settled (the timer is cleared)', async (t) => {
  let called = false;
  await withDeadline(
    sleep(1).then(() => 'done'),
    20,
    () => {
      called = true;
      return 'late';
    },
  );
  await sleep(40);
  t.false(called);
});
