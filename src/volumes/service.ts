import type { Backing, CopyProgress, HungCommandError, VolumeContext } from '../backings/backing.js';
import type { StateStore } from '../state/store.js';
import type { VolumeRecord } from '../state/schema.js';
import type { Logger } from '../log.js';
import { VolumeError } from './errors.js';
import { persist, step, transaction } from './steps.js';
import { hasLease } from './leases.js';
import { KeyedMutex } from '../lib/keyed-mutex.js';
import { validateName } from './names.js';
import { volumeId } from '../state/volume-id.js';
import { volumePaths, volumePathsAt, type PathRoots } from './paths.js';
import { parseProtect, parseVolumeSpec, type SpecDefaults, type VolumeOptions } from './spec.js';
import { cloneSpec, parseFrom } from './from.js';
import { describeVolume, type VolumeInfo, type VolumeSummary } from './describe.js';
import { GlobalCatalog } from './catalog.js';
import { CapacityAdmission } from './admission.js';
import { ClaimLedger } from './claims.js';
import { Provisioner, confirmSameSpec, type ProvisionPort } from './provision.js';
import { noCheckpoints, type Checkpoint } from './checkpoints.js';
import type { HostView } from './host.js';
import { LeaseKeeper, type LeasePolicy, type LeasePort } from './lease-keeper.js';
import { finishPending, removeCommitted } from './pending.js';
import { StuckVolumes } from './hung.js';
import { StuckPolicy } from './stuck-policy.js';
import { recheckVolume, type RecoveryPort } from './recover.js';
import type { Backings } from './ports.js';
import type { SnapshotPort } from './snapshots.js';
import type { OperationsPort } from './operations.js';
import type { TransferPort } from './transfer.js';
import type { ResealPort } from './reseal.js';
import type { DoctorPort } from './doctor.js';

export type { Backings } from './ports.js';
export type { VolumeInfo, VolumeSummary } from './describe.js';

export interface ServicePolicy extends LeasePolicy {
  /** CUSTOM_OVERCOMMIT: how many times the free space may be promised to sparse images. */
  readonly overcommit: number;
}

export interface ServiceDeps {
  readonly state: StateStore;
  readonly backings: Backings;
  readonly roots: PathRoots;
  readonly log: Logger;
  readonly host: HostView;
  readonly policy: ServicePolicy;
  readonly specDefaults?: SpecDefaults;
  readonly checkpoint?: Checkpoint;
}

/**
 * The domain: what each VolumeDriver call means, independent of HTTP. Locks
 * are per volume id. Its parts (leases, capacity, the stuck-process policy,
 * Create's storage steps) and the day-2 operations reach it through the
 * ports they declare, which it implements.
 */
export class VolumeService
  implements LeasePort, RecoveryPort, ProvisionPort, SnapshotPort, OperationsPort, TransferPort, ResealPort, DoctorPort
{
  readonly state: StateStore;
  readonly backings: Backings;
  readonly roots: PathRoots;
  readonly log: Logger;
  readonly host: HostView;
  readonly policy: ServicePolicy;
  readonly locks = new KeyedMutex();
  /** Volumes whose step left a process stuck in the kernel: refused at once until it ends. */
  readonly stuck = new StuckVolumes();
  /** Ids created, mounted, unmounted or removed since start: start-up recovery leaves them alone. */
  readonly touched = new Set<string>();
  readonly leases: LeaseKeeper;
  /** What existing sparse images may still claim, measured between Creates. */
  readonly claims: ClaimLedger;
  readonly capacity: CapacityAdmission;
  private readonly specDefaults: SpecDefaults;
  private readonly checkpoint: Checkpoint;
  private readonly catalog: GlobalCatalog;
  private readonly stuckPolicy: StuckPolicy;
  private readonly provisioner: Provisioner;

  constructor(deps: ServiceDeps) {
    this.state = deps.state;
    this.backings = deps.backings;
    this.roots = deps.roots;
    this.log = deps.log;
    this.host = deps.host;
    this.policy = deps.policy;
    this.specDefaults = deps.specDefaults ?? { generatedKeySource: 'generated' };
    this.checkpoint = deps.checkpoint ?? noCheckpoints;
    this.catalog = new GlobalCatalog(this.backings, this.state, this.locks, this.log);
    this.leases = new LeaseKeeper(this, this.policy);
    this.stuckPolicy = new StuckPolicy(this.locks, this.stuck, this.log, (name) => recheckVolume(this, this.log, name));
    this.claims = new ClaimLedger((record) => this.backingOf(record).unclaimedBytes(this.context(record)), this.log);
    this.capacity = new CapacityAdmission(this.state, this.claims, this.host, this.policy.overcommit);
    this.provisioner = new Provisioner(this, this.checkpoint);
  }

  context(record: VolumeRecord): VolumeContext {
    return { record, paths: volumePaths(this.roots, record.id) };
  }

  /** The volume with its files somewhere else (being created or removed). */
  contextAt(record: VolumeRecord, dir: string): VolumeContext {
    return { record, paths: volumePathsAt(this.roots, record.id, dir) };
  }

  backingOf(record: VolumeRecord): Backing {
    return this.backings[record.spec.type];
  }

  /** `exclusive`: an existing volume of this name is an error (the CLI's clone), not a repeated Create. */
  async create(name: string, options: VolumeOptions | null, exclusive = false, progress?: CopyProgress): Promise<void> {
    validateName(name);
    const from = parseFrom(name, options);
    const parsed = from ? undefined : parseVolumeSpec(name, options, this.specDefaults);
    const protect = parseProtect(name, options);
    const id = volumeId(name);
    await this.stuckPolicy.exclusive(name, id, async () => {
      const spec = parsed ?? cloneSpec(name, from!, this.state.get(from!.source), options, this.specDefaults);
      const existing = this.state.get(name);
      if (existing && exclusive) {
        throw new VolumeError('VOLUME_EXISTS', name, 'already exists; pick another name for the copy, or remove it first');
      }
      if (existing) return confirmSameSpec(existing, spec);
      await step(name, 'an interrupted earlier remove of this name could not be finished', () => finishPending(this, id));
      const record = await this.provisioner.plan(name, id, spec, protect);
      await this.capacity.forCreate(record, async () => {
        this.touched.add(id);
        // The source's lock without its marking: a step that gets stuck here is the new volume's (marked by the outer exclusive).
        if (from) {
          await this.stuckPolicy.alongside(from.source, volumeId(from.source), () => this.provisioner.build(record, from, progress));
        } else await this.provisioner.build(record);
        await this.claims.remeasure(this.state.get(name) ?? record);
      });
    });
  }

  async remove(name: string): Promise<void> {
    const id = volumeId(name);
    await this.stuckPolicy.exclusive(name, id, async () => {
      this.touched.add(id);
      // A Remove that failed halfway (even after its commit) is finished by the next one.
      await step(name, 'could not finish deleting its storage', () => finishPending(this, id));
      const record = this.state.get(name) ?? (await this.catalog.adopt(name));
      if (!record) {
        this.log.warn({ volume: name }, 'remove of a volume we do not have: nothing to do');
        return;
      }
      if (record.protected) {
        throw new VolumeError(
          'VOLUME_PROTECTED',
          name,
          `is protected against removal (custom-volume protect, or -o protect=true); run \`custom-volume unprotect ${name}\` first if it really should go`,
        );
      }
      await this.leases.clearForRemove(name);
      const volume = this.context(record);
      await this.leases.refuseIfUsedElsewhere(record);
      await step(name, 'could not be unmounted', () => this.backingOf(record).deactivate(volume));
      await this.checkpoint('remove.deactivated');
      await step(name, 'could not delete its storage', () => removeCommitted(this, record, (point) => this.checkpoint(point)));
      this.claims.forget(id);
    });
  }

  async mount(name: string, mountId: string): Promise<string> {
    const id = volumeId(name);
    return this.stuckPolicy.exclusive(name, id, async () => {
      this.touched.add(id);
      const record = await this.catalog.find(name, true);
      const volume = this.context(record);
      const backing = this.backingOf(record);
      const wasActive = await backing.isActive(volume);
      await transaction(this.log, name, async (undo) => {
        await step(name, 'could not be mounted', () => backing.activate(volume));
        if (!wasActive) undo.push('unmount again', () => backing.deactivate(volume));
        await this.checkpoint('mount.activated');
        await persist(name, 'could not record the mount', () => this.leases.take(name, mountId));
        undo.push('take the lease back', () => this.leases.giveBack(name, mountId));
        await this.checkpoint('mount.recorded');
      });
      return volume.paths.mountpoint;
    });
  }

  async unmount(name: string, mountId: string): Promise<void> {
    const id = volumeId(name);
    await this.stuckPolicy.exclusive(name, id, async () => {
      const record = this.state.get(name);
      if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
      this.touched.add(id);
      const known = hasLease(record.leases, mountId);
      if (known) {
        // Recorded first: a crash before the unmount leaves an unneeded mount
        // that recovery releases, never a needed one that it forgets.
        await persist(name, 'could not record the unmount', () => this.leases.giveBack(name, mountId));
        await this.checkpoint('unmount.recorded');
      }
      await step(name, 'could not be unmounted', () => this.leases.releaseIfUnused(name, known));
      await this.checkpoint('unmount.done');
    });
  }

  async path(name: string): Promise<string> {
    return this.context(await this.catalog.find(name)).paths.mountpoint;
  }

  async get(name: string): Promise<VolumeInfo> {
    const record = await this.catalog.find(name);
    if (await this.catalog.isGone(record)) {
      throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume (removed on another host)');
    }
    const volume = this.context(record);
    const stuck = this.stuck.get(record.id);
    const settled = this.stuckPolicy.statusSettled(record.id, record.name);
    return {
      name: record.name,
      mountpoint: volume.paths.mountpoint,
      createdAt: record.createdAt,
      status: await describeVolume(this.backingOf(record), volume, this.log, { stuck, settled }),
    };
  }

  async list(): Promise<VolumeSummary[]> {
    return (await this.catalog.merged()).map((record) => ({
      name: record.name,
      mountpoint: volumePaths(this.roots, record.id).mountpoint,
    }));
  }

  /**
   * The day-2 operations' entry: under the volume's lock, its record in this
   * host's state, or VOLUME_NOT_FOUND with `missing` as the detail.
   */
  async withRecord<T>(name: string, work: (record: VolumeRecord) => Promise<T>, missing = 'no such volume on this host'): Promise<T> {
    return this.stuckPolicy.exclusive(name, volumeId(name), async () => {
      const record = this.state.get(name);
      if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, missing);
      return work(record);
    });
  }

  /** Marks the volume busy until the stuck process ends, then checks its real state again. */
  markStuck(id: string, name: string, detail: string, hung: HungCommandError): void {
    this.stuckPolicy.markStuck(id, name, detail, hung);
  }
}
