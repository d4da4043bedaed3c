import { readFile, stat } from 'node:fs/promises';

// The host key-encryption key: a file of 32 raw bytes or 64 hex digits that
// only root may read. Loaded once at start; a bad one stops the plugin rather
// than silently storing keys unsealed. The file's bytes are decoded in place
// (no string ever holds them: a JS string cannot be wiped) and zeroed after.
export async function loadKek(path: string): Promise<Buffer> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`KEK file ${path} is not a regular file`);
  // The plugin runs as root: a KEK file another user owns could be replaced by that user.
  if (info.uid !== (process.getuid?.() ?? 0))
    throw new Error(`KEK file ${path} must be owned by root (the plugin's user), not uid ${info.uid}`);
  if ((info.mode & 0o077) !== 0)
    throw new Error(`KEK file ${path} must not be readable by group or others (mode ${(info.mode & 0o777).toString(8)})`);
  const raw = await readFile(path);
  if (raw.length === 32) return raw;
  try {
    const kek = decodeHex(raw);
    if (kek) return kek;
  } finally {
    raw.fill(0);
  }
  throw new Error(`KEK file ${path} must hold 32 raw bytes or 64 hex digits`);
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

function nibble(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** 64 hex digits (surrounding whitespace allowed) as 32 bytes, or undefined. */
function decodeHex(raw: Buffer): Buffer | undefined {
  let start = 0;
  let end = raw.length;
  while (start < end && WHITESPACE.has(raw[start]!)) start += 1;
  while (end > start && WHITESPACE.has(raw[end - 1]!)) end -= 1;
  if (end - start !== 64) return undefined;
  const kek = Buffer.alloc(32);
  for (let i = 0; i < 32; i += 1) {
    const high = nibble(raw[start + 2 * i]!);
    const low = nibble(raw[start + 2 * i + 1]!);
    if (high < 0 || low < 0) {
      kek.fill(0);
      return undefined;
    }
    kek[i] = (high << 4) | low;
  }
  return kek;
}
