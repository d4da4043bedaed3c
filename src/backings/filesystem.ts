import type { StatusValue, VolumePaths } from './backing.js';
import type { SystemTools } from '../system/index.js';
import type { UndoStack } from './undo.js';

// The filesystem layer: mount a formatted block device at the volume's mount
// root and expose a data directory inside it.

export async function isMountedAt(tools: SystemTools, target: string): Promise<boolean> {
  const mounts = await tools.listMounts();
  return mounts.some((entry) => entry.target === target);
}

export async function mountFilesystem(
  tools: SystemTools,
  device: string,
  fsType: string,
  options: readonly string[],
  paths: VolumePaths,
  undo: UndoStack,
): Promise<void> {
  await tools.makeDirectory(paths.mountRoot, 0o755);
  undo.push('remove mount directory', () => tools.removeEmptyDirectory(paths.mountRoot));
  await tools.mount(device, paths.mountRoot, fsType, options);
  undo.push(`unmount ${paths.mountRoot}`, () => tools.unmount(paths.mountRoot));
  await ensureDataDirectory(tools, paths);
}

export async function ensureDataDirectory(tools: SystemTools, paths: VolumePaths): Promise<void> {
  await tools.makeDirectory(paths.mountpoint, 0o755);
}

export async function unmountFilesystem(tools: SystemTools, paths: VolumePaths): Promise<void> {
  if (await isMountedAt(tools, paths.mountRoot)) await tools.unmount(paths.mountRoot);
  await tools.removeEmptyDirectory(paths.mountRoot);
}

export async function usageStatus(
  tools: SystemTools,
  paths: VolumePaths,
): Promise<Record<string, StatusValue>> {
  const usage = await tools.filesystemUsage(paths.mountRoot);
  return {
    usedBytes: usage.usedBytes,
    availableBytes: usage.availableBytes,
    capacityBytes: usage.totalBytes,
  };
}
