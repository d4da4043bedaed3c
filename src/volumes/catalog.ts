import type { Backing } from '../backings/backing.js';
import type { StateStore } from '../state/store.js';
import type { VolumeRecord, VolumeType } from '../state/schema.js';
import type { Logger } from '../log.js';
import { totalLeases } from './leases.js';
import type { KeyedMutex } from '../lib/keyed-mutex.js';
import { withDeadline } from '../lib/deadline.js';
import { volumeId } from '../state/volume-id.js';
import { VolumeError } from './errors.js';

// Get and List must answer even when a pool peer hangs.
const CATALOG_DEADLINE_MS = 3000;

/**
 * Volumes of global types (replicated) live in their backing's catalog, which
 * every host agrees on; local state keeps a copy per host for leases. This
 * reconciles the two. Only a catalog that answered is believed: when it does
 * not, everything answers from local state.
 */
export class GlobalCatalog {
  constructor(
    private readonly backings: Readonly<Record<VolumeType, Backing>>,
    private readonly state: StateStore,
    private readonly locks: KeyedMutex,
    private readonly log: Logger,
  ) {}

  // Drops a local copy under the volume's lock, and only if it is still
  // unmounted then: a Mount may have taken a lease meanwhile.
  private async dropIfIdle(name: string): Promise<boolean> {
    return this.locks.run(volumeId(name), async () => {
      const current = this.state.get(name);
      if (!current || totalLeases(current.leases) > 0) return false;
      await this.state.delete(name);
      return true;
    });
  }

  /** Every global type with what its catalog holds now. */
  private async read(): Promise<Array<[VolumeType, VolumeRecord[]]>> {
    const result: Array<[VolumeType, VolumeRecord[]]> = [];
    for (const [type, backing] of Object.entries(this.backings) as Array<[VolumeType, Backing]>) {
      if (!backing.catalog) continue;
      try {
        const read = await withDeadline(backing.catalog(), CATALOG_DEADLINE_MS);
        for (const bad of read.problems) this.log.warn({ type, entry: bad.name, problem: bad.problem }, 'skipped a bad catalogue entry');
        result.push([type, read.records]);
        void backing.sweep?.().catch((error: unknown) => this.log.warn({ err: error, type }, 'sweep failed'));
      } catch (error) {
        this.log.warn({ err: error, type }, 'catalog unavailable; answering from local state');
      }
    }
    return result;
  }

  /** Local records plus the catalog's, without those removed on another host (unless mounted here). */
  async merged(): Promise<VolumeRecord[]> {
    const records = new Map(this.state.all().map((record) => [record.name, record]));
    for (const [type, remote] of await this.read()) {
      const names = new Set(remote.map((record) => record.name));
      for (const record of remote) if (!records.has(record.name)) records.set(record.name, record);
      for (const record of this.state.all()) {
        if (record.spec.type === type && !names.has(record.name) && totalLeases(record.leases) === 0) {
          if (await this.dropIfIdle(record.name).catch(() => false)) records.delete(record.name);
        }
      }
    }
    return [...records.values()];
  }

  /** Is this local copy of a global volume gone from the pool? Then it is dropped here too. */
  async isGone(record: VolumeRecord): Promise<boolean> {
    if (!this.backings[record.spec.type].catalog || totalLeases(record.leases) > 0) return false;
    const remote = (await this.read()).find(([type]) => type === record.spec.type)?.[1];
    if (!remote || remote.some((candidate) => candidate.name === record.name)) return false;
    return this.dropIfIdle(record.name);
  }

  /** A volume another host created, as the catalogue has it; nothing is written (Get, Path). */
  async lookup(name: string): Promise<VolumeRecord | undefined> {
    for (const [, remote] of await this.read()) {
      const record = remote.find((candidate) => candidate.name === name);
      if (record) return { ...record, leases: {} };
    }
    // Not in the last full read (it may be seconds old): asked by name, where the backing can.
    for (const [type, backing] of Object.entries(this.backings) as Array<[VolumeType, Backing]>) {
      if (!backing.catalogEntry) continue;
      try {
        const record = await withDeadline(backing.catalogEntry(name), CATALOG_DEADLINE_MS);
        if (record) return { ...record, leases: {} };
      } catch (error) {
        this.log.warn({ err: error, type }, 'catalogue entry unavailable');
      }
    }
    return undefined;
  }

  /** This host's record, or the catalogue's; `adopt`: keep a catalogue volume in local state (only under the volume's lock). */
  async find(name: string, adopt = false): Promise<VolumeRecord> {
    const record = this.state.get(name) ?? (await (adopt ? this.adopt(name) : this.lookup(name)));
    if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
    return record;
  }

  /**
   * The same, now kept here too (leases stay per host). The caller holds the
   * volume's lock, so a Remove cannot be undone by a catalogue read that
   * started before it. Never replaces a record that appeared meanwhile.
   */
  async adopt(name: string): Promise<VolumeRecord | undefined> {
    const record = await this.lookup(name);
    if (record && !this.state.get(name)) await this.state.put(record);
    return record ? this.state.get(name) : undefined;
  }
}
