import { findHung, type Backing, type CopyProgress, type HungCommandError, type VolumeContext } from '../backings/backing.js';
import type { StateStore } from '../state/store.js';
import type { VolumeRecord } from '../state/schema.js';
import { writeVolumeMeta } from '../state/volume-meta.js';
import { dirExists, ensureDir, moveDir, newStagingDir } from '../state/volume-dirs.js';
import type { Logger } from '../log.js';
import { VolumeError } from './errors.js';
import { persist, step, transaction } from './steps.js';
import { addLease, hasLease, releaseLease } from './leases.js';
import { KeyedMutex } from './keyed-mutex.js';
import { validateName } from './names.js';
import { volumeId } from '../state/volume-id.js';
import { volumePaths, volumePathsAt, type PathRoots } from './paths.js';
import { parseProtect, parseVolumeSpec, type SpecDefaults, type VolumeOptions } from './spec.js';
import { cloneSpec, parseFrom, type CloneSource } from './from.js';
import { describeVolume, type VolumeInfo, type VolumeSummary } from './describe.js';
import { GlobalCatalog } from './catalog.js';
import { CapacityAdmission } from './admission.js';
import { ClaimLedger } from './claims.js';
import { canonicalJson } from './canonical.js';
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

/** The domain: what each VolumeDriver call means, independent of HTTP. Locks are per volume id. */
export class VolumeService implements LeasePort, RecoveryPort, SnapshotPort, OperationsPort, TransferPort, ResealPort, DoctorPort {
  readonly locks = new KeyedMutex();
  /** Volumes whose step left a process stuck in the kernel: refused at once until it ends. */
  readonly stuck = new StuckVolumes();
  /** Ids created, mounted, unmounted or removed since start: start-up recovery leaves them alone. */
  readonly touched = new Set<string>();
  readonly leases: LeaseKeeper;
  private readonly stuckPolicy: StuckPolicy;
  private readonly catalog: GlobalCatalog;
  private readonly checkpoint: Checkpoint;
  /** What existing sparse images may still claim, measured between Creates. */
  readonly claims: ClaimLedger;
  readonly capacity: CapacityAdmission;
  readonly state: StateStore;
  readonly backings: Backings;
  readonly roots: PathRoots;
  readonly log: Logger;
  readonly host: HostView;
  readonly policy: ServicePolicy;
  private readonly specDefaults: SpecDefaults;

  constructor(deps: ServiceDeps) {
    this.state = deps.state;
    this.backings = deps.backings;
    this.roots = deps.roots;
    this.log = deps.log;
    this.host = deps.host;
    this.policy = deps.policy;
    this.specDefaults = deps.specDefaults ?? { generatedKeySource: 'generated' };
    this.catalog = new GlobalCatalog(deps.backings, deps.state, this.locks, deps.log);
    this.checkpoint = deps.checkpoint ?? noCheckpoints;
    this.leases = new LeaseKeeper(this, deps.policy);
    this.stuckPolicy = new StuckPolicy(this.locks, this.stuck, deps.log, (name) => recheckVolume(this, deps.log, name));
    this.claims = new ClaimLedger((record) => this.backingOf(record).unclaimedBytes(this.context(record)), deps.log);
    this.capacity = new CapacityAdmission(deps.state, this.claims, deps.host, deps.policy.overcommit);
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
    const defaults = this.specDefaults;
    const parsed = from ? undefined : parseVolumeSpec(name, options, defaults);
    const protect = parseProtect(name, options);
    const id = volumeId(name);
    await this.stuckPolicy.exclusive(name, id, async () => {
      const spec = parsed ?? cloneSpec(name, from!, this.state.get(from!.source), options, defaults);
      const existing = this.state.get(name);
      if (existing && exclusive) {
        throw new VolumeError('VOLUME_EXISTS', name, 'already exists; pick another name for the copy, or remove it first');
      }
      if (existing) return confirmSameSpec(existing, spec);
      await step(name, 'an interrupted earlier remove of this name could not be finished', () => finishPending(this, id));
      const problem = await this.backings[spec.type].preflight(spec);
      if (problem) throw new VolumeError('PRECONDITION_FAILED', name, problem);
      const record: VolumeRecord = {
        name,
        id,
        spec,
        createdAt: new Date().toISOString(),
        leases: {},
        ...(protect ? { protected: true } : {}),
      };
      const final = this.context(record);
      if (await dirExists(final.paths.dir)) {
        throw new VolumeError(
          'BACKING_FAILED',
          name,
          `its storage directory already exists (${final.paths.dir}) without a record; it may hold an earlier volume's data, so it is left untouched. Move it away, or restore its volume.json and restart the plugin`,
        );
      }
      await this.capacity.forCreate(record, async () => {
        this.touched.add(id);
        // The source's lock without its marking: a step that gets stuck here is the new volume's (marked by the outer exclusive).
        if (from) {
          await this.stuckPolicy.alongside(from.source, volumeId(from.source), () => this.provision(record, final, from, progress));
        } else await this.provision(record, final);
        await this.claims.remeasure(this.state.get(name) ?? record);
      });
    });
  }

  // Built in .creating/, renamed into place when complete (the commit), then
  // recorded. Each step pushes its undo; a crash leaves only a staging
  // directory that the next start (or Create of this name) discards.
  // A clone (`from`) runs under its source's lock too, taken after its own:
  // the source exists and its target does not, so no two Creates wait on each other.
  private async provision(planned: VolumeRecord, final: VolumeContext, from?: CloneSource, progress?: CopyProgress): Promise<void> {
    const { name } = planned;
    const staged = this.contextAt(planned, newStagingDir(this.roots.dataDir, planned.id));
    const backing = this.backingOf(planned);
    await transaction(this.log, name, async (undo) => {
      // A clone has the size of what it copied (a snapshot may be smaller than its source is now).
      let record = planned;
      if (from) {
        const sizeBytes = await step(name, `could not be copied from ${from.source}`, () => this.copyFrom(staged, from, progress));
        if (record.spec.type !== 'replicated' && sizeBytes !== record.spec.sizeBytes) {
          record = { ...record, spec: { ...record.spec, sizeBytes } } as VolumeRecord;
        }
      } else {
        await step(name, 'could not provision storage', () => backing.create(staged));
      }
      // Undo deletes what was just made, whatever retain says.
      undo.push('delete the new storage', () => backing.destroy(this.contextAt(withoutRetain(record), staged.paths.dir)));
      await this.checkpoint('create.provisioned');
      await step(name, 'could not write its volume.json', async () => {
        await ensureDir(staged.paths.dir);
        await writeVolumeMeta(staged.paths.dir, record);
      });
      // Pushed first: moveDir can fail after its rename (an fsync), and the
      // directory in place without a record would come back at the next start.
      undo.push('move it back to staging', async () => {
        if (await dirExists(final.paths.dir)) await moveDir(final.paths.dir, staged.paths.dir);
      });
      await step(name, 'could not move its storage into place', () => moveDir(staged.paths.dir, final.paths.dir));
      await this.checkpoint('create.committed');
      await persist(name, 'could not record the volume', () => this.state.put(record));
      undo.push('forget the record', () => this.state.delete(name));
      await this.checkpoint('create.recorded');
    });
  }

  /** Resolves with the copy's size. */
  private async copyFrom(target: VolumeContext, from: CloneSource, progress?: CopyProgress): Promise<number> {
    const source = this.state.get(from.source);
    if (!source) throw new VolumeError('VOLUME_NOT_FOUND', target.record.name, `from=${from.source}: no such volume on this host`);
    const backing = this.backingOf(source);
    if (!backing.createFrom) throw new Error(`type=${source.spec.type} cannot be cloned`);
    const started = performance.now();
    const { method, sizeBytes } = await backing.createFrom(target, this.context(source), from.snapshot, progress);
    this.log.info(
      { volume: target.record.name, from: from.source, snapshot: from.snapshot, method, ms: Math.round(performance.now() - started) },
      'cloned',
    );
    return sizeBytes;
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
      await this.refuseIfUsedElsewhere(record);
      await step(name, 'could not be unmounted', () => this.backingOf(record).deactivate(volume));
      await this.checkpoint('remove.deactivated');
      await step(name, 'could not delete its storage', () => removeCommitted(this, record, (point) => this.checkpoint(point)));
      this.claims.forget(id);
    });
  }

  /** A global volume mounted on another host: Remove waits, and says where. */
  private async refuseIfUsedElsewhere(record: VolumeRecord): Promise<void> {
    const backing = this.backingOf(record);
    if (!backing.usersElsewhere) return;
    const elsewhere = await step(record.name, 'could not ask the other hosts whether they use it', () =>
      backing.usersElsewhere!(this.context(record)),
    );
    if (elsewhere.length > 0) {
      throw new VolumeError(
        'VOLUME_IN_USE',
        record.name,
        `is mounted on other hosts (${elsewhere.join(', ')}); stop the containers using it there first`,
      );
    }
  }

  async mount(name: string, mountId: string): Promise<string> {
    const id = volumeId(name);
    return this.stuckPolicy.exclusive(name, id, async () => {
      this.touched.add(id);
      const record = await this.find(name, true);
      const volume = this.context(record);
      const backing = this.backingOf(record);
      const wasActive = await backing.isActive(volume);
      await transaction(this.log, name, async (undo) => {
        await step(name, 'could not be mounted', () => backing.activate(volume));
        if (!wasActive) undo.push('unmount again', () => backing.deactivate(volume));
        await this.checkpoint('mount.activated');
        const now = new Date();
        await persist(name, 'could not record the mount', () =>
          this.state.update(name, (r) => ({ ...r, leases: addLease(r.leases, mountId, now, this.host.bootId) })),
        );
        undo.push('take the lease back', () => this.state.update(name, (r) => ({ ...r, leases: releaseLease(r.leases, mountId) })));
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
        await persist(name, 'could not record the unmount', () =>
          this.state.update(name, (r) => ({ ...r, leases: releaseLease(r.leases, mountId) })),
        );
        await this.checkpoint('unmount.recorded');
      }
      await step(name, 'could not be unmounted', () => this.leases.releaseIfUnused(name, known));
      await this.checkpoint('unmount.done');
    });
  }

  async path(name: string): Promise<string> {
    return this.context(await this.find(name)).paths.mountpoint;
  }

  async get(name: string): Promise<VolumeInfo> {
    const record = await this.find(name);
    if (await this.catalog.isGone(record)) {
      throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume (removed on another host)');
    }
    const volume = this.context(record);
    const stuck = this.stuck.get(record.id);
    // A status read that gets stuck (statfs of a mount whose storage stopped answering) marks the
    // volume: later Gets then answer from state. A read that is only slow (a GlusterFS peer that is
    // down) does not keep the next Get from reading afresh.
    const settled = (error?: unknown) => {
      const hung = error === undefined ? undefined : findHung(error);
      if (hung) this.markStuck(record.id, record.name, `reading its live status: ${hung.message}`, hung);
    };
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

  /** `adopt`: keep a catalogue volume in local state (only under the volume's lock). */
  private async find(name: string, adopt = false): Promise<VolumeRecord> {
    const record = this.state.get(name) ?? (await (adopt ? this.catalog.adopt(name) : this.catalog.lookup(name)));
    if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
    return record;
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

function withoutRetain(record: VolumeRecord): VolumeRecord {
  const { retain: _retain, ...spec } = record.spec;
  return { ...record, spec } as VolumeRecord;
}

// Docker skips Create when Get finds the volume, so two Creates of one name
// only meet when they race: the same options succeed, others are refused.
function confirmSameSpec(existing: VolumeRecord, spec: VolumeRecord['spec']): void {
  // Where a replicated volume lives (its own GlusterFS volume, or the pool) is not an option the user gave.
  const asGiven = (s: VolumeRecord['spec']) => canonicalJson(s.type === 'replicated' ? { ...s, layout: undefined } : s);
  if (asGiven(existing.spec) === asGiven(spec)) return;
  throw new VolumeError(
    'VOLUME_EXISTS',
    existing.name,
    'already exists with other options (another create of this name came first); remove it first, or create it with the same options',
  );
}
