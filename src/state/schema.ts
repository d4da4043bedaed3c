// The persisted shape. Bump STATE_VERSION and add a step to migrateState when
// it changes; a file from a newer plugin is refused rather than misread.

export const STATE_VERSION = 1;

export type VolumeType = 'plain' | 'encrypted' | 'compressed' | 'replicated';
export type FsType = 'ext4' | 'xfs' | 'btrfs';
export type CompressionAlgorithm = 'zstd' | 'lzo' | 'zlib';

/** btrfs transparent compression (mount option compress= or compress-force=). */
export interface Compression {
  readonly algorithm: CompressionAlgorithm;
  readonly level?: number;
  /** compress-force: keep compressing files whose first chunk did not shrink. */
  readonly force: boolean;
}
export type KeySource = 'generated' | 'sealed' | 'keyfile';

interface CommonSpec {
  readonly sizeBytes: number;
  readonly fs: FsType;
  /** Keep image (and key) on Remove, moved aside. Absent means false. */
  readonly retain?: boolean;
  /** Only with fs btrfs: always on type compressed, optional on type encrypted (stacked). */
  readonly compression?: Compression;
}

export interface PlainSpec extends CommonSpec {
  readonly type: 'plain';
}

export interface EncryptedSpec extends CommonSpec {
  readonly type: 'encrypted';
  readonly cipher: string;
  readonly keySizeBits: number;
  readonly keySource: KeySource;
  /** Host path of the user's key file (keySource 'keyfile'); a path, never key bytes. */
  readonly keyfile?: string;
}

export interface CompressedSpec extends CommonSpec {
  readonly type: 'compressed';
  readonly fs: 'btrfs';
  readonly compression: Compression;
}

/** GlusterFS replica set; no image file, so no fs or fixed size (size is a quota). */
export interface ReplicatedSpec {
  readonly type: 'replicated';
  readonly replicas: 2 | 3;
  /** replica 3 arbiter 1: two data bricks and a metadata-only arbiter. */
  readonly arbiter: boolean;
  readonly quotaBytes?: number;
  readonly retain?: boolean;
}

export type ImageSpec = PlainSpec | EncryptedSpec | CompressedSpec;
export type VolumeSpec = ImageSpec | ReplicatedSpec;

export interface VolumeRecord {
  readonly name: string;
  /** File-system-safe identifier derived from the name (see volumes/names.ts). */
  readonly id: string;
  readonly spec: VolumeSpec;
  readonly createdAt: string;
  /** Mount ID → number of Mounts not yet matched by an Unmount. */
  leases: Record<string, number>;
}

export interface StateData {
  version: number;
  volumes: Record<string, VolumeRecord>;
}

export function emptyState(): StateData {
  return { version: STATE_VERSION, volumes: {} };
}

export function migrateState(raw: unknown, file: string): StateData {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: not a state object`);
  }
  const data = raw as Partial<StateData>;
  if (typeof data.version !== 'number') throw new Error(`${file}: no schema version`);
  if (data.version > STATE_VERSION) {
    throw new Error(`${file}: schema version ${data.version} is newer than this plugin (${STATE_VERSION})`);
  }
  if (typeof data.volumes !== 'object' || data.volumes === null) {
    throw new Error(`${file}: no volumes table`);
  }
  return { version: STATE_VERSION, volumes: data.volumes };
}
