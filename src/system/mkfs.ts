import { runTool } from './run.js';

export type FilesystemType = 'ext4' | 'xfs' | 'btrfs';

// Fast, sparse-friendly formatting: lazy inode/journal init and no discard, so a
// 10 GiB image is formatted in milliseconds and stays sparse on the host.
const MKFS_ARGS: Record<FilesystemType, (target: string) => string[]> = {
  ext4: (target) => ['mkfs.ext4', '-q', '-F', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', '--', target],
  xfs: (target) => ['mkfs.xfs', '-q', '-f', '-K', '--', target],
  btrfs: (target) => ['mkfs.btrfs', '-q', '-f', '-K', '--', target],
};

export async function makeFilesystem(fs: FilesystemType, target: string, timeoutMs: number): Promise<void> {
  const [command, ...args] = MKFS_ARGS[fs](target);
  await runTool(command!, args, { timeoutMs });
}

export function mkfsTools(timeoutMs: number) {
  return { makeFilesystem: (fs: FilesystemType, target: string) => makeFilesystem(fs, target, timeoutMs) };
}
