import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

// What the product makes true only eventually (a peer's List, a live status
// field, a lease release, a heal, a mount going away, a log line) is waited
// for here, never read once, never slept on: poll until it holds, within a
// bound taken from the product's own, then fail naming what was awaited and
// the last value seen. CI runs this on 2 cores while an emulated guest takes
// one of them: a bound the product states holds there, a guess does not.

/**
 * One check itself (a docker exec, a gluster CLI call, a request): every bound below adds it once.
 * 10 s on a loaded CI machine; 60 s in the emulated guest (AVA_SUITE=guest), where one Get after a
 * managed plugin's restart took over 30 s (measured in CI).
 */
export const CHECK_MS = process.env['AVA_SUITE'] === 'guest' ? 60_000 : 10_000;
/** src/config.ts: CUSTOM_COMMAND_TIMEOUT_MS, the bound of every tool the plugin runs (default). */
const COMMAND_MS = 20_000;
/** src/config.ts: CUSTOM_GLUSTER_TIMEOUT_MS, the bound of every gluster call and pool mount (default). */
const GLUSTER_CALL_MS = 15_000;

/**
 * src/volumes/describe.ts: Get answers without live status after 2 s (Status
 * then has `statusError`), and the next Get reads afresh. A healthy volume
 * answers one Get in time within the bound of the tools behind the read.
 */
export const LIVE_STATUS_MS = COMMAND_MS + CHECK_MS;

/**
 * src/backings/replicated/catalogue.ts: the catalogue is re-read at most every
 * 2 s, one read at a time, and a read slower than 1 s is answered from the
 * last one. A volume made or removed on one host shows in another's List once
 * a read begun after the change has ended: the 2 s, then at worst the read in
 * flight, the next one, and a host's first read mounting the pool, each under
 * the gluster call bound.
 */
export const CATALOGUE_MS = 2_000 + 3 * GLUSTER_CALL_MS + CHECK_MS;

/** src/backings/replicated/sweeper.ts: a List starts a sweep at most every 10 s; a sweep is gluster calls and pool reads. */
export const SWEEP_MS = 10_000 + 2 * GLUSTER_CALL_MS + CHECK_MS;

/**
 * src/volumes/lease-keeper.ts and src/config.ts: the last Unmount waits up to
 * 3 s for a stopped container's mount namespace to go; one that lingers longer
 * keeps the volume mounted (and its mapping open, its loop device attached)
 * until the periodic lease check, every CUSTOM_LEASE_CHECK_MS (60 s), releases it.
 */
export const RELEASED_MS = 60_000 + CHECK_MS;

/** GlusterFS's network.ping-timeout (42 s; the plugin keeps the default): the longest a client or glusterd waits on a peer that went away. */
export const PEER_GONE_MS = 42_000 + CHECK_MS;

/** src/plugin.ts: recovery runs behind the open socket, a few tools per volume, each under the command bound. */
export const RECOVERY_MS = 3 * COMMAND_MS;

const SHOWN = 2000;

function show(value: unknown): string {
  if (typeof value === 'string') return value.length > SHOWN ? `…${value.slice(-SHOWN)}` : JSON.stringify(value);
  const text = inspect(value, { depth: 4, breakLength: Infinity });
  return text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text;
}

export interface WaitOptions {
  /** Between two reads (ms); 200 unless a read is costly. */
  readonly every?: number;
  /** More to say when the wait fails (a log tail). */
  readonly detail?: () => string | Promise<string>;
}

/**
 * Reads `read` until `done` holds for its value, and returns that value (so
 * the test asserts on what it waited for). A read that throws counts as not
 * yet. Past `within` ms, throws: `waited N ms for <what>; last seen: <value>`.
 * A read is never cut short: in the emulated guest one read can itself take
 * longer than a bound (a Get that waits for a managed plugin dockerd restarts).
 */
export async function waitFor<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  within: number,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + within;
  let last = 'nothing (no read ended)';
  for (;;) {
    try {
      const value = await read();
      if (done(value)) return value;
      last = show(value);
    } catch (error) {
      last = `an error: ${error instanceof Error ? error.message : String(error)}`;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(options.every ?? 200, left));
  }
  const detail = options.detail ? `\n${await options.detail()}` : '';
  throw new Error(`waited ${within} ms for ${what}; last seen: ${last}${detail}`);
}

/** Status as a Get answered it with its live part: a Get that found the volume, without `statusError` (a read past Get's 2 s) or `busy`. */
export const hasLiveStatus = (status: Readonly<Record<string, unknown>> | undefined): boolean =>
  status !== undefined && 'type' in status && !('statusError' in status) && !('busy' in status);

/** For lists that must end up empty: no mount, loop device, mapping or file left. */
export const isEmpty = (list: readonly unknown[]): boolean => list.length === 0;

/**
 * Lets a span of the product's own clock pass: until `ms` after `since` (a
 * lease's grace period, counted from a moment after the lease was taken).
 * Time itself is the condition, so this sleeps exactly what is left of it; it
 * never stands in for a state that could be waited on.
 */
export async function outlive(since: number, ms: number): Promise<void> {
  // A timer may fire a millisecond before the wall clock says so.
  while (Date.now() < since + ms) await sleep(since + ms - Date.now() + 1);
}
