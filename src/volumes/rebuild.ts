import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import type { VolumeRecord } from '../state/schema.js';
import { readVolumeMeta, writeVolumeMeta } from '../state/volume-meta.js';
import { listPending, listVolumeDirs } from '../state/volume-dirs.js';
import { canonicalJson } from './canonical.js';

export interface RebuildReport {
  /** Volumes found on disk that state.json did not list, now listed again. */
  readonly rebuilt: string[];
  /** Volumes listed in state.json whose volume.json was missing (written from state). */
  readonly described: string[];
  /** Listed volumes whose directory is gone (their storage was deleted behind the plugin's back). */
  readonly missing: string[];
  /** Listed volumes whose state.json record disagreed with their volume.json (which wins). */
  readonly corrected: string[];
}

/** A volume directory that neither state.json nor its own volume.json can name: the plugin will not start. */
export class UnaccountedVolumesError extends Error {
  constructor(
    readonly dataDir: string,
    readonly entries: ReadonlyArray<{ dir: string; problem: string }>,
  ) {
    super(
      `cannot start: ${entries.length} volume director${entries.length === 1 ? 'y' : 'ies'} in ${dataDir} ` +
        `${entries.length === 1 ? 'is' : 'are'} listed neither in state.json nor by a valid volume.json ` +
        `(${entries
          .slice(0, 3)
          .map((e) => `${e.dir}: ${e.problem}`)
          .join('; ')}). ` +
        'The plugin never starts without volumes that exist on disk. Fix: restore state.json (or the ' +
        "directory's volume.json) from a backup, or, if a directory is not a volume of this plugin, move it " +
        'out of the data directory; then start the plugin again.',
    );
    this.name = 'UnaccountedVolumesError';
  }
}

// Runs before the socket listens. The state file is an index: every volume
// directory is checked against it. Missing records are rebuilt from
// volume.json (leases are not kept there: the start-up check finds real
// users), and volumes from before volume.json existed get one from state.
export async function rebuildFromDisk(state: StateStore, dataDir: string, log: Logger): Promise<RebuildReport> {
  const report = { rebuilt: [] as string[], described: [] as string[], missing: [] as string[], corrected: [] as string[] };
  const byId = new Map(state.all().map((record) => [record.id, record]));
  const unaccounted: Array<{ dir: string; problem: string }> = [];
  const found = new Set<string>();
  for (const problem of state.problems) log.error({ volume: problem.name, problem: problem.problem }, 'skipped a bad record in state.json');
  for (const id of await listVolumeDirs(dataDir)) {
    if (id === 'lost+found') continue;
    const dir = join(dataDir, id);
    found.add(id);
    const meta = await readVolumeMeta(dir);
    const listed = byId.get(id);
    if (listed) {
      if ('problem' in meta) await describe(listed, dir, meta.problem, report, log);
      else if (disagrees(listed, meta.record)) await correct(state, listed, meta.record, report, log);
      continue;
    }
    if ('problem' in meta) {
      unaccounted.push({ dir, problem: meta.problem });
      continue;
    }
    if (meta.record.id !== id) {
      unaccounted.push({ dir, problem: `its volume.json names id ${meta.record.id}` });
      continue;
    }
    await putRebuilt(state, meta.record, log);
    report.rebuilt.push(meta.record.name);
  }
  if (unaccounted.length > 0) throw new UnaccountedVolumesError(dataDir, unaccounted);
  // A volume whose Remove was interrupted after its commit is in .trash/: recovery finishes it.
  const removing = new Set((await listPending(dataDir)).filter((p) => p.kind === 'trash').map((p) => p.id));
  for (const record of state.all()) {
    if (record.spec.type !== 'replicated' && !found.has(record.id) && !removing.has(record.id)) report.missing.push(record.name);
  }
  if (report.rebuilt.length > 0)
    log.warn({ volumes: report.rebuilt, origin: state.origin }, 'rebuilt volumes missing from state.json from their volume.json');
  if (report.missing.length > 0)
    log.error({ volumes: report.missing }, 'listed volumes whose storage directory is gone; they can only be removed');
  return report;
}

// volume.json is written first, by Create and by every change (resize,
// protect); a state.json that says otherwise (restored from an old backup,
// or a crash between the two writes) is the one that is wrong.
function disagrees(listed: VolumeRecord, onDisk: VolumeRecord): boolean {
  return (
    listed.createdAt !== onDisk.createdAt ||
    canonicalJson(listed.spec) !== canonicalJson(onDisk.spec) ||
    (listed.protected === true) !== (onDisk.protected === true)
  );
}

async function correct(
  state: StateStore,
  listed: VolumeRecord,
  onDisk: VolumeRecord,
  report: { corrected: string[] },
  log: Logger,
): Promise<void> {
  // Leases belong to the volume state.json knew; another volume of that id starts without.
  const leases = listed.createdAt === onDisk.createdAt ? listed.leases : {};
  await putRebuilt(state, { ...onDisk, leases }, log);
  log.warn(
    { volume: onDisk.name, stateSaid: { createdAt: listed.createdAt, spec: listed.spec } },
    "state.json disagreed with the volume's volume.json; volume.json wins",
  );
  report.corrected.push(onDisk.name);
}

async function describe(record: VolumeRecord, dir: string, problem: string, report: { described: string[] }, log: Logger): Promise<void> {
  try {
    await writeVolumeMeta(dir, record);
    report.described.push(record.name);
  } catch (error) {
    log.error({ volume: record.name, problem, err: error }, 'could not write volume.json');
  }
}

// Memory may run ahead of disk here on purpose: the volume.json files are
// the truth being restored, and the next successful write saves the index.
async function putRebuilt(state: StateStore, record: VolumeRecord, log: Logger): Promise<void> {
  try {
    await state.put(record);
  } catch (error) {
    log.error({ volume: record.name, err: error }, 'could not save the rebuilt record yet');
    state.adopt(record);
  }
}
