import type { HungCommandError } from '../backings/backing.js';
import { VolumeError } from './errors.js';

/** A volume whose step left a process stuck in the kernel: what, and since when. */
export interface StuckStep {
  readonly name: string;
  /** The step and the command, as the first request was told. */
  readonly detail: string;
  readonly since: string;
  readonly pid: number | undefined;
}

const FIX =
  'bring back the storage it waits on (the FUSE server or GlusterFS bricks behind the mount, a network mount), or reboot the host; the plugin checks the volume again by itself once that process ends';

/**
 * Volumes marked busy because one of their steps outlived its deadline and
 * its process cannot be killed (uninterruptible sleep). While it lives,
 * every request that would touch the volume is refused at once with what is
 * stuck, instead of queueing behind it or starting another stuck process;
 * Get and List answer from state. When the process ends, `onEnd` runs (the
 * service checks the volume's real state again) and the mark goes.
 */
export class StuckVolumes {
  private readonly stuck = new Map<string, { readonly step: StuckStep; readonly pending: Set<Promise<void>> }>();

  get(id: string): StuckStep | undefined {
    return this.stuck.get(id)?.step;
  }

  all(): StuckStep[] {
    return [...this.stuck.values()].map((entry) => entry.step);
  }

  /**
   * Marks the volume, or adds a process to its mark (an undo step or a
   * status read that got stuck too). The mark goes when the last one ends;
   * then `onEnd` runs. Says whether the volume was newly marked, the process
   * added to its mark, or already known.
   */
  mark(id: string, name: string, detail: string, hung: HungCommandError, onEnd: () => Promise<void>): 'marked' | 'added' | 'known' {
    const existing = this.stuck.get(id);
    const entry = existing ?? { step: { name, detail, since: new Date().toISOString(), pid: hung.pid }, pending: new Set<Promise<void>>() };
    if (entry.pending.has(hung.exited)) return 'known';
    entry.pending.add(hung.exited);
    this.stuck.set(id, entry);
    void hung.exited.then(() => {
      entry.pending.delete(hung.exited);
      if (entry.pending.size > 0 || this.stuck.get(id) !== entry) return;
      this.stuck.delete(id);
      return onEnd().catch(() => undefined); // onEnd logs its own failures
    });
    return existing === undefined ? 'marked' : 'added';
  }

  /** Throws VOLUME_BUSY when the volume is marked. */
  refuse(id: string, name: string): void {
    const entry = this.stuck.get(id);
    if (entry) throw busyError(name, entry.step);
  }
}

export function busyError(name: string, step: StuckStep): VolumeError {
  return new VolumeError(
    'VOLUME_BUSY',
    name,
    `is busy: ${step.detail} (stuck since ${step.since}); nothing else is done to it until that process ends. Fix: ${FIX}`,
  );
}

/** The error the request that hit the stuck step answers with. */
export function stuckError(name: string, error: VolumeError): VolumeError {
  return new VolumeError('VOLUME_BUSY', name, `${error.detail}; the volume is marked busy until that process ends. Fix: ${FIX}`, {
    cause: error,
  });
}
