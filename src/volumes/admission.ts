import type { VolumeRecord } from '../state/schema.js';
import type { StateStore } from '../state/store.js';
import { checkCapacity } from './capacity.js';
import type { ClaimLedger } from './claims.js';
import type { HostView } from './host.js';
import { KeyedMutex } from '../lib/keyed-mutex.js';

/**
 * Admits the requests that take disk (a Create, a grow, a snapshot's or a
 * restore's copy) by what they may take. Concurrent ones are checked one at
 * a time, each counting what the others promised until they end: otherwise
 * each one fits alone and together they overfill the disk. A replicated
 * volume's bricks live on the peers, limited by quota: it is not counted.
 */
export class CapacityAdmission {
  /** Sizes promised by requests between their check and their end (one lock for all of them). */
  private readonly promised = new Map<string, number>();
  private readonly lock = new KeyedMutex();

  constructor(
    private readonly state: Pick<StateStore, 'all'>,
    private readonly claims: Pick<ClaimLedger, 'total'>,
    private readonly host: Pick<HostView, 'freeBytes'>,
    /** CUSTOM_OVERCOMMIT: how many times the free space may be promised to sparse images. */
    private readonly overcommit: number,
  ) {}

  /** A Create's whole size must fit, and counts as promised until `work` (its provisioning) ends. */
  async forCreate<T>(record: VolumeRecord, work: () => Promise<T>): Promise<T> {
    const { spec } = record;
    if (spec.type === 'replicated') return work();
    return this.promising(record.id, record.name, spec.sizeBytes, work);
  }

  /**
   * A resize's growth must fit like a Create of that size would, and counts
   * as promised until `work` (the grow) ends: a Create meanwhile sees it.
   */
  async withGrowth<T>(record: VolumeRecord, addedBytes: number, work: () => Promise<T>): Promise<T> {
    if (record.spec.type === 'replicated') return work();
    return this.promising(`${record.id}+grow`, record.name, addedBytes, work);
  }

  private async promising<T>(key: string, name: string, bytes: number, work: () => Promise<T>): Promise<T> {
    await this.lock.run('', async () => {
      await this.assertFits(name, bytes);
      this.promised.set(key, bytes);
    });
    try {
      return await work();
    } finally {
      await this.lock.run('', async () => void this.promised.delete(key));
    }
  }

  private async assertFits(name: string, bytes: number): Promise<void> {
    const records = this.state.all().filter((r) => !this.promised.has(r.id));
    const claimed = await this.claims.total(records);
    checkCapacity(name, bytes, {
      freeBytes: await this.host.freeBytes(),
      unclaimedBytes: claimed + [...this.promised.values()].reduce((sum, total) => sum + total, 0),
      overcommit: this.overcommit,
    });
  }
}
