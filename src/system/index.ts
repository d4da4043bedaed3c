import { attachLoop, detachLoop, listLoops } from './loop.js';
import { makeFilesystem, type FilesystemType } from './mkfs.js';
import { listMounts, mountDevice, unmount } from './mount.js';
import {
  createSparseFile,
  fileAllocation,
  filesystemUsage,
  makeDirectory,
  makeNewDirectory,
  removeEmptyDirectory,
  removeTree,
} from './files.js';

export type { LoopDevice } from './loop.js';
export type { MountEntry } from './mount.js';
export type { FilesystemType } from './mkfs.js';
export type { FileAllocation, FilesystemUsage } from './files.js';
export { CommandError } from './run.js';

/**
 * Every host operation the backings may perform, with the command timeout
 * bound in. Backings receive this object, so a test can make one real step
 * fail and prove the others are undone.
 */
export function createSystemTools(timeoutMs: number) {
  return {
    attachLoop: (image: string) => attachLoop(image, timeoutMs),
    detachLoop: (device: string) => detachLoop(device, timeoutMs),
    listLoops: () => listLoops(timeoutMs),
    makeFilesystem: (fs: FilesystemType, target: string) => makeFilesystem(fs, target, timeoutMs),
    mount: (device: string, target: string, fsType: string, options: readonly string[]) =>
      mountDevice(device, target, fsType, options, timeoutMs),
    unmount: (target: string) => unmount(target, timeoutMs),
    listMounts,
    createSparseFile,
    makeDirectory,
    makeNewDirectory,
    removeTree,
    removeEmptyDirectory,
    fileAllocation,
    filesystemUsage,
  };
}

export type SystemTools = ReturnType<typeof createSystemTools>;
