/**
 * A host listing (the mount table, the loop devices) shared by callers for a
 * moment: with a thousand volumes, start-up recovery asked for the same
 * thousand-line mount table three times per volume. Our own changes (mount,
 * unmount, attach, detach) invalidate it at once, and a listing that began
 * before such a change is never served after it. Changes made by others are
 * seen within `ttlMs`.
 */
export interface SnapshotCache<T> {
  get(): Promise<T>;
  invalidate(): void;
}

export function snapshotCache<T>(load: () => Promise<T>, ttlMs: number): SnapshotCache<T> {
  let generation = 0;
  let entry: { generation: number; startedAt: number; value: Promise<T> } | undefined;
  return {
    get() {
      const now = Date.now();
      if (entry && entry.generation === generation && now - entry.startedAt < ttlMs) return entry.value;
      const value = load();
      const mine = { generation, startedAt: now, value };
      entry = mine;
      value.catch(() => {
        if (entry === mine) entry = undefined;
      });
      return value;
    },
    invalidate() {
      generation += 1;
      entry = undefined;
    },
  };
}

/** `work`, then `cache.invalidate()` whether it succeeded or not. */
export async function changing<R>(cache: SnapshotCache<unknown>, work: () => Promise<R>): Promise<R> {
  try {
    return await work();
  } finally {
    cache.invalidate();
  }
}

/** How long a mount table or loop list may be shared (our own changes invalidate it at once). */
export const LISTING_TTL_MS = 250;
