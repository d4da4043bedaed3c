import { z } from 'zod';
import { defineKey } from '../lib/own-property.js';
import { volumeId } from './volume-id.js';
import { quoted } from '../lib/quoted.js';

// The persisted shapes, and the one schema style (zod) that every border uses:
// state.json, each volume's volume.json and the GlusterFS catalogue are all
// input. Bump STATE_VERSION and add a step to migrateState when a shape changes;
// a file from a newer plugin is refused rather than misread.

export const STATE_VERSION = 2;

const size = z
  .number()
  .int()
  .positive()
  .max(2 ** 53);
const fsSchema = z.enum(['ext4', 'xfs', 'btrfs']);
const compressionSchema = z.strictObject({
  algorithm: z.enum(['zstd', 'lzo', 'zlib']),
  level: z.number().int().min(1).max(15).exactOptional(),
  /** compress-force: keep compressing files whose first chunk did not shrink. */
  force: z.boolean(),
});
const keySourceSchema = z.enum(['generated', 'sealed', 'keyfile']);
/** `-o uid= gid= mode=`: owner and mode given to the volume root (`_data`) when it is first made. */
const ownerSchema = z.strictObject({
  uid: z.number().int().min(0).max(4294967294).exactOptional(),
  gid: z.number().int().min(0).max(4294967294).exactOptional(),
  mode: z.number().int().min(0).max(0o7777).exactOptional(),
});
const common = {
  owner: ownerSchema.exactOptional(),
  sizeBytes: size,
  fs: fsSchema,
  /** Keep image (and key) on Remove, moved aside. Absent means false. */
  retain: z.boolean().exactOptional(),
  /** Only with fs btrfs: always on type compressed, optional on type encrypted (stacked). */
  compression: compressionSchema.exactOptional(),
  /** `-o sparse=false`: the image is preallocated at create. Absent means sparse. */
  sparse: z.literal(false).exactOptional(),
};
const plainSchema = z.strictObject({ type: z.literal('plain'), ...common });
const encryptedSchema = z.strictObject({
  type: z.literal('encrypted'),
  ...common,
  cipher: z.string().min(1).max(64),
  keySizeBits: z.number().int().positive().max(4096),
  keySource: keySourceSchema,
  /** Host path of the user's key file (keySource 'keyfile'); a path, never key bytes. */
  keyfile: z.string().startsWith('/').max(4096).exactOptional(),
});
const compressedSchema = z.strictObject({
  type: z.literal('compressed'),
  ...common,
  fs: z.literal('btrfs'),
  compression: compressionSchema,
});
/** GlusterFS replica set; no image file, so no fs or fixed size (size is a quota). */
const replicatedSchema = z.strictObject({
  type: z.literal('replicated'),
  replicas: z.union([z.literal(2), z.literal(3)]),
  /** replica 3 arbiter 1: two data bricks and a metadata-only arbiter. */
  arbiter: z.boolean(),
  quotaBytes: size.exactOptional(),
  retain: z.boolean().exactOptional(),
  owner: ownerSchema.exactOptional(),
  /**
   * 'pool': a directory in the pool-wide GlusterFS volume (every volume
   * created since the pool layout). Absent: a GlusterFS volume of its own,
   * the layout before it; such volumes keep it.
   */
  layout: z.literal('pool').exactOptional(),
});
const specSchema = z.discriminatedUnion('type', [plainSchema, encryptedSchema, compressedSchema, replicatedSchema]);
const isoTime = z.iso.datetime({ offset: true });
/** One mount ID's lease: how many Mounts it has not unmounted, since when, in which boot. */
const leaseSchema = z.strictObject({
  count: z.number().int().positive(),
  /** When the latest Mount of this ID was recorded (ISO 8601). */
  since: isoTime,
  /** The kernel's boot ID then; '' when unknown (migrated from schema 1). */
  boot: z.string().max(64),
});
const recordSchema = z.strictObject({
  name: z.string().min(1),
  /** File-system-safe identifier derived from the name (see volume-id.ts). */
  id: z.string().min(1),
  spec: specSchema,
  createdAt: isoTime,
  /** Mount ID → lease. */
  leases: z.record(z.string().min(1).max(256), leaseSchema),
  /** `custom-volume protect` or `-o protect=true`: Remove is refused. Absent means unprotected. */
  protected: z.literal(true).exactOptional(),
});

// The types are the schemas' outputs, read-only all the way down: what was
// validated is not changed in place.
type Frozen<T> = T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

export type FsType = z.output<typeof fsSchema>;
export type CompressionAlgorithm = Compression['algorithm'];
/** btrfs transparent compression (mount option compress= or compress-force=). */
export type Compression = Frozen<z.output<typeof compressionSchema>>;
export type KeySource = z.output<typeof keySourceSchema>;
export type DataOwner = Frozen<z.output<typeof ownerSchema>>;
export type PlainSpec = Frozen<z.output<typeof plainSchema>>;
export type EncryptedSpec = Frozen<z.output<typeof encryptedSchema>>;
export type CompressedSpec = Frozen<z.output<typeof compressedSchema>>;
export type ReplicatedSpec = Frozen<z.output<typeof replicatedSchema>>;
export type ImageSpec = PlainSpec | EncryptedSpec | CompressedSpec;
export type VolumeSpec = ImageSpec | ReplicatedSpec;
export type VolumeType = VolumeSpec['type'];
export type Lease = Frozen<z.output<typeof leaseSchema>>;
export type LeaseMap = Readonly<Record<string, Lease>>;
export type VolumeRecord = Frozen<z.output<typeof recordSchema>>;

export interface StateData {
  version: number;
  volumes: Record<string, VolumeRecord>;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`)
    .join('; ');
}

/** A record read from outside (a file, the catalogue): the record, or what is wrong with it. */
export function validateRecord(raw: unknown): { record: VolumeRecord } | { problem: string } {
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) return { problem: describeIssues(parsed.error) };
  const record: VolumeRecord = parsed.data;
  if (record.id !== volumeId(record.name)) {
    return { problem: `id ${quoted(record.id)} does not match the name ${quoted(record.name)}` };
  }
  return { record };
}

export function validateSpec(raw: unknown): { spec: VolumeSpec } | { problem: string } {
  const parsed = specSchema.safeParse(raw);
  return parsed.success ? { spec: parsed.data } : { problem: describeIssues(parsed.error) };
}

export function emptyState(): StateData {
  return { version: STATE_VERSION, volumes: {} };
}

// Schema 1 kept a bare count per mount ID. Its leases get an unknown boot and
// the migration's time: the real-user check then decides about them.
function migrateLeases(raw: unknown, now: string): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const out: Record<string, unknown> = {};
  for (const [id, value] of Object.entries(raw)) {
    defineKey(out, id, typeof value === 'number' ? { count: value, since: now, boot: '' } : value);
  }
  return out;
}

export class NewerStateError extends Error {
  constructor(file: string, version: number) {
    super(
      `${file}: schema version ${version} is newer than this plugin (${STATE_VERSION}); upgrade the plugin or restore a state file it wrote`,
    );
    this.name = 'NewerStateError';
  }
}

/** Checks the file's envelope; records are validated one by one by the store. */
export function migrateState(raw: unknown, file: string): { version: number; volumes: Record<string, unknown> } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: not a state object`);
  }
  const data = raw as { version?: unknown; volumes?: unknown };
  if (typeof data.version !== 'number') throw new Error(`${file}: no schema version`);
  if (data.version > STATE_VERSION) throw new NewerStateError(file, data.version);
  if (typeof data.volumes !== 'object' || data.volumes === null || Array.isArray(data.volumes)) {
    throw new Error(`${file}: no volumes table`);
  }
  const volumes = data.volumes as Record<string, unknown>;
  if (data.version === 1) {
    const now = new Date().toISOString();
    for (const entry of Object.values(volumes)) {
      if (typeof entry === 'object' && entry !== null && 'leases' in entry) {
        (entry as { leases: unknown }).leases = migrateLeases((entry as { leases: unknown }).leases, now);
      }
    }
  }
  return { version: STATE_VERSION, volumes };
}
