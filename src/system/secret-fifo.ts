import { constants } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from './run.js';

// Some tools take a second secret only as a file path (luksAddKey's new key).
// A FIFO in a private directory hands it over without it touching a disk or
// appearing in argv: the bytes exist only in the pipe buffer.
export async function withSecretFifo<T>(
  secret: Uint8Array,
  timeoutMs: number,
  runtimeDir: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(runtimeDir, 'custom-secret-'));
  const fifo = join(dir, 'key');
  try {
    await runTool('mkfifo', ['-m', '0600', '--', fifo], { timeoutMs });
    // Opening a FIFO for writing blocks until the reader opens it: start the
    // reader (the tool) first, then write and close.
    const reader = use(fifo);
    const writer = (async () => {
      const handle = await open(fifo, 'w');
      try {
        await handle.write(secret);
      } finally {
        await handle.close();
      }
    })();
    // A tool that fails before opening the FIFO would leave the writer's
    // open() blocked for ever: open the read side once to release it.
    const released = reader.catch(async (error: unknown) => {
      const handle = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      await handle.close();
      throw error;
    });
    const [result] = await Promise.all([released, writer.catch(() => undefined)]);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
