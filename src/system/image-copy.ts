import { rm } from 'node:fs/promises';
import { CommandError, runTool } from './run.js';
import type { FilesystemType } from './mkfs.js';

// Point-in-time copies of an image file (snapshots, clones): a reflink where
// the host filesystem shares extents (btrfs, xfs with reflink), else a sparse
// copy. The filesystem inside is frozen meanwhile when it is mounted, so the
// copy is what a power cut at that instant would have left, fully flushed.

export type CopyMethod = 'reflink' | 'copy';

/**
 * Copies `source` to the new file `target`; resolves with how. `target` must
 * not exist. `sparse` false: zeros are written out, so a preallocated image's
 * copy is preallocated too (a reflink shares the extents either way).
 */
export async function copyImage(source: string, target: string, sparse: boolean, timeoutMs: number): Promise<CopyMethod> {
  try {
    await runTool('cp', ['--reflink=always', '--no-target-directory', '--', source, target], { timeoutMs });
    return 'reflink';
  } catch (error) {
    // "failed to clone … Operation not supported" (ext4, tmpfs, another filesystem): copy instead.
    if (!(error instanceof CommandError) || !/clone|not supported|cross-device/i.test(error.stderr)) throw error;
  }
  await rm(target, { force: true });
  await runTool('cp', ['--reflink=never', sparse ? '--sparse=always' : '--sparse=never', '--no-target-directory', '--', source, target], {
    timeoutMs,
  });
  return 'copy';
}

/** Flushes and blocks every write to the mounted filesystem until thawFilesystem. */
export async function freezeFilesystem(mountRoot: string, timeoutMs: number): Promise<void> {
  await runTool('fsfreeze', ['--freeze', mountRoot], { timeoutMs });
}

/** Writes go on again; a filesystem that is not frozen is left as it is. */
export async function thawFilesystem(mountRoot: string, timeoutMs: number): Promise<void> {
  try {
    await runTool('fsfreeze', ['--unfreeze', mountRoot], { timeoutMs });
  } catch (error) {
    // EINVAL: it was not frozen (a thaw after a freeze that failed, or recovery's blind thaw).
    if (error instanceof CommandError && /Invalid argument/i.test(error.stderr)) return;
    throw error;
  }
}

/**
 * Gives a copied filesystem (on an image file or an unmounted device) a new
 * UUID where two with one UUID cannot be mounted side by side: a btrfs whose
 * fsid another mounted btrfs has is refused or confused with it by kernels
 * before 6.7; it changes its metadata UUID only (instant, kernel ≥ 5.0).
 * ext4 mounts duplicates, but tools that find filesystems by UUID would not
 * tell them apart: it gets a new one (checked first: tune2fs asks for it).
 * xfs is left alone: a copy of a frozen xfs has a log to replay, which
 * xfs_admin refuses (and exits 0), so xfs volumes mount with nouuid instead.
 */
export async function newFilesystemUuid(fs: FilesystemType, target: string, timeoutMs: number): Promise<void> {
  if (fs === 'ext4') {
    await checkExt4Fresh(target, timeoutMs);
    await runTool('tune2fs', ['-U', 'random', target], { timeoutMs });
  } else if (fs === 'btrfs') {
    await runTool('btrfstune', ['-m', target], { timeoutMs });
  }
}

/**
 * e2fsck -f -p: tune2fs changes the UUID of a metadata_csum ext4 only when it
 * was checked since its last mount; 1 (errors corrected) is success.
 */
async function checkExt4Fresh(target: string, timeoutMs: number): Promise<void> {
  try {
    await runTool('e2fsck', ['-f', '-p', target], { timeoutMs });
  } catch (error) {
    if (error instanceof CommandError && error.exitCode === 1) return;
    throw error;
  }
}

/** Copies and their new identities; `longMs` bounds what reads a whole image. */
export function copyTools(timeoutMs: number, longMs: number) {
  return {
    copyImage: (source: string, target: string, sparse: boolean) => copyImage(source, target, sparse, longMs),
    freezeFilesystem: (mountRoot: string) => freezeFilesystem(mountRoot, timeoutMs),
    thawFilesystem: (mountRoot: string) => thawFilesystem(mountRoot, timeoutMs),
    newFilesystemUuid: (fs: FilesystemType, target: string) => newFilesystemUuid(fs, target, longMs),
  };
}
