import { defineKey } from '../state/own-keys.js';

// Mount leases: Docker's Mount/Unmount carry an ID, and the same ID may be
// mounted more than once (docker cp on a running container; a daemon restart
// replaying mounts). Each ID keeps a count; the volume stays mounted while
// any count is above zero. Pure functions over the persisted map.

export type LeaseMap = Record<string, number>;

export function totalLeases(leases: LeaseMap): number {
  return Object.values(leases).reduce((sum, count) => sum + count, 0);
}

export function addLease(leases: LeaseMap, id: string): LeaseMap {
  const current = Object.hasOwn(leases, id) ? (leases[id] ?? 0) : 0;
  return withEntry(leases, id, current + 1);
}

/** Releases one count of `id`; an unknown ID is not an error (nothing to release). */
export function releaseLease(leases: LeaseMap, id: string): LeaseMap {
  if (!Object.hasOwn(leases, id)) return leases;
  const remaining = (leases[id] ?? 0) - 1;
  return withEntry(leases, id, remaining);
}

export function hasLease(leases: LeaseMap, id: string): boolean {
  return Object.hasOwn(leases, id);
}

function withEntry(leases: LeaseMap, id: string, count: number): LeaseMap {
  const next: LeaseMap = {};
  for (const [key, value] of Object.entries(leases)) {
    if (key !== id) defineKey(next, key, value);
  }
  if (count > 0) defineKey(next, id, count);
  return next;
}
