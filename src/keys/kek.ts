import { readFile, stat } from 'node:fs/promises';

// The host key-encryption key: a file of 32 raw bytes or 64 hex digits that
// only root may read. Loaded once at start; a bad one stops the plugin rather
// than silently storing keys unsealed.
export async function loadKek(path: string): Promise<Buffer> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`KEK file ${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0)
    throw new Error(`KEK file ${path} must not be readable by group or others (mode ${(info.mode & 0o777).toString(8)})`);
  const raw = await readFile(path);
  if (raw.length === 32) return raw;
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  throw new Error(`KEK file ${path} must hold 32 raw bytes or 64 hex digits`);
}
