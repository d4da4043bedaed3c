import type { VolumeRecord } from '../state/schema.js';
import { writeVolumeMeta } from '../state/volume-meta.js';
import { dirExists } from '../state/volume-dirs.js';
import type { VolumeService } from './service.js';
import { persist, step, transaction } from './steps.js';

/**
 * Records a changed volume (under its lock): volume.json first (a state
 * rebuild reads it), put back if the state cannot follow.
 */
export async function rewriteRecord(service: VolumeService, record: VolumeRecord, next: VolumeRecord, what: string): Promise<void> {
  const dir = service.context(record).paths.dir;
  const { name } = record;
  // A replicated volume adopted from the pool has no directory here: the pool's volume.json is its record.
  if (next.spec.type === 'replicated' && !(await dirExists(dir))) {
    await persist(name, what, () => service.deps.state.put(next));
    return;
  }
  await transaction(service.deps.log, name, async (undo) => {
    await step(name, `${what}: its volume.json could not be written`, () => writeVolumeMeta(dir, next));
    undo.push('write the old volume.json back', () => writeVolumeMeta(dir, record));
    await persist(name, what, () => service.deps.state.put(next));
  });
}
