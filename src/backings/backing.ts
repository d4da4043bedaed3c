import type { VolumeRecord, VolumeSpec } from '../state/schema.js';
import type { CopyMethod } from '../system/index.js';

// A tool stuck in the kernel: the service marks its volume busy (volumes/hung.ts).
export { findHung, HungCommandError } from '../system/index.js';

/** Told now and then how far a copy is: bytes written of about `totalBytes`. */
export type CopyProgress = (copiedBytes: number, totalBytes: number) => void;

/** A snapshot of a volume, as a backing that has snapshots describes it. */
export interface SnapshotInfo {
  readonly name: string;
  readonly createdAt: string;
  /** The volume's size when it was taken (a restore brings this size back). */
  readonly sizeBytes: number;
  /** Host disk the snapshot holds on its own (0 for a fresh reflink until the volume changes). */
  readonly allocatedBytes: number;
  readonly method: CopyMethod;
  /** 'frozen': taken from the mounted volume with its filesystem frozen; 'unmounted': nobody had it mounted. */
  readonly consistency: 'frozen' | 'unmounted';
}

/** Where one volume lives on the host. Derived from the volume's id, never its raw name. */
export interface VolumePaths {
  /** Directory holding the volume's backing files (image, …). */
  readonly dir: string;
  readonly image: string;
  /** Where the volume's filesystem is mounted. */
  readonly mountRoot: string;
  /** What containers see: a directory inside mountRoot (keeps lost+found out of sight). */
  readonly mountpoint: string;
  /** Where `retain=true` moves the volume's files on Remove (<dataDir>/.retained). */
  readonly retainRoot: string;
}

export interface VolumeContext {
  readonly record: VolumeRecord;
  readonly paths: VolumePaths;
}

export type StatusValue = string | number | boolean | null;

/** How a mount of this volume shows in mountinfo: its device number(s) and source(s). */
export interface MountIdentity {
  readonly majMins: readonly string[];
  readonly sources: readonly string[];
  /**
   * When many volumes share one filesystem (the GlusterFS pool): a mount
   * matched by device number is this volume's only if its root lies inside
   * this directory of that filesystem (the directory itself is our own mount).
   */
  readonly subtree?: string;
}

/** Something a type left on this host that belongs to no volume, for `custom-volume doctor`. */
export interface Leftover {
  /** 'warning': the plugin removes it by itself; 'problem': only a person can. */
  readonly severity: 'problem' | 'warning';
  readonly what: string;
  readonly fix: string;
}

export interface CatalogRead {
  readonly records: VolumeRecord[];
  /** Entries that failed validation: reported and skipped. */
  readonly problems: ReadonlyArray<{ readonly name: string; readonly problem: string }>;
}

/**
 * One volume type. Every method is idempotent: activate on an active volume
 * and deactivate on an inactive one are no-ops, so recovery can call them
 * blindly. A method that fails leaves the host as it found it.
 */
export interface Backing {
  /**
   * Can this host create such a volume, and do the options hold up against
   * the host (files exist, kernel features present)? A problem in words, or
   * undefined. Runs before anything is touched.
   */
  preflight(spec: VolumeSpec): Promise<string | undefined>;
  /** Provisions storage (image, filesystem). Nothing is mounted afterwards. */
  create(volume: VolumeContext): Promise<void>;
  /** Makes the volume's filesystem available at paths.mountpoint. */
  activate(volume: VolumeContext): Promise<void>;
  /** Unmounts and releases devices; data stays. */
  deactivate(volume: VolumeContext): Promise<void>;
  /** Deactivates and deletes all storage. */
  destroy(volume: VolumeContext): Promise<void>;
  /**
   * Grows the volume to `sizeBytes` (larger than now; the caller checked) while
   * it may be in use, or leaves it as it was (a larger image at most); resolves
   * with the size it now has (more, if an interrupted grow had gone further).
   * Absent: the type cannot grow.
   */
  grow?(volume: VolumeContext, sizeBytes: number): Promise<number>;
  /** A crash-consistent point-in-time copy named `name` (absent: the type has no snapshots). */
  snapshot?(volume: VolumeContext, name: string): Promise<SnapshotInfo>;
  listSnapshots?(volume: VolumeContext): Promise<SnapshotInfo[]>;
  /** The volume (not in use) becomes the snapshot again; resolves with its size then. */
  restoreSnapshot?(volume: VolumeContext, name: string): Promise<number>;
  removeSnapshot?(volume: VolumeContext, name: string): Promise<void>;
  /**
   * Provisions `target` (its spec the source's) as a copy of `source`, or of
   * its snapshot: a clone, independent from then on. Nothing mounted after.
   * Resolves with how it copied and the size the copy has.
   */
  createFrom?(
    target: VolumeContext,
    source: VolumeContext,
    snapshot: string | undefined,
    progress?: CopyProgress,
  ): Promise<{ method: CopyMethod; sizeBytes: number }>;
  /** A new key, online; the old key's keyslots destroyed (absent: the type has no key). */
  rekey?(volume: VolumeContext): Promise<void>;
  /** Thaws what a dead process left frozen; true when it did. */
  thawLeftover?(volume: VolumeContext): Promise<boolean>;
  /** Cheap facts for `docker volume inspect`; must not block. */
  status(volume: VolumeContext): Promise<Record<string, StatusValue>>;
  /** Is the volume's filesystem mounted at its mount root now? */
  isActive(volume: VolumeContext): Promise<boolean>;
  /** What a container's bind mount of this volume would show in mountinfo. */
  identity(volume: VolumeContext): Promise<MountIdentity>;
  /** Bytes of the host's data filesystem this volume may still claim (a sparse image's unallocated part). */
  unclaimedBytes(volume: VolumeContext): Promise<number>;
  /**
   * Volumes that exist beyond this host (global scope): the source of truth
   * every host's plugin agrees on. Absent for host-local types.
   */
  catalog?(): Promise<CatalogRead>;
  /** One volume of the catalogue, read now by name (a full read may be seconds old). */
  catalogEntry?(name: string): Promise<VolumeRecord | undefined>;
  /** Deletes what this host holds of volumes that no longer exist elsewhere. */
  sweep?(): Promise<void>;
  /** What the sweep would delete, and what only a person may (reads only): doctor's view of the type's leftovers. */
  leftovers?(): Promise<Leftover[]>;
  /** Other hosts that have the volume mounted (global scope), in words; Remove refuses while there are any. */
  usersElsewhere?(volume: VolumeContext): Promise<string[]>;
}
