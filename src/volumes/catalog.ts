import type { Backing } from '../backings/backing.js';
import type { StateStore } from '../state/store.js';
import type { VolumeRecord, VolumeType } from '../state/schema.js';
import type { Logger } from '../log.js';
import { totalLeases } from './leases.js';

// Get and List must answer even when a pool peer hangs.
const CATALOG_DEADLINE_MS = 3000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

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
    private readonly log: Logger,
  ) {}

  /** Every global type with what its catalog holds now. */
  private async read(): Promise<Array<[VolumeType, VolumeRecord[]]>> {
    const result: Array<[VolumeType, VolumeRecord[]]> = [];
    for (const [type, backing] of Object.entries(this.backings) as Array<[VolumeType, Backing]>) {
      if (!backing.catalog) continue;
      try {
        result.push([type, await withDeadline(backing.catalog(), CATALOG_DEADLINE_MS)]);
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
          records.delete(record.name);
          await this.state.delete(record.name).catch(() => undefined);
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
    await this.state.delete(record.name);
    return true;
  }

  /** A volume another host created: its record, now kept here too (leases stay per host). */
  async adopt(name: string): Promise<VolumeRecord | undefined> {
    for (const [, remote] of await this.read()) {
      const record = remote.find((candidate) => candidate.name === name);
      if (record) {
        await this.state.put({ ...record, leases: {} });
        return this.state.get(name);
      }
    }
    return undefined;
  }
}
