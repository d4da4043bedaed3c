import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { mountHungFuse, processState, type HungFuse } from '../helpers/hung-fuse.js';
import { mountsUnder } from '../helpers/host.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { CHECK_MS, waitFor } from '../helpers/wait.js';

// The hung FUSE mount the fault tests stand on, checked against the real
// kernel: a caller sleeps in state D, SIGKILL does not end it, release() does,
// and two mounts hang and come back independently.

type Caller = ResultPromise<{ reject: false }> & { ended: boolean };

/** `stat` on `path` in the background; `ended` turns true when it is over. */
function statInBackground(path: string): Caller {
  const child = execa('stat', ['--', path], { reject: false }) as Caller;
  child.ended = false;
  void child.finally(() => (child.ended = true));
  return child;
}

// Each stat sleeps in the kernel (state D) as soon as its request reaches the mount.
const asleep = (caller: Caller) =>
  waitFor(
    `stat ${caller.pid} to sleep in the kernel`,
    () => processState(caller.pid!),
    (state) => state === 'D',
    CHECK_MS,
  );

/** How long `caller` takes to end, or undefined when it is still there after `withinMs`. */
async function endsWithin(caller: Caller, withinMs: number): Promise<number | undefined> {
  const started = Date.now();
  const ended = await Promise.race([caller.then(() => true), sleep(withinMs).then(() => false)]);
  return ended ? Date.now() - started : undefined;
}

/** A hung mount at <temp>/<name>, released and removed after the test, passed or not. */
async function hungMount(t: ExecutionContext, name: string): Promise<{ fuse: HungFuse; target: string; root: string }> {
  const root = await makeTempDir(`hung-fuse-${name}`);
  const target = join(root, 'mnt');
  // Teardowns run last first: the release below, then this.
  t.teardown(async () => {
    // rm -r would stat the mount and hang with it: only once it is gone.
    if ((await mountsUnder(root)).length === 0) await removeTempDir(root);
    else t.log(`left ${root}: still mounted`);
  });
  const fuse = await mountHungFuse(target);
  t.teardown(() => fuse.release());
  return { fuse, target, root };
}

test.serial('a stat on the hung mount sleeps in D, survives SIGKILL, and ends once the mount is released', async (t) => {
  const { fuse, target, root } = await hungMount(t, 'one');
  t.regex(fuse.connection, /^\d+$/);
  const killed = statInBackground(target);
  const waiting = statInBackground(target);
  // Whatever happens, no stat outlives the test (release() is idempotent).
  t.teardown(async () => {
    await fuse.release();
    await Promise.all([killed, waiting]);
  });

  t.is(await asleep(killed), 'D');
  t.is(await asleep(waiting), 'D');
  t.false(killed.ended, 'still running, asleep in the kernel');

  killed.kill('SIGKILL');
  // A window, not a wait: the claim is that nothing happens in it.
  await sleep(2000);
  t.false(killed.ended, 'SIGKILL did not end it within 2 s');
  t.is(await processState(killed.pid!), 'D');

  const releasedAt = Date.now();
  await fuse.release();
  const releaseMs = Date.now() - releasedAt;
  const killedMs = await endsWithin(killed, 5000);
  const waitingMs = await endsWithin(waiting, 5000);
  t.log(`release() took ${releaseMs} ms; the stats ended ${killedMs} and ${waitingMs} ms after it`);
  t.not(killedMs, undefined, 'the killed stat ended within 5 s of the release');
  t.not(waitingMs, undefined, 'the waiting stat ended within 5 s of the release');
  // The SIGKILL, pending all along, ends the one; the other sees its request aborted.
  t.is((await killed).signal, 'SIGKILL');
  const aborted = await waiting;
  t.not(aborted.exitCode, 0);
  t.regex(aborted.stderr, /Software caused connection abort|Transport endpoint is not connected/);
  t.deepEqual(await mountsUnder(root), [], 'the mount is gone from mountinfo');
  t.is(await processState(fuse.pid), undefined, 'the server is gone');
});

test.serial('two hung mounts at once: releasing one leaves the other hung', async (t) => {
  const first = await hungMount(t, 'first');
  const second = await hungMount(t, 'second');
  t.not(first.fuse.connection, second.fuse.connection);
  const onFirst = statInBackground(first.target);
  const onSecond = statInBackground(second.target);
  t.teardown(async () => {
    await Promise.all([first.fuse.release(), second.fuse.release()]);
    await Promise.all([onFirst, onSecond]);
  });

  t.is(await asleep(onFirst), 'D');
  t.is(await asleep(onSecond), 'D');

  await first.fuse.release();
  t.not(await endsWithin(onFirst, 5000), undefined, 'the stat on the released mount ended');
  t.deepEqual(await mountsUnder(first.root), []);
  // The other mount is untouched: still mounted, its caller still stuck.
  t.is((await mountsUnder(second.root)).length, 1);
  await sleep(500); // a window, not a wait: a release that reached this caller too would end it in it
  t.false(onSecond.ended);
  t.is(await processState(onSecond.pid!), 'D');
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  t.true(mountinfo.includes(` 0:${second.fuse.connection} `), 'its connection is the one in mountinfo');

  await second.fuse.release();
  t.not(await endsWithin(onSecond, 5000), undefined, 'the stat on the second mount ended');
  t.not((await onSecond).exitCode, 0);
  t.deepEqual(await mountsUnder(second.root), []);
});
