import type { Backing, VolumeContext } from '../backings/backing.js';
import type { VolumeRecord, VolumeType } from '../state/schema.js';

// What the volumes' helpers ask of VolumeService. Each helper declares its
// own port from these and the few members of the service's parts it uses, and
// imports this file, never service.ts: the service imports the helpers and
// implements every port, so no import runs back to it.

/** One backing for each volume type. */
export type Backings = Readonly<Record<VolumeType, Backing>>;

/** Where a volume lives on this host, and which backing serves it. */
export interface VolumeResolver {
  context(record: VolumeRecord): VolumeContext;
  backingOf(record: VolumeRecord): Backing;
}

/** The same, with the volume's files somewhere else (being created or removed). */
export interface StagedVolumeResolver extends VolumeResolver {
  contextAt(record: VolumeRecord, dir: string): VolumeContext;
}

/** The day-2 operations' entry to a volume. */
export interface RecordAccess {
  /** Under the volume's lock, its record in this host's state, or VOLUME_NOT_FOUND with `missing` as the detail. */
  withRecord<T>(name: string, work: (record: VolumeRecord) => Promise<T>, missing?: string): Promise<T>;
}
