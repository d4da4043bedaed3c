import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from '../../../src/lib/keyed-mutex.js';

test('work on one key is serialized in arrival order', async (t) => {
  const mutex = new KeyedMutex();
  const events: string[] = [];
  const job = (label: string, ms: number) =>
    mutex.run('v', async () => {
      events.push(`${label}:start`);
      await sleep(ms);
      events.push(`${label}:end`);
    });
  await Promise.all([job('a', 30), job('b', 1), job('c', 10)]);
  t.deepEqual(events, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  t.false(mutex.isLocked('v'));
});

test('different keys run in parallel', async (t) => {
  const mutex = new KeyedMutex();
  let concurrent = 0;
  let peak = 0;
  const job = (key: string) =>
    mutex.run(key, async () => {
      concurrent += 1;
      peak = Math.max(peak, concurrent);
      await sleep(20);
      concurrent -= 1;
    });
  await Promise.all([job('a'), job('b'), job('c')]);
  t.is(peak, 3);
});

test('a failing job releases the lock', async (t) => {
  const mutex = new KeyedMutex();
  await t.throwsAsync(
    mutex.run('v', async () => Promise.reject(new Error('boom'))),
    { message: 'boom' },
  );
  t.is(await mutex.run('v', async () => 42), 42);
  t.false(mutex.isLocked('v'));
});
