import { VolumeError } from './errors.js';
import { formatSize } from './size.js';

/** Room kept free for state.json, volume.json files and keys. */
export const STATE_RESERVE_BYTES = 64 * 1024 ** 2;

export interface CapacityFacts {
  /** Free bytes in the data directory's filesystem now. */
  readonly freeBytes: number;
  /** What existing sparse images may still claim: each one's size minus what it has allocated. */
  readonly unclaimedBytes: number;
  /** CUSTOM_OVERCOMMIT: 1 promises no more than the disk holds. */
  readonly overcommit: number;
}

// Images are sparse: a volume takes space only as it is written. Without this
// check one volume (or many promised at once) can fill the filesystem that
// holds every other volume's image and the state file.
export function checkCapacity(volume: string, requestedBytes: number, facts: CapacityFacts): void {
  const usable = Math.max(0, facts.freeBytes - STATE_RESERVE_BYTES);
  const room = usable * facts.overcommit - facts.unclaimedBytes;
  if (requestedBytes <= room) return;
  const overcommitted = facts.overcommit === 1 ? '' : ` × CUSTOM_OVERCOMMIT=${facts.overcommit}`;
  throw new VolumeError(
    'INSUFFICIENT_SPACE',
    volume,
    `size ${formatSize(requestedBytes)} does not fit: the data directory's filesystem has ${formatSize(facts.freeBytes)} free` +
      `${overcommitted}, existing volumes may still claim ${formatSize(facts.unclaimedBytes)} and ${formatSize(STATE_RESERVE_BYTES)} is kept for state, ` +
      `which leaves ${formatSize(Math.max(0, room))}. Use a smaller size, free space, or allow overcommit with CUSTOM_OVERCOMMIT (a ratio, e.g. 2)`,
  );
}
