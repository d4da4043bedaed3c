import { lstat } from 'node:fs/promises';

export type PathKind = 'directory' | 'file' | 'symlink' | 'other' | 'missing';

/** What is at `path` itself (lstat(2): a symlink is reported, never followed). */
export async function pathKind(path: string): Promise<PathKind> {
  try {
    const info = await lstat(path);
    if (info.isSymbolicLink()) return 'symlink';
    if (info.isFile()) return 'file';
    return info.isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}
