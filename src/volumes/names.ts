import { createHash } from 'node:crypto';
import { VolumeError } from './errors.js';

export const MAX_NAME_BYTES = 255;

// Docker passes any string as a volume name on Linux (`a b`, `../../etc`,
// `tenant/x`, non-ASCII). A name therefore never becomes a path: files are
// named by a readable slug plus a hash of the exact name.

export function validateName(name: string): void {
  if (name.length === 0) throw new VolumeError('INVALID_NAME', name, 'the volume name is empty');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw new VolumeError(
      'INVALID_NAME',
      `${name.slice(0, 40)}…`,
      `the volume name is ${bytes} bytes long; the limit is ${MAX_NAME_BYTES}`,
    );
  }
}

/** `[A-Za-z0-9_-]{0,32}` from the name, then `-` and 16 hex digits of its SHA-256. */
export function volumeId(name: string): string {
  const slug = name.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 32);
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16);
  return `${slug}-${hash}`;
}
