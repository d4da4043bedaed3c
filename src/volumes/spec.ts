import type { FsType, VolumeSpec, VolumeType } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { formatSize, parseSize } from './size.js';

export type VolumeOptions = Readonly<Record<string, string>>;

const VOLUME_TYPES: readonly VolumeType[] = ['plain'];
const FS_TYPES: readonly FsType[] = ['ext4', 'xfs'];
const OPTION_KEYS = ['type', 'size', 'fs'] as const;

export const DEFAULT_SIZE = '10G';
// mkfs refuses smaller images (xfsprogs 6: 300 MiB); ext4 below 16 MiB has
// no room for a journal worth having.
const MIN_SIZE: Record<FsType, number> = { ext4: 16 * 1024 ** 2, xfs: 300 * 1024 ** 2 };
const MAX_SIZE = 64 * 1024 ** 4;

function invalid(volume: string, detail: string): VolumeError {
  return new VolumeError('INVALID_OPTION', volume, detail);
}

// Values of known, non-secret options are echoed so the user sees the typo;
// values of unknown keys never are (one of them may be a passphrase).
function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

function oneOf<T extends string>(volume: string, key: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(volume, `${key}=${shown(value)} is not supported; use one of: ${allowed.join(', ')}`);
}

function parseSizeOption(volume: string, value: string, fs: FsType): number {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    throw invalid(volume, `size=${shown(value)} is not a size; use a number with an optional unit k, M, G or T (e.g. size=2G)`);
  }
  if (bytes < MIN_SIZE[fs]) {
    throw invalid(volume, `size=${shown(value)} is too small for fs=${fs}; the minimum is ${formatSize(MIN_SIZE[fs])}`);
  }
  if (bytes > MAX_SIZE) {
    throw invalid(volume, `size=${shown(value)} is larger than the maximum of ${formatSize(MAX_SIZE)}`);
  }
  // Whole 1 MiB units: every filesystem and loop device is happy with them.
  return Math.ceil(bytes / 1024 ** 2) * 1024 ** 2;
}

/** Docker's `-o key=value` options → a validated spec. `null` (no -o) means all defaults. */
export function parseVolumeSpec(volume: string, options: VolumeOptions | null): VolumeSpec {
  const opts = options ?? {};
  const unknown = Object.keys(opts).filter((key) => !(OPTION_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw invalid(volume, `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid options are: ${OPTION_KEYS.join(', ')}`);
  }
  const type = oneOf(volume, 'type', opts['type'] ?? 'plain', VOLUME_TYPES);
  const fs = oneOf(volume, 'fs', opts['fs'] ?? 'ext4', FS_TYPES);
  const sizeBytes = parseSizeOption(volume, opts['size'] ?? DEFAULT_SIZE, fs);
  return { type, fs, sizeBytes };
}
