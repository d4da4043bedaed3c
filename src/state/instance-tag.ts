import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from './durable-file.js';
import { INSTANCE_FILE } from './layout.js';

// Device-mapper names share one namespace per host, so each plugin instance
// puts its own tag in them. Paths cannot give one: every managed plugin sees
// its data directory as /data/volumes. A random tag is made once and kept in
// the state directory; a mapping opened under an older tag is still found
// through its loop device.
export async function loadInstanceTag(stateDir: string): Promise<string> {
  const file = join(stateDir, INSTANCE_FILE);
  const text = await readFile(file, 'utf8').catch(() => '');
  const tag = text.trim();
  if (/^[0-9a-f]{8}$/.test(tag)) return tag;
  const fresh = randomBytes(4).toString('hex');
  await writeFileDurably(file, `${fresh}\n`);
  return fresh;
}
