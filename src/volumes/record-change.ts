import type { VolumeRecord } from '../state/schema.js';
import { writeVolumeMeta } from '../state/volume-meta.js';
import { dirExists } from '../state/volume-dirs.js';
import type { VolumeResolver } from './ports.js';
import type { StateStore } from '../state/store.js';
import type { Logger } from '../log.js';
import { persist, step, transaction } from './steps.js';

/** What recording a change uses of the service. */
export interface RecordChangePort extends Pick<VolumeResolver, 'context'> {
  readonly state: Pick<StateStore, 'put'>;
  readonly log: Logger;
}

/**
 * Records a changed volume (under its lock): volume.json first (a state
 * rebuild reads it), put back if the state cannot follow.
 */
export async function rewriteRecord(service: RecordChangePort, record: VolumeRecord, next: VolumeRecord, what: string): Promise<void> {
  const dir = service.context(record).paths.dir;
  const { name } = record;
  // A replicated volume adopted from the pool has no directory here: the pool's volume.json is its record.
  if (next.spec.type === 'replicated' && !(await dirExists(dir))) {
    await persist(name, what, () => service.state.put(next));
    return;
  }
  await transaction(service.log, name, async (undo) => {
    await step(name, `${what}: its volume.json could not be written`, () => writeVolumeMeta(dir, next));
    undo.push('write the old volume.json back', () => writeVolumeMeta(dir, record));
    await persist(name, what, () => service.state.put(next));
  });
}
