import type { LeaseMap, VolumeRecord } from '../../src/state/schema.js';
import { volumeId } from '../../src/state/volume-id.js';

// Records for the state store's tests: a plain 16 MiB ext4 volume and its leases.

/** A lease held `count` times, taken on boot "b". */
export const lease = (count: number) => ({ count, since: '2026-01-01T00:00:00.000Z', boot: 'b' });

/** The record of a plain volume `name` holding `leases`. */
export function plainRecord(name: string, leases: LeaseMap = {}): VolumeRecord {
  return {
    name,
    id: volumeId(name),
    spec: { type: 'plain', fs: 'ext4', sizeBytes: 1 << 24 },
    createdAt: '2026-01-01T00:00:00.000Z',
    leases,
  };
}
