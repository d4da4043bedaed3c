import { readFile, truncate } from 'node:fs/promises';
import { CommandError, runTool } from './run.js';
import type { FilesystemType } from './mkfs.js';

// Growing a volume in place, one layer at a time, each while it is in use:
// the image file, the loop device's idea of its size, the LUKS mapping, the
// filesystem. Every step only ever adds space.

/** Extends an image to `bytes`: sparse, or allocated (`-o sparse=false`) so the space is really there. */
export async function extendImage(path: string, bytes: number, allocated: boolean, timeoutMs: number): Promise<void> {
  if (allocated) await runTool('fallocate', ['--length', String(bytes), '--', path], { timeoutMs });
  else await truncate(path, bytes);
}

/** Cuts an image back to `bytes` (the undo of extendImage, before the filesystem's grow started). */
export async function cutImage(path: string, bytes: number): Promise<void> {
  await truncate(path, bytes);
}

/** The loop device re-reads its backing file's size. */
export async function refreshLoopSize(device: string, timeoutMs: number): Promise<void> {
  await runTool('losetup', ['--set-capacity', device], { timeoutMs });
}

/**
 * A LUKS2 mapping takes its device's new size. LUKS2 keeps the volume key in
 * the kernel keyring, so cryptsetup asks for the key again: it goes on stdin.
 */
export async function luksResize(name: string, key: Uint8Array, timeoutMs: number): Promise<void> {
  await runTool('cryptsetup', ['resize', '--key-file=-', '--', name], { timeoutMs, input: key });
}

/** The mounted filesystem fills its (grown) device: resize2fs, xfs_growfs or btrfs resize, all online. */
export async function growFilesystem(fs: FilesystemType, device: string, mountRoot: string, timeoutMs: number): Promise<void> {
  // Our own absolute paths (never a leading '-'): no '--' needed, and btrfs's subcommand would not take it.
  if (fs === 'ext4') await runTool('resize2fs', [device], { timeoutMs });
  else if (fs === 'xfs') await runTool('xfs_growfs', [mountRoot], { timeoutMs });
  else await runTool('btrfs', ['filesystem', 'resize', 'max', mountRoot], { timeoutMs });
}

const CAP_SYS_RESOURCE = 24;

/**
 * Can this process grow a mounted ext4? The kernel's online resize wants
 * CAP_SYS_RESOURCE, which some hosts withhold even from root (this project's
 * CI machines) and a managed plugin does not ask for. xfs and btrfs need
 * only CAP_SYS_ADMIN; an unmounted ext4 is grown offline.
 */
export async function canGrowMountedExt4(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8');
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return effective !== undefined && (BigInt(`0x${effective}`) & (1n << BigInt(CAP_SYS_RESOURCE))) !== 0n;
}

/** e2fsck -f -p, which resize2fs wants before an offline grow; exit 1 ("errors corrected") is fine. */
export async function checkExt4(device: string, timeoutMs: number): Promise<void> {
  try {
    await runTool('e2fsck', ['-f', '-p', device], { timeoutMs });
  } catch (error) {
    if (!(error instanceof CommandError && error.exitCode === 1)) throw error;
  }
}

/** Growing, layer by layer; `longMs` bounds e2fsck and the filesystem's grow (they walk the whole filesystem). */
export function growTools(timeoutMs: number, longMs: number) {
  return {
    extendImage: (path: string, bytes: number, allocated: boolean) => extendImage(path, bytes, allocated, timeoutMs),
    cutImage,
    canGrowMountedExt4,
    checkExt4: (device: string) => checkExt4(device, longMs),
    refreshLoopSize: (device: string) => refreshLoopSize(device, timeoutMs),
    luksResize: (name: string, key: Uint8Array) => luksResize(name, key, timeoutMs),
    growFilesystem: (fs: FilesystemType, device: string, mountRoot: string) => growFilesystem(fs, device, mountRoot, longMs),
  };
}
