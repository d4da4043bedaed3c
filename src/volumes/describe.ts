import type { Backing, StatusValue, VolumeContext } from '../backings/backing.js';
import type { Logger } from '../log.js';
import { formatSize } from './size.js';
import { totalLeases } from './leases.js';
import { withDeadline } from '../lib/deadline.js';
import type { StuckStep } from './hung.js';

/** What Get answers: the volume, where containers see it, and its status. */
export interface VolumeInfo {
  readonly name: string;
  readonly mountpoint: string;
  readonly createdAt: string;
  readonly status: Record<string, StatusValue>;
}

/** What List answers for each volume. */
export interface VolumeSummary {
  readonly name: string;
  readonly mountpoint: string;
}

const STATUS_TIMEOUT_MS = 2000;

// What `docker volume inspect` shows under Status. Spec and leases come from
// state; live facts from the backing, bounded in time: Get must answer even
// when the storage does not (the daemon treats a failed Get as "no such
// volume" and drops its own record).
export async function describeVolume(
  backing: Backing,
  volume: VolumeContext,
  log: Logger,
  /** `stuck`: a step of it is stuck in the kernel (its storage is not asked); `settled` hears when the read ends, even after the deadline. */
  live: { readonly stuck?: StuckStep | undefined; readonly settled?: (error?: unknown) => void } = {},
): Promise<Record<string, StatusValue>> {
  const { record } = volume;
  const leases = totalLeases(record.leases);
  const { spec } = record;
  const sizeBytes = spec.type === 'replicated' ? spec.quotaBytes : spec.sizeBytes;
  const status: Record<string, StatusValue> = {
    type: spec.type,
    fs: spec.type === 'replicated' ? 'glusterfs' : spec.fs,
    size: sizeBytes === undefined ? 'unlimited' : formatSize(sizeBytes),
    sizeBytes: sizeBytes ?? null,
    mounted: leases > 0,
    leases,
    createdAt: record.createdAt,
    protected: record.protected === true,
  };
  if (spec.owner?.uid !== undefined) status['uid'] = spec.owner.uid;
  if (spec.owner?.gid !== undefined) status['gid'] = spec.owner.gid;
  if (spec.owner?.mode !== undefined) status['mode'] = spec.owner.mode.toString(8).padStart(4, '0');
  if (live.stuck) {
    status['busy'] = `${live.stuck.detail} (stuck since ${live.stuck.since})`;
    return status;
  }
  try {
    const reading = backing.status(volume);
    void reading.then(
      () => live.settled?.(),
      (error: unknown) => live.settled?.(error),
    );
    Object.assign(status, await withDeadline(reading, STATUS_TIMEOUT_MS));
    if (typeof status['usedBytes'] === 'number') status['used'] = formatSize(status['usedBytes']);
  } catch (error) {
    log.warn({ volume: record.name, err: error }, 'live status unavailable');
    status['statusError'] = 'live status unavailable; see the plugin log';
  }
  return status;
}
