import type { Backing, SnapshotInfo, VolumeContext } from '../backings/backing.js';
import { defaultSnapshotName } from '../backings/image-snapshots.js';
import type { VolumeRecord } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { totalLeases } from './leases.js';
import { checkSnapshotName } from './names.js';
import { rewriteRecord, type RecordChangePort } from './record-change.js';
import { formatSize } from './size.js';
import type { RecordAccess, VolumeResolver } from './ports.js';
import type { CapacityAdmission } from './admission.js';
import type { ClaimLedger } from './claims.js';
import type { StateStore } from '../state/store.js';
import { step } from './steps.js';

// Snapshots (/Custom.Snapshot*): each under the volume's lock, logged like a request.

const NO_SNAPSHOTS =
  'is replicated: it has no snapshots (GlusterFS snapshots need thin-LVM bricks, which these pools do not use); back it up with custom-volume export';

/** What snapshots use of the service. */
export interface SnapshotPort extends VolumeResolver, RecordAccess, RecordChangePort {
  readonly state: Pick<StateStore, 'get' | 'put'>;
  readonly capacity: Pick<CapacityAdmission, 'withGrowth'>;
  readonly claims: Pick<ClaimLedger, 'remeasure'>;
}

type SnapshotBacking = Backing & Required<Pick<Backing, 'snapshot' | 'listSnapshots' | 'restoreSnapshot' | 'removeSnapshot'>>;

export class SnapshotOperations {
  constructor(private readonly service: SnapshotPort) {}

  async take(name: string, snapshot?: string): Promise<SnapshotInfo> {
    const snap = snapshot ?? defaultSnapshotName();
    checkSnapshotName(name, snap);
    return this.withVolume(name, async (record, volume, backing) => {
      const started = performance.now();
      // A copy may need the image's allocated bytes (no reflink on this filesystem): it must fit like a Create.
      const allocated = record.spec.type === 'replicated' ? 0 : record.spec.sizeBytes - (await backing.unclaimedBytes(volume));
      const info = await this.service.capacity.withGrowth(record, Math.max(0, allocated), () =>
        step(name, `could not take snapshot ${snap} (nothing was kept)`, () => backing.snapshot(volume, snap)),
      );
      await this.service.claims.remeasure(record);
      this.service.log.info(
        { volume: name, snapshot: snap, method: info.method, consistency: info.consistency, ms: Math.round(performance.now() - started) },
        'snapshot taken',
      );
      return info;
    });
  }

  async list(name: string): Promise<SnapshotInfo[]> {
    return this.withVolume(name, (_record, volume, backing) =>
      step(name, 'could not list its snapshots', () => backing.listSnapshots(volume)),
    );
  }

  /** The volume's data becomes the snapshot's; refused while anything has it mounted. */
  async restore(name: string, snapshot: string): Promise<{ sizeBytes: number }> {
    checkSnapshotName(name, snapshot);
    return this.withVolume(name, async (record, volume, backing) => {
      const leases = totalLeases(record.leases);
      if (leases > 0) {
        throw new VolumeError(
          'VOLUME_IN_USE',
          name,
          `is mounted by ${leases} container${leases === 1 ? '' : 's'}; a restore replaces the data under them, so it is refused. Stop them (docker ps --filter volume=${name}), restore, then start them again`,
        );
      }
      const started = performance.now();
      // Without reflinks the restore writes a whole copy beside the image before the old one goes: it must fit.
      const copied = (await backing.listSnapshots(volume)).find((s) => s.name === snapshot)?.allocatedBytes ?? 0;
      const sizeBytes = await this.service.capacity.withGrowth(record, copied, () =>
        step(name, `could not restore snapshot ${snapshot} (the volume is as it was)`, () => backing.restoreSnapshot(volume, snapshot)),
      );
      if (record.spec.type !== 'replicated' && record.spec.sizeBytes !== sizeBytes) {
        const next = { ...record, spec: { ...record.spec, sizeBytes } } as VolumeRecord;
        await rewriteRecord(
          this.service,
          record,
          next,
          `was restored to snapshot ${snapshot} (${formatSize(sizeBytes)}), but its size could not be recorded; restore it again`,
        );
      }
      await this.service.claims.remeasure(this.service.state.get(name) ?? record);
      this.service.log.info({ volume: name, snapshot, ms: Math.round(performance.now() - started) }, 'snapshot restored');
      return { sizeBytes };
    });
  }

  async remove(name: string, snapshot: string): Promise<void> {
    checkSnapshotName(name, snapshot);
    await this.withVolume(name, async (record, volume, backing) => {
      await step(name, `could not remove snapshot ${snapshot}`, () => backing.removeSnapshot(volume, snapshot));
      await this.service.claims.remeasure(record);
      this.service.log.info({ volume: name, snapshot }, 'snapshot removed');
    });
  }

  private async withVolume<T>(
    name: string,
    work: (record: VolumeRecord, volume: VolumeContext, backing: SnapshotBacking) => Promise<T>,
  ): Promise<T> {
    return this.service.withRecord(name, async (record) => {
      const backing = this.service.backingOf(record);
      if (record.spec.type === 'replicated' || !hasSnapshots(backing)) throw new VolumeError('PRECONDITION_FAILED', name, NO_SNAPSHOTS);
      return work(record, this.service.context(record), backing);
    });
  }
}

function hasSnapshots(backing: Backing): backing is SnapshotBacking {
  return (
    backing.snapshot !== undefined &&
    backing.listSnapshots !== undefined &&
    backing.restoreSnapshot !== undefined &&
    backing.removeSnapshot !== undefined
  );
}
