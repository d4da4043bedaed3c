import type { VolumeRecord } from '../state/schema.js';
import { readVolumeMeta } from '../state/volume-meta.js';
import { dirExists, listPending, moveDir, newTrashDir, removeDir } from '../state/volume-dirs.js';
import type { Checkpoint } from './checkpoints.js';
import type { HostView } from './host.js';
import type { StagedVolumeResolver } from './ports.js';
import type { StateStore } from '../state/store.js';
import type { Logger } from '../log.js';
import { volumePaths, type PathRoots } from './paths.js';
import { persist } from './steps.js';

// The second half of Create's and Remove's commits (see state/volume-dirs.ts):
// what a crash left under .creating/ and .trash/ is finished here, at start
// and before any Create or Remove of the same id, under that id's lock.

/** What finishing creates and removes uses of the service. */
export interface PendingPort extends StagedVolumeResolver {
  readonly state: Pick<StateStore, 'all' | 'get' | 'delete'>;
  readonly host: Pick<HostView, 'discardStaging'>;
  readonly roots: PathRoots;
  readonly log: Logger;
}

/**
 * A Remove after its leases are cleared and the volume is deactivated: the
 * directory is renamed into .trash/ (the commit), the record deleted, then the
 * storage destroyed. A crash after the rename is finished by finishPending.
 */
export async function removeCommitted(service: PendingPort, record: VolumeRecord, checkpoint: Checkpoint): Promise<void> {
  const { state, roots, log } = service;
  const volume = service.context(record);
  const trash = newTrashDir(roots.dataDir, record.id);
  const moved = await dirExists(volume.paths.dir);
  if (moved) await moveDir(volume.paths.dir, trash);
  await checkpoint('remove.committed');
  await persist(record.name, 'could not forget the volume', async () => {
    try {
      await state.delete(record.name);
    } catch (error) {
      if (moved)
        await moveDir(trash, volume.paths.dir).catch((undoError: unknown) =>
          log.error({ volume: record.name, err: undoError }, 'could not move the volume back from .trash'),
        );
      throw error;
    }
  });
  await checkpoint('remove.forgotten');
  try {
    await service.backingOf(record).destroy(moved ? service.contextAt(record, trash) : volume);
    if (moved) await removeDir(trash);
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)} (the volume is no longer listed; the next remove of this name, or the next start, finishes deleting it)`,
      { cause: error },
    );
  }
}

/** Finishes interrupted creates (discarded) and removes (completed); returns what it finished. */
export async function finishPending(service: PendingPort, id?: string): Promise<string[]> {
  const { state, roots, log, host } = service;
  const finished: string[] = [];
  for (const pending of await listPending(roots.dataDir, id)) {
    const volumeExists = await dirExists(volumePaths(roots, pending.id).dir);
    if (pending.kind === 'staging') {
      // Its mapping and key are named by id: they are its own only while no volume of that id exists.
      await host.discardStaging(pending.id, pending.dir, !volumeExists);
      log.warn({ id: pending.id, dir: pending.dir }, 'discarded an interrupted create');
      finished.push(`create of ${pending.id}`);
      continue;
    }
    const meta = await readVolumeMeta(pending.dir);
    const idTaken =
      volumeExists || state.all().some((r) => r.id === pending.id && ('problem' in meta || r.createdAt !== meta.record.createdAt));
    if ('problem' in meta) {
      // Killed while its files were being deleted: finish by id, like an interrupted create.
      await host.discardStaging(pending.id, pending.dir, !idTaken);
      log.warn({ id: pending.id, dir: pending.dir, problem: meta.problem }, 'finished an interrupted remove without its volume.json');
      finished.push(`remove of ${pending.id}`);
      continue;
    }
    const { record } = meta;
    if (idTaken) {
      // A newer volume of the same name exists (made on another host, say): its mount, key and
      // GlusterFS volume share this id, so only the leftover files go.
      await removeDir(pending.dir);
      log.warn(
        { volume: record.name, dir: pending.dir },
        'discarded the files of an interrupted remove; a newer volume of this name is left alone',
      );
      continue;
    }
    if (state.get(record.name)?.id === record.id) await state.delete(record.name);
    await service.backingOf(record).destroy(service.contextAt(record, pending.dir));
    await removeDir(pending.dir);
    log.warn({ volume: record.name, dir: pending.dir }, 'finished an interrupted remove');
    finished.push(`remove of ${record.name}`);
  }
  return finished;
}
