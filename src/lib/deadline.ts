// One race against the clock for every layer: a tool that may hang, a key
// file on a dead mount, a slow GlusterFS peer. The timer is cleared as soon as
// either side settles, so nothing keeps the process alive.

/**
 * `work`'s outcome, or once `ms` have passed first `late()`'s: its value, or
 * what it throws (by default an Error "timed out after <ms> ms"). `work` itself
 * goes on.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, late: () => T = () => timedOut(ms)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (error) {
        reject(error as Error);
      }
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function timedOut(ms: number): never {
  throw new Error(`timed out after ${ms} ms`);
}
