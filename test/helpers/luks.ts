import { readdir, readFile, open } from 'node:fs/promises';

/** /dev/mapper entries this plugin made (custom-*). */
export async function ourMappings(): Promise<string[]> {
  const entries = await readdir('/dev/mapper').catch(() => [] as string[]);
  return entries.filter((entry) => entry.startsWith('custom-'));
}

/** Does `file` contain `needle` anywhere? Reads in chunks (images are large and sparse). */
export async function fileContains(file: string, needle: Buffer): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    let carry = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return false;
      const window = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      if (window.includes(needle)) return true;
      carry = window.subarray(Math.max(0, window.length - needle.length + 1));
    }
  } finally {
    await handle.close();
  }
}

export async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8');
}
