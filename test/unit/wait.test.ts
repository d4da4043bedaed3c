import test from 'ava';
import { hasLiveStatus, outlive, waitFor } from '../helpers/wait.js';

test('waitFor returns the first value that holds, reading until then', async (t) => {
  let reads = 0;
  const value = await waitFor(
    'the third read',
    () => ++reads,
    (n) => n >= 3,
    1000,
    { every: 1 },
  );
  t.is(value, 3);
  t.is(reads, 3);
});

test('a read that throws is not yet; past the bound the error names what was awaited and the last value seen', async (t) => {
  let reads = 0;
  const started = Date.now();
  const error = await t.throwsAsync(
    waitFor(
      'a peer to drop "shared"',
      () => {
        reads += 1;
        if (reads === 1) throw new Error('socket closed');
        return ['shared'];
      },
      (names) => !names.includes('shared'),
      100,
      { every: 10, detail: () => 'log tail' },
    ),
  );
  t.true(Date.now() - started >= 100);
  t.regex(error?.message ?? '', /^waited 100 ms for a peer to drop "shared"; last seen: \[ 'shared' \]\nlog tail$/);
});

test('a wait that times out on errors only says the last one', async (t) => {
  const error = await t.throwsAsync(
    waitFor(
      'a file',
      () => Promise.reject(new Error('ENOENT')),
      () => true,
      20,
    ),
  );
  t.regex(error?.message ?? '', /last seen: an error: ENOENT$/);
});

test('live status: a found volume without statusError or busy', (t) => {
  t.true(hasLiveStatus({ type: 'plain', mounted: true, usedBytes: 1 }));
  t.false(hasLiveStatus({ type: 'plain', statusError: 'live status unavailable; see the plugin log' }));
  t.false(hasLiveStatus({ type: 'plain', busy: 'stuck' }));
  t.false(hasLiveStatus({}), 'a Get that found nothing');
  t.false(hasLiveStatus(undefined));
});

test('outlive lets the span pass from the moment given, and no longer', async (t) => {
  const since = Date.now();
  await outlive(since, 50);
  t.true(Date.now() >= since + 50);
  const again = Date.now();
  await outlive(since, 50);
  t.true(Date.now() - again < 20, 'nothing left to wait');
});
