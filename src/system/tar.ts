import { CommandError, runTool, streamTool, type StreamingTool } from './run.js';

// GNU tar for a volume's files: owners as numbers (they mean the same in any
// container), modes, times, hard links, sparse files, ACLs and extended
// attributes; never following a symlink out of the tree, never crossing into
// another mount. Extraction keeps tar's own guards against hostile archives:
// leading '/' and '..' members are refused, and a symlink that points out of
// the tree is made last, so nothing is written through it.

const COMMON = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

/**
 * tar of everything under `dir` (its own owner and mode as "./"), on stdout.
 * Exit 1 ("file changed as we read it": a volume in use) is success: the
 * stream holds the file as tar read it. Worse (2) is a failure.
 */
export function packTree(dir: string, timeoutMs: number): StreamingTool {
  const tool = streamTool(
    'tar',
    ['--create', '--file=-', '--directory', dir, ...COMMON, '--sparse', '--one-file-system', '--warning=no-file-changed', '.'],
    { timeoutMs, stdin: false, stdout: true },
  );
  const done = tool.done.catch((error: unknown) => {
    if (error instanceof CommandError && error.exitCode === 1 && !error.timedOut) return;
    throw error;
  });
  return { ...tool, done };
}

/** Flushes the filesystem holding `path` (syncfs): what tar wrote is on disk before it is committed. */
export async function syncFilesystem(path: string, timeoutMs: number): Promise<void> {
  await runTool('sync', ['--file-system', path], { timeoutMs });
}

/** Extracts the tar on stdin into `dir` (which exists), as root keeps owners. */
export function unpackTree(dir: string, timeoutMs: number): StreamingTool {
  return streamTool('tar', ['--extract', '--file=-', '--directory', dir, ...COMMON, '--same-owner', '--same-permissions'], {
    timeoutMs,
    stdin: true,
    stdout: false,
  });
}

/** `streamMs` bounds a whole stream, which goes at its reader's pace. */
export function tarTools(streamMs: number, longMs: number) {
  return {
    packTree: (dir: string) => packTree(dir, streamMs),
    unpackTree: (dir: string) => unpackTree(dir, streamMs),
    syncFilesystem: (path: string) => syncFilesystem(path, longMs),
  };
}
