import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDirectory } from './durable-file.js';
import { CREATING_DIR, TRASH_DIR } from './layout.js';

// The data directory's layout. A volume exists on disk exactly when
// <data>/<id>/ exists: it is made in .creating/ and renamed into place when
// complete, and renamed into .trash/ as the first step of a Remove. A rename is
// atomic, so a crash leaves each volume either fully there or fully gone, with
// leftovers only under the dot directories, where the next start finishes them.

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Volume directories (ids), without the dot directories. */
export async function listVolumeDirs(dataDir: string): Promise<string[]> {
  return (await listOrEmpty(dataDir)).filter((entry) => !entry.startsWith('.'));
}

export interface PendingDir {
  readonly kind: 'staging' | 'trash';
  readonly id: string;
  readonly dir: string;
}

/** Interrupted creates and removes, optionally only those of one volume id. */
export async function listPending(dataDir: string, id?: string): Promise<PendingDir[]> {
  const result: PendingDir[] = [];
  for (const [kind, sub] of [
    ['staging', CREATING_DIR],
    ['trash', TRASH_DIR],
  ] as const) {
    for (const entry of await listOrEmpty(join(dataDir, sub))) {
      const owner = entry.slice(0, entry.lastIndexOf('.'));
      if (owner && (id === undefined || owner === id)) result.push({ kind, id: owner, dir: join(dataDir, sub, entry) });
    }
  }
  return result;
}

export function newStagingDir(dataDir: string, id: string): string {
  return join(dataDir, CREATING_DIR, `${id}.${randomBytes(4).toString('hex')}`);
}

export function newTrashDir(dataDir: string, id: string): string {
  return join(dataDir, TRASH_DIR, `${id}.${Date.now().toString(36)}${randomBytes(2).toString('hex')}`);
}

/**
 * rename(2) `from` → `to` (never over a non-empty directory), durably: on a
 * journalling filesystem one rename is one transaction, which the fsync of
 * the new parent commits for both directories.
 */
export async function moveDir(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  await rename(from, to);
  await syncDirectory(dirname(to));
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function dirExists(dir: string): Promise<boolean> {
  return stat(dir).then(
    (info) => info.isDirectory(),
    () => false,
  );
}
