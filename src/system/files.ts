import { open, mkdir, rm, rmdir, stat, statfs } from 'node:fs/promises';
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

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Removes an empty directory; a missing one is fine. Never removes content. */
export async function removeEmptyDirectory(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
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
