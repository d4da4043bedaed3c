import type { Compression, DataOwner, EncryptedSpec, FsType, KeySource, VolumeSpec, VolumeType } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { quoted } from '../lib/quoted.js';
import { parseBooleanWord } from '../lib/boolean.js';
import { ownValue } from '../lib/own-property.js';
import { formatSize, parseSize } from './size.js';
import { DEFAULT_COMPRESSION, parseCompression } from './compression.js';

export type VolumeOptions = Readonly<Record<string, string>>;

export interface SpecDefaults {
  /** How a generated key would be stored: 'sealed' when a host KEK is configured. */
  readonly generatedKeySource: Exclude<KeySource, 'keyfile'>;
}

const VOLUME_TYPES: readonly VolumeType[] = ['plain', 'encrypted', 'compressed', 'replicated'];
const FS_TYPES: readonly FsType[] = ['ext4', 'xfs', 'btrfs'];
// fstype is another name for fs, encryption another name for cipher (the
// names other plugins' documents use); protect is a flag of the record.
const COMMON_KEYS = ['type', 'size', 'fs', 'fstype', 'retain', 'uid', 'gid', 'mode', 'protect'] as const;
// Options of the image-file types (plain, encrypted, compressed) only.
const IMAGE_KEYS = ['sparse'] as const;
// The grammar: `type` picks the stack; encryption is only ever type=encrypted,
// and compression=… on an encrypted volume stacks btrfs compression on LUKS.
const TYPE_KEYS: Record<VolumeType, readonly string[]> = {
  plain: [],
  encrypted: ['cipher', 'encryption', 'keyfile', 'compression', 'compress-force'],
  compressed: ['compression', 'compress-force'],
  replicated: ['replicas', 'arbiter'],
};
const HINTS: Record<string, string> = {
  encrypt: 'encryption is chosen with -o type=encrypted (add -o compression=zstd to compress as well)',
  encrypted: 'encryption is chosen with -o type=encrypted (add -o compression=zstd to compress as well)',
  compress: 'use -o compression=zstd (with -o type=compressed, or -o type=encrypted to stack both)',
};
// Keys that would carry a secret. Docker keeps driver options in plain text
// and shows them in `docker volume inspect`, so they are refused by name and
// their values are never echoed.
const SECRET_KEYS = ['passphrase', 'password', 'secret', 'key', 'luks-passphrase', 'luks-key'];

/** Ciphers offered for LUKS2, with their key size (XTS splits the key in two). */
export const CIPHERS: Readonly<Record<string, number>> = {
  'aes-xts-plain64': 512,
  'serpent-xts-plain64': 512,
  'twofish-xts-plain64': 512,
  'aes-cbc-essiv:sha256': 256,
  'xchacha20,aes-adiantum-plain64': 256,
};

export const DEFAULT_SIZE = '10G';
export const DEFAULT_CIPHER = 'aes-xts-plain64';
// mkfs refuses smaller images (xfsprogs 6: 300 MiB); ext4 below 16 MiB has
// no room for a journal worth having. LUKS2 adds a 16 MiB header.
const MIN_SIZE: Record<FsType, number> = { ext4: 16 * 1024 ** 2, xfs: 300 * 1024 ** 2, btrfs: 128 * 1024 ** 2 };
const LUKS_HEADER_BYTES = 16 * 1024 ** 2;
export const MAX_SIZE_BYTES = 64 * 1024 ** 4;
const MAX_SIZE = MAX_SIZE_BYTES;

function invalid(volume: string, detail: string): VolumeError {
  return new VolumeError('INVALID_OPTION', volume, detail);
}

// Values of known, non-secret options are echoed so the user sees the typo;
// values of unknown keys never are (one of them may be a passphrase).
function shown(value: string): string {
  return quoted(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

function oneOf<T extends string>(volume: string, key: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(volume, `${key}=${shown(value)} is not supported; use one of: ${allowed.join(', ')}`);
}

export function parseBoolean(volume: string, key: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const parsed = parseBooleanWord(value);
  if (parsed === undefined) throw invalid(volume, `${key}=${shown(value)} is not a boolean; use true or false`);
  return parsed;
}

// sparse=false preallocates the whole image at create: writes then cannot
// fail for lack of space on the host. Sparse (the default) is absent from the spec.
function parseSparse(volume: string, value: string | undefined): boolean {
  return value === undefined ? true : parseBoolean(volume, 'sparse', value);
}

function parseSizeOption(volume: string, value: string, fs: FsType, overhead: number): number {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    throw invalid(volume, `size=${shown(value)} is not a size; use a number with an optional unit k, M, G or T (e.g. size=2G)`);
  }
  const minimum = MIN_SIZE[fs] + overhead;
  if (bytes < minimum) {
    throw invalid(
      volume,
      `size=${shown(value)} is too small for fs=${fs}${overhead ? ' with encryption' : ''}; the minimum is ${formatSize(minimum)}`,
    );
  }
  if (bytes > MAX_SIZE) {
    throw invalid(volume, `size=${shown(value)} is larger than the maximum of ${formatSize(MAX_SIZE)}`);
  }
  // Whole 1 MiB units: every filesystem and loop device is happy with them.
  return Math.ceil(bytes / 1024 ** 2) * 1024 ** 2;
}

// A replicated volume has no filesystem of its own to choose.
const FS_KEYS: readonly string[] = ['fs', 'fstype'];

// Nor protection yet: every host's plugin may remove a replicated volume.
const NOT_REPLICATED: readonly string[] = [...FS_KEYS, 'protect'];

function validKeys(type: VolumeType): readonly string[] {
  if (type === 'replicated') return [...COMMON_KEYS.filter((key) => !NOT_REPLICATED.includes(key)), ...TYPE_KEYS[type]];
  return [...COMMON_KEYS, ...IMAGE_KEYS, ...TYPE_KEYS[type]];
}

function checkKeys(volume: string, opts: VolumeOptions, type: VolumeType): void {
  const keys = Object.keys(opts);
  const secrets = keys.filter((key) => SECRET_KEYS.includes(key.toLowerCase()));
  if (secrets.length > 0) {
    throw invalid(
      volume,
      `option ${secrets.map((k) => quoted(k)).join(', ')} is refused: Docker stores driver options in plain text and shows them in \`docker volume inspect\`. Leave it out to get a random key kept by the plugin (sealed when a host key-encryption key is configured), or use -o keyfile=/absolute/host/path to a file only root can read`,
    );
  }
  const valid = validKeys(type);
  const unknown = keys.filter((key) => !valid.includes(key));
  if (unknown.length === 0) return;
  const first = unknown[0] ?? '';
  const hint = ownValue(HINTS, first.toLowerCase());
  if (hint) throw invalid(volume, `unknown option ${quoted(first)}: ${hint}`);
  if (type === 'replicated' && FS_KEYS.includes(first)) {
    throw invalid(volume, `${first} does not apply to type=replicated (GlusterFS stores files on the bricks' own filesystems)`);
  }
  if (type === 'replicated' && first === 'protect') {
    throw invalid(
      volume,
      "protect does not apply to type=replicated yet: every pool host's plugin may remove the volume, and only this host would know",
    );
  }
  const owners = VOLUME_TYPES.filter((t) => validKeys(t).includes(first));
  if (owners.length > 0) {
    const why = (IMAGE_KEYS as readonly string[]).includes(first)
      ? ' (image-file volumes); a replicated volume keeps files on GlusterFS bricks and has no image to preallocate'
      : '';
    throw invalid(volume, `option ${quoted(first)} applies only to ${owners.map((t) => `type=${t}`).join(' or ')}${why}`);
  }
  throw invalid(
    volume,
    `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => quoted(k)).join(', ')}; valid options for type=${type} are: ${valid.join(', ')}`,
  );
}

function parseEncryption(
  volume: string,
  opts: VolumeOptions,
  defaults: SpecDefaults,
): Pick<EncryptedSpec, 'cipher' | 'keySizeBits' | 'keySource' | 'keyfile'> {
  const given = aliased(volume, opts, 'cipher', 'encryption');
  const cipher = oneOf(volume, given?.key ?? 'cipher', given?.value ?? DEFAULT_CIPHER, Object.keys(CIPHERS));
  const keySizeBits = ownValue(CIPHERS, cipher) ?? 512;
  const keyfile = ownValue(opts, 'keyfile');
  if (keyfile === undefined) return { cipher, keySizeBits, keySource: defaults.generatedKeySource };
  // The path is not echoed: it says where a key lives.
  if (!keyfile.startsWith('/') || keyfile.includes('\0') || keyfile.split('/').includes('..')) {
    throw invalid(
      volume,
      'the key file given with -o keyfile must be an absolute path on the host, without ".." (e.g. -o keyfile=/etc/custom-volume/keys/data.key)',
    );
  }
  return { cipher, keySizeBits, keySource: 'keyfile', keyfile };
}

// compression= is wanted on type=compressed (default zstd:1) and optional on
// type=encrypted; it needs btrfs, which is then the default fs.
function parseCompressionOptions(volume: string, opts: VolumeOptions, type: VolumeType): Compression | undefined {
  const force = parseBoolean(volume, 'compress-force', ownValue(opts, 'compress-force'));
  const text = ownValue(opts, 'compression') ?? (type === 'compressed' ? DEFAULT_COMPRESSION : undefined);
  if (text === undefined) {
    if (ownValue(opts, 'compress-force') !== undefined) throw invalid(volume, 'compress-force applies only together with compression=…');
    return undefined;
  }
  const parsed = parseCompression(text, force);
  if (typeof parsed === 'string') throw invalid(volume, `compression=${shown(text)} is not supported; ${parsed}`);
  return parsed;
}

/** An option that has two names: the value under whichever was given; both must agree. */
function aliased(volume: string, opts: VolumeOptions, key: string, alias: string): { key: string; value: string } | undefined {
  const main = ownValue(opts, key);
  const other = ownValue(opts, alias);
  if (main !== undefined && other !== undefined && main !== other) {
    throw invalid(
      volume,
      `${key}=${shown(main)} and ${alias}=${shown(other)} disagree; ${alias} is another name for ${key}, give one of them`,
    );
  }
  if (main !== undefined) return { key, value: main };
  return other === undefined ? undefined : { key: alias, value: other };
}

const MAX_ID = 4294967294;

function parseId(volume: string, key: 'uid' | 'gid', value: string): number {
  const id = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!(id <= MAX_ID))
    throw invalid(
      volume,
      `${key}=${shown(value)} is not a numeric ${key === 'uid' ? 'user' : 'group'} id; use a number such as ${key}=1000`,
    );
  return id;
}

/** uid, gid and mode of the volume root; absent when none is given. */
function parseOwner(volume: string, opts: VolumeOptions): DataOwner | undefined {
  const uid = ownValue(opts, 'uid');
  const gid = ownValue(opts, 'gid');
  const mode = ownValue(opts, 'mode');
  if (uid === undefined && gid === undefined && mode === undefined) return undefined;
  if (mode !== undefined && !/^0?[0-7]{3,4}$/.test(mode)) {
    throw invalid(volume, `mode=${shown(mode)} is not an octal mode; use three or four octal digits such as mode=0750`);
  }
  return {
    ...(uid === undefined ? {} : { uid: parseId(volume, 'uid', uid) }),
    ...(gid === undefined ? {} : { gid: parseId(volume, 'gid', gid) }),
    ...(mode === undefined ? {} : { mode: parseInt(mode, 8) }),
  };
}

/** `-o protect=true`: Remove refuses the volume until it is unprotected. */
export function parseProtect(volume: string, options: VolumeOptions | null): boolean {
  return parseBoolean(volume, 'protect', ownValue(options ?? {}, 'protect'));
}

function parseFs(volume: string, opts: VolumeOptions, compression: Compression | undefined): FsType {
  const given = aliased(volume, opts, 'fs', 'fstype');
  const fs = oneOf(volume, given?.key ?? 'fs', given?.value ?? (compression ? 'btrfs' : 'ext4'), FS_TYPES);
  if (compression && fs !== 'btrfs') {
    throw invalid(volume, `compression needs fs=btrfs (btrfs does the compressing), not fs=${fs}; leave fs out or set fs=btrfs`);
  }
  return fs;
}

function parseReplicated(volume: string, opts: VolumeOptions): VolumeSpec {
  const replicas = oneOf(volume, 'replicas', ownValue(opts, 'replicas') ?? '3', ['2', '3']);
  const arbiter = parseBoolean(volume, 'arbiter', ownValue(opts, 'arbiter'));
  if (replicas === '2' && !arbiter) {
    throw invalid(
      volume,
      'replicas=2 can split-brain: when the two bricks lose sight of each other both accept writes that cannot be merged. Use replicas=3, or replicas=2 with arbiter=true (two data bricks plus a metadata-only arbiter brick)',
    );
  }
  if (replicas === '3' && arbiter && ownValue(opts, 'replicas') !== undefined) {
    throw invalid(volume, 'arbiter=true means two data bricks and one arbiter: use it with replicas=2');
  }
  let quotaBytes: number | undefined;
  const size = ownValue(opts, 'size');
  if (size !== undefined) {
    quotaBytes = parseSize(size);
    if (quotaBytes === undefined || quotaBytes < 1024 ** 2) {
      throw invalid(volume, `size=${shown(size)} is not a size of at least 1M; use a number with an optional unit k, M, G or T`);
    }
  }
  const retain = parseBoolean(volume, 'retain', ownValue(opts, 'retain'));
  const owner = parseOwner(volume, opts);
  return {
    type: 'replicated',
    replicas: arbiter ? 2 : 3,
    arbiter,
    ...(quotaBytes !== undefined ? { quotaBytes } : {}),
    ...(retain ? { retain } : {}),
    ...(owner ? { owner } : {}),
    layout: 'pool',
  };
}

/** Docker's `-o key=value` options → a validated spec. `null` (no -o) means all defaults. */
export function parseVolumeSpec(
  volume: string,
  options: VolumeOptions | null,
  defaults: SpecDefaults = { generatedKeySource: 'generated' },
): VolumeSpec {
  const opts = options ?? {};
  const type = oneOf(volume, 'type', ownValue(opts, 'type') ?? 'plain', VOLUME_TYPES);
  checkKeys(volume, opts, type);
  if (type === 'replicated') return parseReplicated(volume, opts);
  const compression = parseCompressionOptions(volume, opts, type);
  const fs = parseFs(volume, opts, compression);
  const overhead = type === 'encrypted' ? LUKS_HEADER_BYTES : 0;
  const sizeBytes = parseSizeOption(volume, ownValue(opts, 'size') ?? DEFAULT_SIZE, fs, overhead);
  const retain = parseBoolean(volume, 'retain', ownValue(opts, 'retain'));
  const sparse = parseSparse(volume, ownValue(opts, 'sparse'));
  const owner = parseOwner(volume, opts);
  const common = {
    sizeBytes,
    fs,
    ...(retain ? { retain } : {}),
    ...(sparse ? {} : { sparse: false as const }),
    ...(owner ? { owner } : {}),
  };
  if (type === 'plain') return { type, ...common };
  if (type === 'compressed') return { type, ...common, fs: 'btrfs', compression: compression! };
  return { type, ...common, ...(compression ? { compression } : {}), ...parseEncryption(volume, opts, defaults) };
}
