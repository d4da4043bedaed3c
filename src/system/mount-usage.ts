import type { FilesystemUsage } from './files.js';
import { runTool } from './run.js';
import { quoted } from '../lib/quoted.js';

// statfs(2) of a volume's mount in a child process: when the storage behind
// the mount stops answering (a FUSE server, a GlusterFS brick), statfs sleeps
// in the kernel, unkillable. In the plugin's own process that would hold one
// of libuv's four threads for ever; a child can be left behind, and its hang
// is seen (HungCommandError) and marks the volume busy.
export async function mountUsage(path: string, timeoutMs: number): Promise<FilesystemUsage> {
  const { stdout } = await runTool('stat', ['--file-system', '--format=%S %b %f %a', '--', path], { timeoutMs });
  const [blockSize, blocks, free, available] = stdout.trim().split(' ').map(Number);
  if ([blockSize, blocks, free, available].some((n) => n === undefined || !Number.isSafeInteger(n))) {
    throw new Error(`stat --file-system printed ${quoted(stdout.slice(0, 80))}`);
  }
  return {
    totalBytes: blocks! * blockSize!,
    usedBytes: (blocks! - free!) * blockSize!,
    availableBytes: available! * blockSize!,
  };
}
