import type { DataOwner, VolumeType } from '../state/schema.js';
import { writeVolumeMeta } from '../state/volume-meta.js';
import { volumeId } from '../state/volume-id.js';
import { VolumeError } from './errors.js';
import { formatSize } from './size.js';
import { totalLeases } from './leases.js';
import type { VolumeInfo, VolumeService } from './service.js';

// Day-2 operations behind the plugin's own endpoints (/Custom.*), for the
// operator CLI: what Docker's VolumeDriver API has no call for. Each takes
// the volume's lock, like a request.

export interface LeaseDetail {
  readonly id: string;
  readonly count: number;
  readonly since: string;
  readonly ageSeconds: number;
  /** The kernel boot the lease was taken in ('' when unknown). */
  readonly boot: string;
}

export interface VolumeDetail extends VolumeInfo {
  readonly protected: boolean;
  readonly owner?: DataOwner;
  /** Where the volume lives on this host, and what holds it open. */
  readonly host: {
    readonly dir: string;
    readonly image?: string;
    readonly mountRoot: string;
    readonly mounted: boolean;
    /** Loop devices and mappings a container's mount of it shows. */
    readonly devices: readonly string[];
  };
  readonly leases: readonly LeaseDetail[];
}

export interface VolumeRow {
  readonly name: string;
  readonly type: VolumeType;
  readonly size: string;
  readonly leases: number;
  readonly protected: boolean;
  readonly createdAt: string;
}

export class VolumeOperations {
  constructor(private readonly service: VolumeService) {}

  /** Every volume this host's state knows, from state only (cheap at any count). */
  list(): VolumeRow[] {
    return this.service.deps.state
      .all()
      .map((record) => {
        const { spec } = record;
        const bytes = spec.type === 'replicated' ? spec.quotaBytes : spec.sizeBytes;
        return {
          name: record.name,
          type: spec.type,
          size: bytes === undefined ? 'unlimited' : formatSize(bytes),
          leases: totalLeases(record.leases),
          protected: record.protected === true,
          createdAt: record.createdAt,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async inspect(name: string): Promise<VolumeDetail> {
    const info = await this.service.get(name);
    const record = this.service.deps.state.get(name);
    if (!record) return { ...info, protected: false, host: { dir: '', mountRoot: '', mounted: false, devices: [] }, leases: [] };
    const volume = this.service.context(record);
    const backing = this.service.backingOf(record);
    const [mounted, identity] = await Promise.all([backing.isActive(volume), backing.identity(volume)]);
    const now = Date.now();
    return {
      ...info,
      protected: record.protected === true,
      ...(record.spec.owner ? { owner: record.spec.owner } : {}),
      host: {
        dir: volume.paths.dir,
        ...(record.spec.type === 'replicated' ? {} : { image: volume.paths.image }),
        mountRoot: volume.paths.mountRoot,
        mounted,
        devices: identity.sources,
      },
      leases: Object.entries(record.leases).map(([id, lease]) => ({
        id,
        count: lease.count,
        since: lease.since,
        ageSeconds: Math.max(0, Math.round((now - Date.parse(lease.since)) / 1000)),
        boot: lease.boot,
      })),
    };
  }

  /** Sets or clears the volume's protection against Remove; resolves with whether it changed. */
  async protect(name: string, on: boolean): Promise<boolean> {
    return this.service.locks.run(volumeId(name), async () => {
      const record = this.service.deps.state.get(name);
      if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume on this host');
      if ((record.protected === true) === on) return false;
      const { protected: _was, ...rest } = record;
      const next = on ? { ...rest, protected: true as const } : rest;
      const dir = this.service.context(record).paths.dir;
      // volume.json first (a state rebuild must not lose the protection), put back if state cannot follow.
      await this.service.transaction(name, async (undo) => {
        await this.service.step(name, 'could not write its volume.json', () => writeVolumeMeta(dir, next));
        undo.push('write the old volume.json back', () => writeVolumeMeta(dir, record));
        await this.service.persist(name, 'could not record the protection', () => this.service.deps.state.put(next));
      });
      this.service.deps.log.info({ volume: name, protected: on }, on ? 'protected' : 'unprotected');
      return true;
    });
  }
}
