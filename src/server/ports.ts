import type { Readable, Writable } from 'node:stream';
import type { z } from 'zod';
import type { VolumeOptions, volumeStatus } from '../api/docker.js';
import type { StreamSeal } from '../api/export-format.js';
import type { Diagnosis, ResealReport, SnapshotInfo, VolumeDetail, VolumeRow } from '../api/reports.js';

// What the server calls, as interfaces: the plugin passes the real service
// and operations (plugin.ts), a test may pass fakes. The server builds none.

/** Docker's calls (VolumeDriver): what the volume service does. */
export interface VolumeDriver {
  /** `exclusive`: refuse a name that exists (a clone); `progress` hears a copy's bytes. */
  create(
    name: string,
    options: VolumeOptions | null,
    exclusive?: boolean,
    progress?: (copiedBytes: number, totalBytes: number) => void,
  ): Promise<void>;
  remove(name: string): Promise<void>;
  /** Resolves with the mountpoint. */
  mount(name: string, mountId: string): Promise<string>;
  unmount(name: string, mountId: string): Promise<void>;
  path(name: string): Promise<string>;
  get(name: string): Promise<{ name: string; mountpoint: string; createdAt: string; status: z.infer<typeof volumeStatus> }>;
  list(): Promise<ReadonlyArray<{ name: string; mountpoint: string }>>;
}

/** The day-2 calls behind /Custom.*, each under the volume's lock. */
export interface VolumeCalls {
  list(): VolumeRow[];
  inspect(name: string): Promise<VolumeDetail>;
  /** Resolves with whether it changed. */
  protect(name: string, on: boolean): Promise<boolean>;
  resize(name: string, size: string): Promise<{ fromBytes: number | null; toBytes: number; changed: boolean }>;
  rekey(name: string): Promise<void>;
}

export interface SnapshotCalls {
  take(name: string, snapshot?: string): Promise<SnapshotInfo>;
  list(name: string): Promise<SnapshotInfo[]>;
  restore(name: string, snapshot: string): Promise<{ sizeBytes: number }>;
  remove(name: string, snapshot: string): Promise<void>;
}

export interface TransferCalls {
  /** Streams the volume's files to the sink `open` returns (called once the export starts, with its rough size). */
  export(name: string, plaintext: boolean, open: (estimateBytes: number | undefined) => Writable): Promise<StreamSeal>;
  import(name: string, source: Readable): Promise<StreamSeal>;
}

/** The plugin's own operations (absent ones answer that they are not available in this plugin). */
export interface PluginOperations {
  readonly volumes: VolumeCalls;
  readonly snapshots: SnapshotCalls;
  readonly transfers?: TransferCalls;
  /** Every generated key sealed under the current KEK; a refusal is a RequestError. */
  readonly reseal?: () => Promise<ResealReport>;
  readonly doctor: () => Promise<Diagnosis>;
}
