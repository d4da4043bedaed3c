import { createHash } from 'node:crypto';

// Part of the on-disk format: volume directories, mount roots, key files and
// locks are named by this id, never by the raw name Docker sent.

/** `[A-Za-z0-9_-]{0,32}` from the name, then `-` and 16 hex digits of its SHA-256. */
export function volumeId(name: string): string {
  const slug = name.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 32);
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16);
  return `${slug}-${hash}`;
}
