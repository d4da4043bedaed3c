import type { DataOwner, VolumeType } from '../state/schema.js';
import { rewriteRecord, type RecordChangePort } from './record-change.js';
import { VolumeError } from './errors.js';
import { formatSize, parseSize } from './size.js';
import { MAX_SIZE_BYTES } from './spec.js';
import type { VolumeRecord } from '../state/schema.js';
import { totalLeases } from './leases.js';
import type { VolumeInfo } from './describe.js';
import type { RecordAccess, VolumeResolver } from './ports.js';
import type { CapacityAdmission } from './admission.js';
import type { ClaimLedger } from './claims.js';
import type { StateStore } from '../state/store.js';
import { step } from './steps.js';
import { quoted } from '../lib/quoted.js';

// Day-2 operations behind the plugin's own endpoints (/Custom.*), for the
// operator CLI: what Docker's VolumeDriver API has no call for. Each takes
// the volume's lock, like a request.

/** What the day-2 operations use of the service. */
export interface OperationsPort extends VolumeResolver, RecordAccess, RecordChangePort {
  readonly state: Pick<StateStore, 'all' | 'get' | 'put'>;
  readonly capacity: Pick<CapacityAdmission, 'withGrowth'>;
  readonly claims: Pick<ClaimLedger, 'remeasure'>;
  get(name: string): Promise<VolumeInfo>;
}

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
  constructor(private readonly service: OperationsPort) {}

  /** Every volume this host's state knows, from state only (cheap at any count). */
  list(): VolumeRow[] {
    return this.service.state
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
    const record = this.service.state.get(name);
    if (!record) {
      // Listed by another host (the GlusterFS catalogue) and not used here yet.
      return {
        ...info,
        protected: info.status['protected'] === true,
        host: { dir: '', mountRoot: '', mounted: false, devices: [] },
        leases: [],
      };
    }
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
    return this.service.withRecord(name, async (record) => {
      if (record.spec.type === 'replicated') {
        throw new VolumeError(
          'PRECONDITION_FAILED',
          name,
          "is replicated: protection applies to image volumes only for now (every pool host's plugin may remove a replicated volume, and only this host would know)",
        );
      }
      if ((record.protected === true) === on) return false;
      const { protected: _was, ...rest } = record;
      const next = on ? { ...rest, protected: true as const } : rest;
      await rewriteRecord(this.service, record, next, 'could not record the protection');
      this.service.log.info({ volume: name, protected: on }, on ? 'protected' : 'unprotected');
      return true;
    });
  }

  /**
   * Grows the volume online to `size` (a size as for -o size): refused when
   * smaller than now (no shrinking) or when it does not fit. Returns the sizes.
   */
  async resize(name: string, size: string): Promise<{ fromBytes: number | null; toBytes: number; changed: boolean }> {
    const parsed = parseSize(size);
    if (parsed === undefined || parsed > MAX_SIZE_BYTES) {
      throw new VolumeError(
        'INVALID_OPTION',
        name,
        `size ${quoted(size)} is not a size up to ${formatSize(MAX_SIZE_BYTES)}; use a number with an optional unit k, M, G or T (e.g. 20G)`,
      );
    }
    const wanted = Math.ceil(parsed / 1024 ** 2) * 1024 ** 2;
    const missing = 'no such volume on this host (a replicated volume of another host: mount it here once, or resize it there)';
    return this.service.withRecord(
      name,
      async (record) => {
        const { spec } = record;
        const backing = this.service.backingOf(record);
        // Another host may have grown a replicated volume since this one copied its record.
        const shared = spec.type === 'replicated' ? await backing.catalogEntry?.(name) : undefined;
        const sharedQuota = shared?.spec.type === 'replicated' ? shared.spec.quotaBytes : undefined;
        const local = spec.type === 'replicated' ? spec.quotaBytes : spec.sizeBytes;
        const fromBytes = Math.max(local ?? 0, sharedQuota ?? 0) || null;
        if (fromBytes === null) {
          throw new VolumeError(
            'INVALID_OPTION',
            name,
            'has no size limit (created without -o size); resize only grows a limit it already has',
          );
        }
        if (wanted < fromBytes) {
          throw new VolumeError(
            'INVALID_OPTION',
            name,
            `is ${formatSize(fromBytes)}; shrinking to ${formatSize(wanted)} is refused (a filesystem in use cannot be shrunk safely, xfs not at all). Create a smaller volume and copy the data`,
          );
        }
        if (wanted === fromBytes && wanted === local) return { fromBytes, toBytes: wanted, changed: false };
        if (!backing.grow) throw new VolumeError('PRECONDITION_FAILED', name, `type=${spec.type} cannot be resized`);
        const started = performance.now();
        const toBytes = await this.service.capacity.withGrowth(record, wanted - (local ?? 0), () =>
          step(name, 'could not be grown (it is as it was)', () => backing.grow!(this.service.context(record), wanted)),
        );
        const next = {
          ...record,
          spec: spec.type === 'replicated' ? { ...spec, quotaBytes: toBytes } : { ...spec, sizeBytes: toBytes },
        } as VolumeRecord;
        await rewriteRecord(
          this.service,
          record,
          next,
          `was grown to ${formatSize(toBytes)}, but that could not be recorded; run the same resize again`,
        );
        await this.service.claims.remeasure(next);
        this.service.log.info({ volume: name, fromBytes, toBytes, ms: Math.round(performance.now() - started) }, 'resized');
        return { fromBytes, toBytes, changed: true };
      },
      missing,
    );
  }

  /** A new key for an encrypted volume, online (containers keep writing); the old key opens nothing afterwards. */
  async rekey(name: string): Promise<void> {
    await this.service.withRecord(name, async (record) => {
      const backing = this.service.backingOf(record);
      if (record.spec.type !== 'encrypted' || !backing.rekey) {
        throw new VolumeError(
          'PRECONDITION_FAILED',
          name,
          `is type=${record.spec.type}: it has no key to rotate (only type=encrypted has one)`,
        );
      }
      const started = performance.now();
      await step(name, 'could not be rekeyed (the old key still opens it; run rekey again)', () =>
        backing.rekey!(this.service.context(record)),
      );
      this.service.log.info({ volume: name, ms: Math.round(performance.now() - started) }, 'rekeyed');
    });
  }
}
