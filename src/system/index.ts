import { attachLoop, detachLoop, listLoops } from './loop.js';
import { makeFilesystem, type FilesystemType } from './mkfs.js';
import { bindMount, detachMount, listMounts, mountDevice, unmount } from './mount.js';
import {
  cipherSupported,
  luksAddKey,
  luksClose,
  luksDump,
  luksErase,
  luksFormat,
  luksOpen,
  luksRemoveKey,
  luksStatus,
  luksUUID,
  luksNewUUID,
  type FormatOptions,
} from './cryptsetup.js';
import { mappingNamed, mappingsOn, probeDmCrypt } from './device-mapper.js';
import { readKeyFile } from './keyfile-read.js';
import { pathKind } from './dir-check.js';
import { probeFilesystem } from './filesystems.js';
import { measureCompression } from './compsize.js';
import * as files from './files.js';
import * as gluster from './gluster.js';
import { scanBindMounts } from './mount-users.js';
import { readBootId } from './boot-id.js';
import { createAllocatedFile } from './fallocate.js';
import { changing, snapshotCache } from './snapshot-cache.js';
import { copyImage, freezeFilesystem, newFilesystemUuid, thawFilesystem } from './image-copy.js';
import { packTree, unpackTree } from './tar.js';
import { canGrowMountedExt4, checkExt4, cutImage, extendImage, growFilesystem, luksResize, refreshLoopSize } from './grow.js';

/** e2fsck and a filesystem's grow walk the whole filesystem: killing them halfway is worse than waiting. */
const GROW_TIMEOUT_MS = 3_600_000;

/** A tar of a volume's files streams at the pace of its reader: hours for a large one over a slow pipe. */
const STREAM_TIMEOUT_MS = 6 * 3_600_000;

/** How long a mount table or loop list may be shared (our own changes invalidate it at once). */
const LISTING_TTL_MS = 250;

export type { LoopDevice } from './loop.js';
export type { MountEntry } from './mount.js';
export type { BindMount, BindMountScan } from './mount-users.js';
export type { FilesystemType } from './mkfs.js';
export type { FileAllocation, FilesystemUsage } from './files.js';
export type { FormatOptions, Pbkdf } from './cryptsetup.js';
export type { Availability, Mapping } from './device-mapper.js';
export type { PathKind } from './dir-check.js';
export type { CompressionUsage } from './compsize.js';
export type { CopyMethod } from './image-copy.js';
export { CommandError } from './run.js';
export type { StreamingTool } from './run.js';

/**
 * Every host operation the backings may perform, with the command timeout
 * bound in. Backings receive this object, so a test can make one real step
 * fail and prove the others are undone.
 */
export function createSystemTools(timeoutMs: number, runtimeDir = '/run') {
  const loops = snapshotCache(() => listLoops(timeoutMs), LISTING_TTL_MS);
  const mounts = snapshotCache(listMounts, LISTING_TTL_MS);
  return {
    attachLoop: (image: string) => changing(loops, () => attachLoop(image, timeoutMs)),
    detachLoop: (device: string) => changing(loops, () => detachLoop(device, timeoutMs)),
    listLoops: () => loops.get(),
    makeFilesystem: (fs: FilesystemType, target: string) => makeFilesystem(fs, target, timeoutMs),
    mount: (device: string, target: string, fsType: string, options: readonly string[]) =>
      changing(mounts, () => mountDevice(device, target, fsType, options, timeoutMs)),
    unmount: (target: string) => changing(mounts, () => unmount(target, timeoutMs)),
    bindMount: (source: string, target: string) => changing(mounts, () => bindMount(source, target, timeoutMs)),
    detachMount: (target: string) => changing(mounts, () => detachMount(target, timeoutMs)),
    listMounts: () => mounts.get(),
    /** For mounts made by other tools (the GlusterFS client): the next listing is read afresh. */
    forgetMounts: () => mounts.invalidate(),
    /** Bind mounts (root not "/") in every mount namespace: who really uses a volume. */
    scanBindMounts: () => scanBindMounts(),
    readBootId,
    extendImage: (path: string, bytes: number, allocated: boolean) => extendImage(path, bytes, allocated, timeoutMs),
    cutImage,
    canGrowMountedExt4,
    // Bounded by the filesystem's size, not by a request: an hour at most.
    checkExt4: (device: string) => checkExt4(device, GROW_TIMEOUT_MS),
    refreshLoopSize: (device: string) => refreshLoopSize(device, timeoutMs),
    luksResize: (name: string, key: Uint8Array) => luksResize(name, key, timeoutMs),
    growFilesystem: (fs: FilesystemType, device: string, mountRoot: string) => growFilesystem(fs, device, mountRoot, GROW_TIMEOUT_MS),
    createAllocatedFile: (path: string, bytes: number) => createAllocatedFile(path, bytes, timeoutMs),
    luksFormat: (device: string, key: Uint8Array, options: FormatOptions) => luksFormat(device, key, options, timeoutMs),
    luksOpen: (device: string, name: string, key: Uint8Array) => luksOpen(device, name, key, timeoutMs),
    luksClose: (name: string) => luksClose(name, timeoutMs),
    luksStatus: (name: string) => luksStatus(name, timeoutMs),
    luksDump: (device: string) => luksDump(device, timeoutMs),
    luksAddKey: (device: string, existing: Uint8Array, added: Uint8Array) => luksAddKey(device, existing, added, timeoutMs, runtimeDir),
    luksRemoveKey: (device: string, key: Uint8Array) => luksRemoveKey(device, key, timeoutMs),
    luksErase: (device: string) => luksErase(device, timeoutMs),
    luksUUID: (device: string) => luksUUID(device, timeoutMs),
    luksNewUUID: (device: string) => luksNewUUID(device, timeoutMs),
    // A sparse copy reads the whole image: bounded by its size, not by a request.
    copyImage: (source: string, target: string, sparse: boolean) => copyImage(source, target, sparse, GROW_TIMEOUT_MS),
    freezeFilesystem: (mountRoot: string) => freezeFilesystem(mountRoot, timeoutMs),
    thawFilesystem: (mountRoot: string) => thawFilesystem(mountRoot, timeoutMs),
    newFilesystemUuid: (fs: FilesystemType, target: string) => newFilesystemUuid(fs, target, GROW_TIMEOUT_MS),
    mappingNamed: (name: string) => mappingNamed(name),
    mappingsOn: (device: string) => mappingsOn(device),
    /** O_NOFOLLOW|O_NONBLOCK, checked on the descriptor, bounded in bytes and time. */
    readKeyFile: (path: string) => readKeyFile(path),
    pathKind,
    probeDmCrypt: () => probeDmCrypt(timeoutMs),
    cipherSupported: (cipher: string, keySizeBits: number) => cipherSupported(cipher, keySizeBits, timeoutMs),
    probeFilesystem: (fs: FilesystemType) => probeFilesystem(fs, timeoutMs),
    /** Bounded separately: it walks every file of the volume. */
    measureCompression: (path: string, limitMs: number) => measureCompression(path, Math.min(limitMs, timeoutMs)),
    packTree: (dir: string) => packTree(dir, STREAM_TIMEOUT_MS),
    unpackTree: (dir: string) => unpackTree(dir, STREAM_TIMEOUT_MS),
    // Plain file operations need no timeout.
    ...files,
  };
}

export type SystemTools = ReturnType<typeof createSystemTools>;

export type { GlusterBrick, GlusterVolume, BrickStatus } from './gluster.js';

/** The gluster CLI with socket and timeout bound in. */
export function createGlusterTools(options: gluster.GlusterOptions) {
  return {
    volumeInfo: (name?: string) => gluster.volumeInfo(options, name),
    peerCount: () => gluster.peerCount(options),
    volumeCreate: (name: string, replica: number, arbiter: boolean, bricks: readonly gluster.GlusterBrick[], force: boolean) =>
      gluster.volumeCreate(name, replica, arbiter, bricks, force, options),
    volumeStart: (name: string, force = false) => gluster.volumeStart(name, force, options),
    volumeStop: (name: string) => gluster.volumeStop(name, options),
    volumeDelete: (name: string) => gluster.volumeDelete(name, options),
    volumeSet: (name: string, key: string, value: string) => gluster.volumeSet(name, key, value, options),
    quotaLimit: (name: string, bytes: number) => gluster.quotaLimit(name, bytes, options),
    quotaEnable: (name: string) => gluster.quotaEnable(name, options),
    quotaSet: (name: string, path: string, bytes: number) => gluster.quotaSet(name, path, bytes, options),
    quotaRemove: (name: string, path: string) => gluster.quotaRemove(name, path, options),
    localUuid: () => gluster.localUuid(options),
    fuseClients: (name: string) => gluster.fuseClients(name, options),
    volumeStatus: (name: string) => gluster.volumeStatus(name, options),
    healCount: (name: string) => gluster.healCount(name, options),
    healStart: (name: string) => gluster.healStart(name, options),
    splitBrainCount: (name: string) => gluster.splitBrainCount(name, options),
    mount: (server: string, volume: string, backups: readonly string[], target: string) =>
      gluster.mountGlusterfs(server, volume, backups, target, options.timeoutMs),
  };
}

export type GlusterTools = ReturnType<typeof createGlusterTools>;
