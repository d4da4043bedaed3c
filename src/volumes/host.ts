import type { UsageSnapshot } from './usage.js';
import type { HostInventory } from '../backings/residue.js';

/**
 * What the service needs to know about the host beyond one volume's backing:
 * who uses volumes, which boot this is, what is live under our roots and how
 * much space is left. The real one reads /proc and statfs; the fast tier
 * passes a fake.
 */
export interface HostView {
  readonly bootId: string;
  /** Bind mounts of volumes in every mount namespace; rejects when the host cannot be read. */
  scanUsers(): Promise<UsageSnapshot>;
  /** Ids of volumes that have a mount or a loop device now. */
  liveIds(): Promise<Set<string>>;
  /** Mounts, loop devices and mappings under our roots, and the volume directories (for doctor). */
  inventory(): Promise<HostInventory>;
  /** Free bytes (for an unprivileged writer) in the data directory's filesystem. */
  freeBytes(): Promise<number>;
  /**
   * Releases what an interrupted create left (its loop device; its mapping and
   * key too when `ownsIdentity`, i.e. no volume of that id exists) and deletes its directory.
   */
  discardStaging(id: string, dir: string, ownsIdentity: boolean): Promise<void>;
}
