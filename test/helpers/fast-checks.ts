import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { VolumeError, type VolumeErrorCode } from '../../src/volumes/errors.js';
import { CREATING_DIR, META_FILE, TRASH_DIR } from '../../src/state/layout.js';
import type { Lease } from '../../src/state/schema.js';
import { FAKE_IMAGE, idOf, type Rig } from './fakes.js';

// What the fast tier asserts about a volume: its record, leases, mount and
// files, looked at from outside the service.

export const SMALL = { size: '16M' } as const;

export interface VolumeFacts {
  readonly listed: boolean;
  /** Mount ID → count. */
  readonly leases: Readonly<Record<string, number>>;
  readonly active: boolean;
  readonly dir: boolean;
  readonly image: boolean;
  readonly meta: boolean;
  /** Leftovers of this volume's id under .creating/ and .trash/. */
  readonly pending: readonly string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

export async function pendingOf(rig: Rig, id: string): Promise<string[]> {
  const found: string[] = [];
  for (const sub of [CREATING_DIR, TRASH_DIR]) {
    for (const entry of await entries(join(rig.roots.dataDir, sub))) if (entry.startsWith(`${id}.`)) found.push(`${sub}/${entry}`);
  }
  return found;
}

export async function factsOf(rig: Rig, name: string): Promise<VolumeFacts> {
  const id = idOf(name);
  const dir = join(rig.roots.dataDir, id);
  const record = rig.state.get(name);
  const leases: Record<string, number> = {};
  for (const [mountId, lease] of Object.entries(record?.leases ?? {})) leases[mountId] = lease.count;
  return {
    listed: record !== undefined,
    leases,
    active: rig.backing.active.has(id),
    dir: await exists(dir),
    image: await exists(join(dir, FAKE_IMAGE)),
    meta: await exists(join(dir, META_FILE)),
    pending: await pendingOf(rig, id),
  };
}

/** Listed, with its directory, image and volume.json, and nothing half-done. */
export function isWhole(facts: VolumeFacts): boolean {
  return facts.listed && facts.dir && facts.image && facts.meta && facts.pending.length === 0;
}

/** Not listed, no directory, not mounted, nothing half-done. */
export function isGone(facts: VolumeFacts): boolean {
  return !facts.listed && !facts.dir && !facts.active && facts.pending.length === 0;
}

/** Asserts that `work` rejects with a VolumeError of `code` (and a message matching `message`). */
export async function rejects(
  t: ExecutionContext,
  work: Promise<unknown>,
  code: VolumeErrorCode,
  message?: RegExp,
): Promise<VolumeError | undefined> {
  const error = await t.throwsAsync<VolumeError>(work, { instanceOf: VolumeError });
  t.is(error?.code, code, error?.message);
  if (message) t.regex(error?.message ?? '', message);
  return error;
}

/** Rewrites one lease in the store, as if it had been recorded `ageMs` ago (and in `boot`, if given). */
export async function ageLease(rig: Rig, name: string, mountId: string, ageMs: number, boot?: string): Promise<void> {
  await rig.state.update(name, (record) => {
    const lease = record.leases[mountId];
    if (!lease) throw new Error(`no lease ${mountId} on ${name}`);
    const aged: Lease = { ...lease, since: new Date(Date.now() - ageMs).toISOString(), ...(boot === undefined ? {} : { boot }) };
    return { ...record, leases: { ...record.leases, [mountId]: aged } };
  });
}

/**
 * From now on every write of the state file fails (ENOTDIR), without root:
 * its directory is moved aside and a file put in its place. `repair` puts the
 * directory back as the failed writes left it.
 */
export async function breakStateDir(rig: Rig): Promise<{ repair: () => Promise<void> }> {
  const saved = `${rig.stateDir}.saved`;
  await rename(rig.stateDir, saved);
  await writeFile(rig.stateDir, '');
  return {
    async repair() {
      await rm(rig.stateDir, { force: true });
      await rename(saved, rig.stateDir);
    },
  };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function settle<T>(work: Promise<T>): Promise<Outcome<T>> {
  return work.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

export function codeOf(outcome: Outcome<unknown>): string {
  if (outcome.ok) return 'ok';
  return outcome.error instanceof VolumeError ? outcome.error.code : `raw: ${String(outcome.error)}`;
}

/** Asserts the named facts exactly (a lease map must match in full, unlike t.like). */
export async function expectFacts(
  t: ExecutionContext,
  rig: Rig,
  name: string,
  expected: Partial<VolumeFacts>,
  message?: string,
): Promise<void> {
  const facts = await factsOf(rig, name);
  const picked = Object.fromEntries(Object.keys(expected).map((key) => [key, facts[key as keyof VolumeFacts]]));
  t.deepEqual(picked, expected, message);
}
