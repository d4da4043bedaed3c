import { constants } from 'node:fs';
import { lstat, open, mkdir, readdir, rename, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Creates a sparse file of `bytes`; fails if it exists (never clobbers data). */
export async function createSparseFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.truncate(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function makeDirectory(path: string, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

/** Creates `path` (parents as needed); fails if `path` itself already exists. */
export async function makeNewDirectory(path: string, mode = 0o700): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode });
  await mkdir(path, { mode });
}

/**
 * Makes `path` as a directory with this owner and mode. mkdir fails when it
 * exists (EEXIST: never replaced, another host's say); the new directory
 * starts 0700 and is changed through a descriptor opened without following
 * links and checked to be the directory just made, so someone who can write
 * the parent (a GlusterFS peer) cannot point the chown or chmod elsewhere.
 * On failure the directory goes again.
 */
export async function makeOwnedDirectory(path: string, owner: { uid?: number; gid?: number; mode?: number }): Promise<void> {
  await mkdir(path, { mode: 0o700 });
  try {
    const made = await lstat(path);
    const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      const opened = await handle.stat();
      if (opened.ino !== made.ino || opened.dev !== made.dev) throw new Error(`${path} was replaced while it was being made`);
      if (owner.uid !== undefined || owner.gid !== undefined) await handle.chown(owner.uid ?? -1, owner.gid ?? -1);
      await handle.chmod(owner.mode ?? 0o755);
    } finally {
      await handle.close();
    }
  } catch (error) {
    await rmdir(path).catch(() => undefined);
    throw error;
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

// Many of our file questions have a natural answer for "nothing is there".
// Module-private on purpose: createSystemTools spreads this module's exports.
async function orWhenMissing<T>(work: () => Promise<T>, missing: T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw error;
  }
}

/** Removes an empty directory; a missing one is fine. Never removes content. */
export async function removeEmptyDirectory(path: string): Promise<void> {
  await orWhenMissing(() => rmdir(path), undefined);
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface FileAllocation {
  readonly apparentBytes: number;
  readonly allocatedBytes: number;
}

export async function fileAllocation(path: string): Promise<FileAllocation> {
  const info = await stat(path);
  return { apparentBytes: info.size, allocatedBytes: info.blocks * 512 };
}

export interface FilesystemUsage {
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly availableBytes: number;
}

// statfs(2) on one mountpoint: no process, no shell, no walk over every mount
// of the host (a hung network mount elsewhere cannot stall us).
export async function filesystemUsage(path: string): Promise<FilesystemUsage> {
  const info = await statfs(path);
  return {
    totalBytes: info.blocks * info.bsize,
    usedBytes: (info.blocks - info.bfree) * info.bsize,
    availableBytes: info.bavail * info.bsize,
  };
}

export interface FileStat {
  readonly isFile: boolean;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** stat(2) of a path, or undefined when nothing is there. */
export async function fileStat(path: string): Promise<FileStat | undefined> {
  return orWhenMissing(async () => {
    const info = await stat(path);
    return { isFile: info.isFile(), mode: info.mode & 0o7777, size: info.size, mtimeMs: info.mtimeMs };
  }, undefined);
}

/** rename(2) of a directory, creating the destination's parent (0700). */
export async function moveDirectory(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  await rename(from, to);
}

/**
 * "major:minor:inode" of a file, comparable with losetup's BACK-MAJ:MIN and
 * BACK-INO; undefined when the file is missing.
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  return orWhenMissing(async () => {
    const info = await stat(path, { bigint: true });
    // Linux dev_t: major in bits 8-19 and 32+, minor in bits 0-7 and 20+.
    const major = ((info.dev >> 8n) & 0xfffn) | ((info.dev >> 32n) & ~0xfffn);
    const minor = (info.dev & 0xffn) | ((info.dev >> 12n) & ~0xffn);
    return `${major}:${minor}:${info.ino}`;
  }, undefined);
}

export async function listDirectory(path: string): Promise<string[]> {
  return orWhenMissing(() => readdir(path), []);
}

/**
 * Makes the finished file `from` durable and renames it to `to` (replacing
 * what is there), then makes the rename durable: after a power cut `to` is
 * the old file or the whole new one.
 */
export async function commitFile(from: string, to: string, renamed?: () => void): Promise<void> {
  const handle = await open(from, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(from, to);
  renamed?.();
  const dir = await open(dirname(to), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * rename(2) of the directory `from` over the empty directory `to`, in one
 * step (the kernel refuses if `to` holds anything), made durable.
 */
export async function replaceEmptyDirectory(from: string, to: string): Promise<void> {
  await rename(from, to);
  const dir = await open(dirname(to), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
