import type { Backing, StatusValue, VolumeContext } from '../backings/backing.js';
import type { StateStore } from '../state/store.js';
import type { VolumeRecord, VolumeType } from '../state/schema.js';
import type { Logger } from '../log.js';
import { VolumeError, isVolumeError } from './errors.js';
import { addLease, hasLease, releaseLease, totalLeases } from './leases.js';
import { KeyedMutex } from './keyed-mutex.js';
import { validateName, volumeId } from './names.js';
import { volumePaths, type PathRoots } from './paths.js';
import { parseVolumeSpec, type SpecDefaults, type VolumeOptions } from './spec.js';
import { describeVolume } from './describe.js';
import { GlobalCatalog } from './catalog.js';

export interface VolumeInfo {
  readonly name: string;
  readonly mountpoint: string;
  readonly createdAt: string;
  readonly status: Record<string, StatusValue>;
}

export interface VolumeSummary {
  readonly name: string;
  readonly mountpoint: string;
}

export type Backings = Readonly<Record<VolumeType, Backing>>;

/** The domain: what each VolumeDriver call means, independent of HTTP. */
export class VolumeService {
  readonly locks = new KeyedMutex();
  private readonly catalog: GlobalCatalog;

  constructor(
    private readonly state: StateStore,
    private readonly backings: Backings,
    private readonly roots: PathRoots,
    private readonly log: Logger,
    private readonly specDefaults: SpecDefaults = { generatedKeySource: 'generated' },
  ) {
    this.catalog = new GlobalCatalog(backings, state, this.locks, log);
  }

  context(record: VolumeRecord): VolumeContext {
    return { record, paths: volumePaths(this.roots, record.id) };
  }

  backingOf(record: VolumeRecord): Backing {
    return this.backings[record.spec.type];
  }

  async create(name: string, options: VolumeOptions | null): Promise<void> {
    validateName(name);
    const spec = parseVolumeSpec(name, options, this.specDefaults);
    await this.locks.run(name, async () => {
      if (this.state.get(name)) return; // Docker may race two creates; the first one wins.
      const problem = await this.backings[spec.type].preflight(spec);
      if (problem) throw new VolumeError('PRECONDITION_FAILED', name, problem);
      const record: VolumeRecord = {
        name,
        id: volumeId(name),
        spec,
        createdAt: new Date().toISOString(),
        leases: {},
      };
      const volume = this.context(record);
      await this.step(name, 'could not provision storage', () => this.backingOf(record).create(volume));
      try {
        await this.state.put(record);
      } catch (error) {
        // Undo deletes what was just made, whatever retain says.
        const { retain: _retain, ...spec } = record.spec;
        const fresh = this.context({ ...record, spec } as VolumeRecord);
        await this.backingOf(record).destroy(fresh).catch((undoError: unknown) =>
          this.log.error({ volume: name, err: undoError }, 'undo of create failed'));
        throw new VolumeError('STATE_FAILED', name, 'could not record the volume', { cause: error });
      }
    });
  }

  async remove(name: string): Promise<void> {
    await this.locks.run(name, async () => {
      const record = this.state.get(name) ?? (await this.catalog.adopt(name));
      if (!record) {
        this.log.warn({ volume: name }, 'remove of a volume we do not have: nothing to do');
        return;
      }
      const mounts = totalLeases(record.leases);
      if (mounts > 0) {
        throw new VolumeError('VOLUME_IN_USE', name, `is in use (${mounts} active mount${mounts > 1 ? 's' : ''}); stop the containers using it first`);
      }
      await this.step(name, 'could not delete its storage', () => this.backingOf(record).destroy(this.context(record)));
      await this.persist(name, () => this.state.delete(name));
    });
  }

  async mount(name: string, id: string): Promise<string> {
    return this.locks.run(name, async () => {
      const record = await this.find(name);
      const volume = this.context(record);
      const wasIdle = totalLeases(record.leases) === 0;
      await this.step(name, 'could not be mounted', () => this.backingOf(record).activate(volume));
      record.leases = addLease(record.leases, id);
      try {
        await this.state.flush();
      } catch (error) {
        record.leases = releaseLease(record.leases, id);
        if (wasIdle) await this.backingOf(record).deactivate(volume).catch(() => undefined);
        throw new VolumeError('STATE_FAILED', name, 'could not record the mount', { cause: error });
      }
      return volume.paths.mountpoint;
    });
  }

  async unmount(name: string, id: string): Promise<void> {
    await this.locks.run(name, async () => {
      const record = this.state.get(name);
      if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
      if (!hasLease(record.leases, id)) return; // unknown ID: nothing to release
      record.leases = releaseLease(record.leases, id);
      // Persist first: a crash between the two steps then leaves an unneeded
      // mount that recovery removes, never a needed one that it forgets.
      await this.persist(name, () => this.state.flush());
      if (totalLeases(record.leases) === 0) {
        await this.step(name, 'could not be unmounted', () => this.backingOf(record).deactivate(this.context(record)));
      }
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
    return {
      name: record.name,
      mountpoint: volume.paths.mountpoint,
      createdAt: record.createdAt,
      status: await describeVolume(this.backingOf(record), volume, this.log),
    };
  }

  async list(): Promise<VolumeSummary[]> {
    return (await this.catalog.merged()).map((record) => ({
      name: record.name,
      mountpoint: volumePaths(this.roots, record.id).mountpoint,
    }));
  }

  private async find(name: string): Promise<VolumeRecord> {
    const record = this.state.get(name) ?? (await this.catalog.adopt(name));
    if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
    return record;
  }

  private async step(name: string, what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (isVolumeError(error)) throw error;
      throw new VolumeError('BACKING_FAILED', name, `${what}: ${reason(error)}`, { cause: error });
    }
  }

  private async persist(name: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      throw new VolumeError('STATE_FAILED', name, 'could not save plugin state', { cause: error });
    }
  }
}

// The tool's first line of stderr says what went wrong (e.g. "No space left
// on device"); it never holds a secret because secrets only travel on stdin.
function reason(error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
    return `its storage directory already exists (${(error as NodeJS.ErrnoException).path}); it may hold an earlier volume's data, so it is left untouched`;
  }
  return error instanceof Error ? error.message : String(error);
}
