import { open } from 'node:fs/promises';
import { runTool } from './run.js';

/** Creates a fully allocated file of `bytes` (`-o sparse=false`); fails if it exists or the disk is full. */
export async function createAllocatedFile(path: string, bytes: number, timeoutMs: number): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  await handle.close();
  await runTool('fallocate', ['--length', String(bytes), '--', path], { timeoutMs });
}
