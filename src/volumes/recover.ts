import type { Logger } from '../log.js';
import { findHung, type HungCommandError } from '../backings/backing.js';
import { totalLeases } from './leases.js';
import { volumeId } from '../state/volume-id.js';
import { finishPending, type PendingPort } from './pending.js';
import { eachLimited } from '../lib/each-limited.js';
import { listPending } from '../state/volume-dirs.js';
import type { HostView } from './host.js';
import type { StuckVolumes } from './hung.js';
import type { KeyedMutex } from '../lib/keyed-mutex.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { UsageSnapshot } from './usage.js';

/** What recovery and the periodic check use of the service. */
export interface RecoveryPort extends PendingPort {
  readonly host: Pick<HostView, 'scanUsers' | 'liveIds' | 'discardStaging'>;
  readonly locks: Pick<KeyedMutex, 'run'>;
  readonly stuck: Pick<StuckVolumes, 'get'>;
  /** Ids a request touched since start: recovery leaves them alone. */
  readonly touched: ReadonlySet<string>;
  readonly leases: Pick<LeaseKeeper, 'reconcile'>;
  markStuck(id: string, name: string, detail: string, hung: HungCommandError): void;
}

export interface RecoveryReport {
  readonly finished: string[];
  readonly reactivated: string[];
  readonly released: string[];
  /** Live mounts or loop devices under our roots that belong to no volume we know: left alone. */
  readonly unknown: string[];
  readonly failed: string[];
}

const PARALLEL = 8;

async function scanOrNothing(service: RecoveryPort, log: Logger): Promise<UsageSnapshot | undefined> {
  try {
    return await service.host.scanUsers();
  } catch (error) {
    log.error({ err: error }, "could not read the host's mounts; no lease is released at start-up");
    return undefined;
  }
}

// Each id under its lock: a Create or Remove in flight has its own staging or
// trash directory, which is not a leftover (and finishes it itself).
async function finishAllPending(service: RecoveryPort, log: Logger, report: RecoveryReport): Promise<void> {
  let ids: string[];
  try {
    ids = [...new Set((await listPending(service.roots.dataDir)).map((pending) => pending.id))];
  } catch (error) {
    report.failed.push('(interrupted creates and removes)');
    log.error({ err: error }, 'could not list interrupted creates and removes');
    return;
  }
  for (const id of ids) {
    await service.locks.run(id, async () => {
      try {
        report.finished.push(...(await finishPending(service, id)));
      } catch (error) {
        report.failed.push(`(interrupted create or remove of ${id})`);
        log.error({ id, err: error }, 'could not finish an interrupted create or remove');
      }
    });
  }
}

// Runs after the socket listens (the daemon's start-up Gets are answered from
// state meanwhile). Interrupted creates and removes are finished; volumes with
// leases a real user (or a young Mount) backs get their device and mount
// back; mounts no lease and no container needs are released. Each volume is
// handled under its own lock and skipped if a request touched it since start.
export async function recoverHost(service: RecoveryPort, log: Logger): Promise<RecoveryReport> {
  const report: RecoveryReport = { finished: [], reactivated: [], released: [], unknown: [], failed: [] };
  const { state } = service;
  await finishAllPending(service, log, report);
  const live = await service.host.liveIds();
  const snapshot = await scanOrNothing(service, log);
  const candidates = state.all().filter((record) => totalLeases(record.leases) > 0 || live.has(record.id));
  await eachLimited(candidates, PARALLEL, async ({ name, id }) => {
    await service.locks.run(id, async () => {
      if (service.stuck.get(id)) return; // marked while this waited for the lock
      await thawLeftover(service, name, log);
      if (service.touched.has(id)) return;
      try {
        const outcome = await service.leases.reconcile(name, snapshot, 'start', live.has(id));
        if (outcome === 'reactivated' || outcome === 'released') report[outcome].push(name);
      } catch (error) {
        report.failed.push(name);
        log.error({ volume: name, err: error }, 'recovery of volume failed');
        const hung = findHung(error);
        if (hung) service.markStuck(id, name, `recovering it at start: ${hung.message}`, hung);
      }
    });
  });
  const known = new Set(state.all().map((record) => record.id));
  for (const id of live) {
    if (!known.has(id) && !service.touched.has(id)) report.unknown.push(id);
  }
  if (report.unknown.length > 0) {
    log.warn({ ids: report.unknown }, 'mounts or loop devices of volumes this plugin does not know are left alone');
  }
  return report;
}

// A snapshot or clone freezes the filesystem for its copy; a plugin killed
// meanwhile leaves it frozen, every write in it blocked, until this thaws it.
async function thawLeftover(service: RecoveryPort, name: string, log: Logger): Promise<void> {
  const record = service.state.get(name);
  const backing = record && service.backingOf(record);
  if (!record || !backing?.thawLeftover) return;
  try {
    if (await backing.thawLeftover(service.context(record)))
      log.warn({ volume: name }, 'thawed a filesystem left frozen by an interrupted snapshot');
  } catch (error) {
    log.error(
      { volume: name, err: error },
      'could not thaw a filesystem left frozen by an interrupted snapshot; run fsfreeze --unfreeze on its mount',
    );
  }
}

/** The periodic check: one scan of the host, then each leased or live volume under its lock. */
export async function sweepLeases(service: RecoveryPort, log: Logger): Promise<string[]> {
  const released: string[] = [];
  const snapshot = await scanOrNothing(service, log);
  if (!snapshot) return released;
  const live = await service.host.liveIds();
  // A volume marked busy is left alone: checking it could start another stuck process.
  const candidates = service.state
    .all()
    .filter((record) => (totalLeases(record.leases) > 0 || live.has(record.id)) && !service.stuck.get(record.id));
  await eachLimited(candidates, PARALLEL, async ({ name, id }) => {
    await service.locks.run(volumeId(name), async () => {
      if (service.stuck.get(id)) return; // marked while this waited for the lock
      try {
        if ((await service.leases.reconcile(name, snapshot, 'sweep', live.has(id))) === 'released') released.push(name);
      } catch (error) {
        log.error({ volume: name, err: error }, 'periodic lease check failed');
        const hung = findHung(error);
        if (hung) service.markStuck(id, name, `its periodic check: ${hung.message}`, hung);
      }
    });
  });
  return released;
}

/** After a stuck process of the volume ended: its leases against the host again, as the periodic check would. */
export async function recheckVolume(service: RecoveryPort, log: Logger, name: string): Promise<void> {
  const snapshot = await scanOrNothing(service, log);
  if (!snapshot) return;
  const id = volumeId(name);
  const live = await service.host.liveIds();
  await service.locks.run(id, async () => {
    try {
      const result = await service.leases.reconcile(name, snapshot, 'sweep', live.has(id));
      log.info({ volume: name, result }, 'checked again after its stuck process ended');
    } catch (error) {
      log.error({ volume: name, err: error }, 'check after a stuck process failed');
      const hung = findHung(error);
      if (hung) service.markStuck(id, name, `checking it again: ${hung.message}`, hung);
    }
  });
}
