import { runTool } from './run.js';

export interface CompressionUsage {
  /** Bytes the files hold (what a reader sees). */
  readonly logicalBytes: number;
  /** Bytes on disk after compression. */
  readonly storedBytes: number;
}

// `compsize -b -x PATH`: "TOTAL  <perc>  <disk usage>  <uncompressed>  <referenced>".
export function parseCompsize(stdout: string): CompressionUsage {
  const total = stdout.split('\n').find((line) => line.startsWith('TOTAL'));
  if (!total) return { logicalBytes: 0, storedBytes: 0 }; // "No files."
  const [, , disk, uncompressed] = total.trim().split(/\s+/);
  const storedBytes = Number(disk);
  const logicalBytes = Number(uncompressed);
  if (!Number.isFinite(storedBytes) || !Number.isFinite(logicalBytes)) {
    throw new Error(`cannot read compsize output: ${total}`);
  }
  return { logicalBytes, storedBytes };
}

export async function measureCompression(path: string, timeoutMs: number): Promise<CompressionUsage> {
  const result = await runTool('compsize', ['-b', '-x', '--', path], { timeoutMs }).catch((error: unknown) => {
    // compsize exits non-zero on a filesystem with no regular files yet, and
    // while every file's data still waits in memory (delalloc): nothing stored.
    if (error instanceof Error && /No files|All empty or still-delalloced/.test(error.message)) return { stdout: '', stderr: '' };
    throw error;
  });
  return parseCompsize(result.stdout);
}
