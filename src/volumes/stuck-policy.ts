import { findHung, type HungCommandError } from '../backings/backing.js';
import type { Logger } from '../log.js';
import { VolumeError, isVolumeError } from './errors.js';
import { stuckError, type StuckVolumes } from './hung.js';
import type { KeyedMutex } from '../lib/keyed-mutex.js';

/**
 * What a request does about steps stuck in the kernel: a volume marked busy
 * (hung.ts) is refused at once, before its lock and again under it; a step
 * that gets stuck marks its volume before the lock is let go, so no request
 * queued behind it starts another stuck process; when the last stuck process
 * ends, the volume's real state is checked again (`recheck`).
 */
export class StuckPolicy {
  constructor(
    private readonly locks: KeyedMutex,
    private readonly stuck: StuckVolumes,
    private readonly log: Logger,
    private readonly recheck: (name: string) => Promise<void>,
  ) {}

  /** Every request that changes a volume: under its lock; a step that gets stuck answers VOLUME_BUSY. */
  async exclusive<T>(name: string, id: string, work: () => Promise<T>): Promise<T> {
    this.stuck.refuse(id, name);
    return this.locks.run(id, async () => {
      this.stuck.refuse(id, name);
      try {
        return await work();
      } catch (error) {
        const hung = findHung(error);
        if (!hung || (isVolumeError(error) && error.code === 'VOLUME_BUSY')) throw error;
        const failed = isVolumeError(error) ? error : new VolumeError('BACKING_FAILED', name, hung.message, { cause: error });
        this.markStuck(id, name, failed.detail, hung);
        throw stuckError(name, failed);
      }
    });
  }

  /** Another volume's lock inside `exclusive` (a clone's source): refused while marked, but a step that gets stuck marks the outer volume. */
  async alongside<T>(name: string, id: string, work: () => Promise<T>): Promise<T> {
    this.stuck.refuse(id, name);
    return this.locks.run(id, () => {
      this.stuck.refuse(id, name);
      return work();
    });
  }

  // A status read that gets stuck (statfs of a mount whose storage stopped answering) marks the
  // volume: later Gets then answer from state. A read that is only slow (a GlusterFS peer that is
  // down) does not keep the next Get from reading afresh.
  /** What hears when a live status read of the volume ends, even after Get stopped waiting. */
  statusSettled(id: string, name: string): (error?: unknown) => void {
    return (error?: unknown) => {
      const hung = error === undefined ? undefined : findHung(error);
      if (hung) this.markStuck(id, name, `reading its live status: ${hung.message}`, hung);
    };
  }

  /** Marks the volume busy until the stuck process ends, then checks its real state again. */
  markStuck(id: string, name: string, detail: string, hung: HungCommandError): void {
    const { log } = this;
    const outcome = this.stuck.mark(id, name, detail, hung, async () => {
      log.warn({ volume: name }, 'its stuck processes ended: checking the volume again');
      await this.recheck(name);
    });
    if (outcome === 'known') return;
    log.error(
      { volume: name, pid: hung.pid, command: hung.command, detail },
      outcome === 'marked' ? 'a step is stuck in the kernel: volume marked busy' : 'another process of this volume is stuck in the kernel',
    );
  }
}
