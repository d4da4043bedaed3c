import { loopTools } from './loop.js';
import { mkfsTools, type FilesystemType } from './mkfs.js';
import { mountTools } from './mount.js';
import { cryptTools } from './cryptsetup.js';
import { mapperTools } from './device-mapper.js';
import { readKeyFile } from './keyfile-read.js';
import { pathKind } from './dir-check.js';
import { probeFilesystem } from './filesystems.js';
import { measureCompression } from './compsize.js';
import * as files from './files.js';
import * as gluster from './gluster.js';
import { scanBindMounts } from './mount-users.js';
import { readBootId } from './boot-id.js';
import { createAllocatedFile } from './fallocate.js';
import { copyTools } from './image-copy.js';
import { tarTools } from './tar.js';
import { growTools } from './grow.js';
import { mountUsage } from './mount-usage.js';
import { disableCoreDumps } from './core-limit.js';

/** e2fsck, a filesystem's grow and a whole-image copy walk everything: killing them halfway is worse than waiting. */
const LONG_TIMEOUT_MS = 3_600_000;

/** A tar of a volume's files streams at the pace of its reader: hours for a large one over a slow pipe. */
const STREAM_TIMEOUT_MS = 6 * 3_600_000;

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
export { CommandError, findHung, HungCommandError } from './run.js';
export type { StreamingTool } from './run.js';

/**
 * Every host operation the backings may perform, with the command timeout
 * bound in. Each module registers its own wrappers (loopTools, cryptTools…);
 * this only puts them together. Backings receive this object, so a test can
 * make one real step fail and prove the others are undone.
 */
export function createSystemTools(timeoutMs: number, runtimeDir = '/run') {
  return {
    ...loopTools(timeoutMs),
    ...mountTools(timeoutMs),
    ...mkfsTools(timeoutMs),
    ...cryptTools(timeoutMs, runtimeDir),
    ...mapperTools(timeoutMs),
    ...growTools(timeoutMs, LONG_TIMEOUT_MS),
    ...copyTools(timeoutMs, LONG_TIMEOUT_MS),
    ...tarTools(STREAM_TIMEOUT_MS, LONG_TIMEOUT_MS),
    /** Bind mounts (root not "/") in every mount namespace: who really uses a volume. */
    scanBindMounts: () => scanBindMounts(),
    readBootId,
    /** RLIMIT_CORE 0 for this process: keys in memory never reach a core file. */
    disableCoreDumps: () => disableCoreDumps(timeoutMs),
    createAllocatedFile: (path: string, bytes: number) => createAllocatedFile(path, bytes, timeoutMs),
    /** O_NOFOLLOW|O_NONBLOCK, checked on the descriptor, bounded in bytes and time. */
    readKeyFile: (path: string) => readKeyFile(path),
    pathKind,
    /** statfs of a volume's mount, in a child process: a mount whose storage hangs cannot stall the plugin. */
    mountUsage: (path: string) => mountUsage(path, timeoutMs),
    probeFilesystem: (fs: FilesystemType) => probeFilesystem(fs, timeoutMs),
    /** Bounded separately: it walks every file of the volume. */
    measureCompression: (path: string, limitMs: number) => measureCompression(path, Math.min(limitMs, timeoutMs)),
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
