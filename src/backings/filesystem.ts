import type { MountIdentity, StatusValue, VolumePaths } from './backing.js';
import type { SystemTools } from '../system/index.js';
import type { UndoStack } from './undo.js';
import type { PathKind } from '../system/index.js';
import type { DataOwner } from '../state/schema.js';

// The filesystem layer: mount a formatted block device at the volume's mount
// root and expose a data directory inside it.

export async function isMountedAt(tools: SystemTools, target: string): Promise<boolean> {
  const mounts = await tools.listMounts();
  return mounts.some((entry) => entry.target === target);
}

/** Our own mount of the volume, as mountinfo shows it, plus any extra device paths (loop, mapper). */
export async function mountIdentity(tools: SystemTools, target: string, devices: readonly string[]): Promise<MountIdentity> {
  const own = (await tools.listMounts()).filter((entry) => entry.target === target);
  return {
    majMins: own.map((entry) => entry.majMin),
    sources: [...new Set([...own.map((entry) => entry.source), ...devices])],
  };
}

export async function mountFilesystem(
  tools: SystemTools,
  device: string,
  fsType: string,
  options: readonly string[],
  paths: VolumePaths,
  undo: UndoStack,
  owner?: DataOwner,
): Promise<void> {
  await tools.makeDirectory(paths.mountRoot, 0o755);
  undo.push('remove mount directory', () => tools.removeEmptyDirectory(paths.mountRoot));
  await tools.mount(device, paths.mountRoot, fsType, options);
  undo.push(`unmount ${paths.mountRoot}`, () => tools.unmount(paths.mountRoot));
  await ensureDataDirectory(tools, paths, owner);
}

const NOT_A_DIRECTORY: Record<Exclude<PathKind, 'directory'>, string> = {
  file: 'is not a directory',
  symlink: 'is a symbolic link',
  other: 'is not a directory',
  missing: 'could not be created',
};

// The Mountpoint handed to Docker is `_data` inside the volume's filesystem,
// whose content anyone with the volume wrote: `_data -> /` would give a
// container the host's root. It must be a real directory, and it is created
// exclusively (mkdir -p would follow a symlink there without a word).
// `owner` (-o uid/gid/mode) is applied once, as this makes it: afterwards
// the volume's users own it, and a chmod inside a container is kept.
export async function ensureDataDirectory(tools: SystemTools, paths: VolumePaths, owner?: DataOwner): Promise<void> {
  if ((await tools.pathKind(paths.mountpoint)) === 'missing') {
    const make = owner ? tools.makeOwnedDirectory(paths.mountpoint, owner) : tools.makeNewDirectory(paths.mountpoint, 0o755);
    await make.catch((error: unknown) => {
      const { code } = error as NodeJS.ErrnoException;
      if (code !== 'EEXIST') throw error;
    });
  }
  const kind = await tools.pathKind(paths.mountpoint);
  if (kind !== 'directory') {
    throw new Error(
      `_data at the top of the volume's filesystem ${NOT_A_DIRECTORY[kind]}; the plugin refuses to hand it to a container. Remove or rename _data inside the volume's filesystem, then mount again`,
    );
  }
}

export async function unmountFilesystem(tools: SystemTools, paths: VolumePaths): Promise<void> {
  if (await isMountedAt(tools, paths.mountRoot)) await tools.unmount(paths.mountRoot);
  await tools.removeEmptyDirectory(paths.mountRoot);
}

export async function usageStatus(tools: SystemTools, paths: VolumePaths): Promise<Record<string, StatusValue>> {
  const usage = await tools.mountUsage(paths.mountRoot);
  return {
    usedBytes: usage.usedBytes,
    availableBytes: usage.availableBytes,
    capacityBytes: usage.totalBytes,
  };
}
