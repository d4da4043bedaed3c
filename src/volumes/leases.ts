import type { Lease, LeaseMap } from '../state/schema.js';
import { defineKey, ownValue } from '../lib/own-property.js';

// Mount leases: Docker's Mount/Unmount carry an ID, and the same ID may be
// mounted more than once (docker cp on a running container; a daemon restart
// replaying mounts). Each ID keeps a count; the volume stays mounted while
// any count is above zero. A lease is evidence, not truth: judgeLeases says
// which ones a real user no longer backs. Pure functions over the persisted map.

export type { LeaseMap };

export function totalLeases(leases: LeaseMap): number {
  return Object.values(leases).reduce((sum, lease) => sum + lease.count, 0);
}

export function addLease(leases: LeaseMap, id: string, now: Date, boot: string): LeaseMap {
  const count = ownValue(leases, id)?.count ?? 0;
  return withEntry(leases, id, { count: count + 1, since: now.toISOString(), boot });
}

/** Releases one count of `id`; an unknown ID is not an error (nothing to release). */
export function releaseLease(leases: LeaseMap, id: string): LeaseMap {
  const lease = ownValue(leases, id);
  if (!lease) return leases;
  return withEntry(leases, id, lease.count > 1 ? { ...lease, count: lease.count - 1 } : undefined);
}

export function hasLease(leases: LeaseMap, id: string): boolean {
  return Object.hasOwn(leases, id);
}

export function withoutLeases(leases: LeaseMap, ids: readonly string[]): LeaseMap {
  let next = leases;
  for (const id of ids) next = withEntry(next, id, undefined);
  return next;
}

export type DropReason = 'earlier-boot' | 'no-user';

export interface LeaseVerdict {
  readonly drop: ReadonlyArray<{ readonly id: string; readonly reason: DropReason }>;
  /** What is left: leases a real user may back. */
  readonly keep: LeaseMap;
  /** Kept only because they are younger than the grace period (a Mount in flight). */
  readonly young: readonly string[];
}

export interface LeaseFacts {
  readonly bootId: string;
  readonly now: number;
  readonly graceMs: number;
  /** Real users of the volume found on the host; undefined when nobody could tell. */
  readonly users: number | undefined;
}

// Leases from an earlier boot are void. Without a real user (a bind mount of
// the volume in some mount namespace), a lease past the grace period is stale;
// a younger one may be a Mount whose container is still starting. When the
// host cannot be read, nothing but earlier-boot leases is dropped.
export function judgeLeases(leases: LeaseMap, facts: LeaseFacts): LeaseVerdict {
  const drop: Array<{ id: string; reason: DropReason }> = [];
  const young: string[] = [];
  for (const [id, lease] of Object.entries(leases)) {
    if (lease.boot !== '' && lease.boot !== facts.bootId) drop.push({ id, reason: 'earlier-boot' });
    else if (facts.users === 0 && !isYoung(lease, facts)) drop.push({ id, reason: 'no-user' });
    else if (facts.users === 0) young.push(id);
  }
  return {
    drop,
    keep: withoutLeases(
      leases,
      drop.map((entry) => entry.id),
    ),
    young,
  };
}

function isYoung(lease: Lease, facts: LeaseFacts): boolean {
  return facts.now - Date.parse(lease.since) < facts.graceMs;
}

function withEntry(leases: LeaseMap, id: string, lease: Lease | undefined): LeaseMap {
  const next: Record<string, Lease> = {};
  for (const [key, value] of Object.entries(leases)) {
    if (key !== id) defineKey(next, key, value);
  }
  if (lease) defineKey(next, id, lease);
  return next;
}
