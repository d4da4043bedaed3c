import type { CopyProgress, VolumeContext } from '../backings/backing.js';
import type { VolumeRecord, VolumeSpec } from '../state/schema.js';
import type { StateStore } from '../state/store.js';
import { writeVolumeMeta } from '../state/volume-meta.js';
import { dirExists, ensureDir, moveDir, newStagingDir } from '../state/volume-dirs.js';
import type { Logger } from '../log.js';
import { canonicalJson } from './canonical.js';
import type { Checkpoint } from './checkpoints.js';
import { VolumeError } from './errors.js';
import type { CloneSource } from './from.js';
import type { PathRoots } from './paths.js';
import type { Backings, StagedVolumeResolver } from './ports.js';
import { persist, step, transaction } from './steps.js';

/** What Create's storage steps use of the service. */
export interface ProvisionPort extends StagedVolumeResolver {
  readonly backings: Backings;
  readonly state: Pick<StateStore, 'get' | 'put' | 'delete'>;
  readonly roots: Pick<PathRoots, 'dataDir'>;
  readonly log: Logger;
}

/** Create's storage steps, under the new volume's lock: what is planned, then built, committed and recorded. */
export class Provisioner {
  constructor(
    private readonly service: ProvisionPort,
    private readonly checkpoint: Checkpoint,
  ) {}

  /** The new volume's record, once its type can serve it here and nothing is in its place. */
  async plan(name: string, id: string, spec: VolumeSpec, protect: boolean): Promise<VolumeRecord> {
    const problem = await this.service.backings[spec.type].preflight(spec);
    if (problem) throw new VolumeError('PRECONDITION_FAILED', name, problem);
    const record: VolumeRecord = {
      name,
      id,
      spec,
      createdAt: new Date().toISOString(),
      leases: {},
      ...(protect ? { protected: true } : {}),
    };
    const { dir } = this.service.context(record).paths;
    if (await dirExists(dir)) {
      throw new VolumeError(
        'BACKING_FAILED',
        name,
        `its storage directory already exists (${dir}) without a record; it may hold an earlier volume's data, so it is left untouched. Move it away, or restore its volume.json and restart the plugin`,
      );
    }
    return record;
  }

  // Built in .creating/, renamed into place when complete (the commit), then
  // recorded. Each step pushes its undo; a crash leaves only a staging
  // directory that the next start (or Create of this name) discards.
  // A clone (`from`) runs under its source's lock too, taken after its own:
  // the source exists and its target does not, so no two Creates wait on each other.
  async build(planned: VolumeRecord, from?: CloneSource, progress?: CopyProgress): Promise<void> {
    const { service } = this;
    const { name } = planned;
    const final = service.context(planned);
    const staged = service.contextAt(planned, newStagingDir(service.roots.dataDir, planned.id));
    const backing = service.backingOf(planned);
    await transaction(service.log, name, async (undo) => {
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
      undo.push('delete the new storage', () => backing.destroy(service.contextAt(withoutRetain(record), staged.paths.dir)));
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
      await persist(name, 'could not record the volume', () => service.state.put(record));
      undo.push('forget the record', () => service.state.delete(name));
      await this.checkpoint('create.recorded');
    });
  }

  /** Resolves with the copy's size. */
  private async copyFrom(target: VolumeContext, from: CloneSource, progress?: CopyProgress): Promise<number> {
    const source = this.service.state.get(from.source);
    if (!source) throw new VolumeError('VOLUME_NOT_FOUND', target.record.name, `from=${from.source}: no such volume on this host`);
    const backing = this.service.backingOf(source);
    if (!backing.createFrom) throw new Error(`type=${source.spec.type} cannot be cloned`);
    const started = performance.now();
    const { method, sizeBytes } = await backing.createFrom(target, this.service.context(source), from.snapshot, progress);
    this.service.log.info(
      { volume: target.record.name, from: from.source, snapshot: from.snapshot, method, ms: Math.round(performance.now() - started) },
      'cloned',
    );
    return sizeBytes;
  }
}

// Docker skips Create when Get finds the volume, so two Creates of one name
// only meet when they race: the same options succeed, others are refused.
export function confirmSameSpec(existing: VolumeRecord, spec: VolumeSpec): void {
  // Where a replicated volume lives (its own GlusterFS volume, or the pool) is not an option the user gave.
  const asGiven = (s: VolumeSpec) => canonicalJson(s.type === 'replicated' ? { ...s, layout: undefined } : s);
  if (asGiven(existing.spec) === asGiven(spec)) return;
  throw new VolumeError(
    'VOLUME_EXISTS',
    existing.name,
    'already exists with other options (another create of this name came first); remove it first, or create it with the same options',
  );
}

function withoutRetain(record: VolumeRecord): VolumeRecord {
  const { retain: _retain, ...spec } = record.spec;
  return { ...record, spec } as VolumeRecord;
}
