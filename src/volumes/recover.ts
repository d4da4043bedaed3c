import type { HostResidue } from '../backings/residue.js';
import type { Logger } from '../log.js';
import { totalLeases } from './leases.js';
import { volumePaths, type PathRoots } from './paths.js';
import type { VolumeService } from './service.js';
import type { StateStore } from '../state/store.js';

export interface RecoveryReport {
  readonly reactivated: string[];
  readonly released: string[];
  readonly failed: string[];
}

// Runs after the socket listens (the daemon's start-up Gets are answered from
// state meanwhile). Volumes with leases get their device and mount back;
// mounts and loop devices under our roots that no lease needs are released.
// Each volume is handled under its own lock, so a Mount arriving meanwhile
// waits for the verdict instead of racing it.
export async function recoverHost(
  service: VolumeService,
  state: StateStore,
  residue: HostResidue,
  roots: PathRoots,
  log: Logger,
): Promise<RecoveryReport> {
  const report = { reactivated: [] as string[], released: [] as string[], failed: [] as string[] };
  const live = await residue.liveIds();
  const known = new Set<string>();
  for (const record of state.all()) {
    known.add(record.id);
    const needed = totalLeases(record.leases) > 0;
    if (!needed && !live.has(record.id)) continue;
    await service.locks.run(record.name, async () => {
      const current = state.get(record.name);
      if (!current) return;
      const volume = service.context(current);
      const backing = service.backingOf(current);
      try {
        if (totalLeases(current.leases) > 0) {
          await backing.activate(volume);
          report.reactivated.push(current.name);
        } else {
          await backing.deactivate(volume);
          report.released.push(current.name);
        }
      } catch (error) {
        report.failed.push(current.name);
        log.error({ volume: current.name, err: error }, 'recovery of volume failed');
      }
    });
  }
  for (const id of live) {
    if (known.has(id)) continue;
    try {
      await residue.release(id, volumePaths(roots, id));
      report.released.push(`(orphan ${id})`);
    } catch (error) {
      report.failed.push(`(orphan ${id})`);
      log.error({ id, err: error }, 'release of orphaned mount or loop device failed');
    }
  }
  return report;
}
