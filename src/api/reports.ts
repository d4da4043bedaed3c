import { z } from 'zod';
import { volumeStatus } from './docker.js';

// What the plugin's own endpoints report: a volume's row and detail, its
// snapshots, doctor's diagnosis, reseal's report. Keys keep the order the
// plugin writes them in, so a checked reply prints as it came (--json).

export const volumeRow = z.object({
  name: z.string(),
  /** plain, encrypted, compressed or replicated. */
  type: z.string(),
  /** As for -o size (32 MiB), or unlimited. */
  size: z.string(),
  leases: z.number(),
  protected: z.boolean(),
  createdAt: z.string(),
});
export type VolumeRow = z.infer<typeof volumeRow>;

export const leaseDetail = z.object({
  /** The mount ID Docker gave. */
  id: z.string(),
  count: z.number(),
  since: z.string(),
  ageSeconds: z.number(),
  /** The kernel boot the lease was taken in ('' when unknown). */
  boot: z.string(),
});

export const volumeDetail = z.object({
  name: z.string(),
  mountpoint: z.string(),
  createdAt: z.string(),
  status: volumeStatus,
  protected: z.boolean(),
  owner: z.object({ uid: z.number().optional(), gid: z.number().optional(), mode: z.number().optional() }).optional(),
  /** Where the volume lives on this host, and what holds it open. */
  host: z.object({
    dir: z.string(),
    image: z.string().optional(),
    mountRoot: z.string(),
    mounted: z.boolean(),
    /** Loop devices and mappings a container's mount of it shows. */
    devices: z.array(z.string()).readonly(),
  }),
  leases: z.array(leaseDetail).readonly(),
});
export type VolumeDetail = z.infer<typeof volumeDetail>;

export const snapshotInfo = z.object({
  name: z.string(),
  createdAt: z.string(),
  /** The volume's size when it was taken (a restore brings this size back). */
  sizeBytes: z.number(),
  /** reflink or copy. */
  method: z.string(),
  /** frozen: taken from the mounted volume with its filesystem frozen; unmounted: nobody had it mounted. */
  consistency: z.enum(['frozen', 'unmounted']),
  /** Host disk the snapshot holds on its own. */
  allocatedBytes: z.number(),
});
export type SnapshotInfo = z.infer<typeof snapshotInfo>;

export const resealReport = z.object({
  /** Volumes whose key was resealed, by how it was kept before. */
  resealed: z.object({ previous: z.array(z.string()), unsealed: z.array(z.string()) }),
  current: z.number(),
  failed: z.array(z.object({ volume: z.string(), problem: z.string() })).readonly(),
});
export type ResealReport = z.infer<typeof resealReport>;

export const finding = z.object({
  /** problem: something is wrong (doctor exits non-zero); warning: worth knowing. */
  severity: z.enum(['problem', 'warning']),
  volume: z.string().optional(),
  what: z.string(),
  fix: z.string(),
});
export type Finding = z.infer<typeof finding>;

export const diagnosis = z.object({
  /** Each volume type, and whether this host can serve it (available) or why not. */
  types: z.record(z.string(), z.string()),
  volumes: z.number(),
  dataDir: z.string(),
  freeBytes: z.number(),
  /** What sparse images may still claim of the data directory's filesystem. */
  unclaimedBytes: z.number(),
  findings: z.array(finding).readonly(),
});
export type Diagnosis = z.infer<typeof diagnosis>;
