import { setTimeout as sleep } from 'node:timers/promises';
import type { VolumeRecord } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { addLease, judgeLeases, releaseLease, totalLeases, withoutLeases } from './leases.js';
import type { UsageSnapshot } from './usage.js';
import type { HostView } from './host.js';
import type { VolumeResolver } from './ports.js';
import type { StateStore } from '../state/store.js';
import type { Logger } from '../log.js';
import { persist, step } from './steps.js';

export interface LeasePolicy {
  /** A lease younger than this may be a Mount whose container is still starting. */
  readonly leaseGraceMs: number;
}

/** What the lease keeper uses of the service. */
export interface LeasePort extends VolumeResolver {
  readonly state: Pick<StateStore, 'get' | 'update'>;
  readonly host: Pick<HostView, 'bootId' | 'scanUsers'>;
  readonly log: Logger;
}

export type Reconciled = 'reactivated' | 'released' | 'kept' | 'idle';

// Leases that cannot get stuck. Docker never sends Unmount for a mount ID
// lost in a power failure, and does not retry one that failed; so a lease is
// checked against the host (is the volume bind-mounted anywhere?) before a
// Remove refuses, after an Unmount, at start-up and at intervals. Every method
// runs under the volume's lock, taken by the caller.
const UNMOUNT_SETTLE_MS = 3000;

export class LeaseKeeper {
  constructor(
    private readonly service: LeasePort,
    private readonly policy: LeasePolicy,
  ) {}

  private record(name: string): VolumeRecord {
    const record = this.service.state.get(name);
    if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
    return record;
  }

  /** Real users of the volume on the host (and when that was seen), or undefined users when the host cannot be read. */
  async usersOf(record: VolumeRecord, snapshot?: UsageSnapshot): Promise<{ users: number | undefined; at: number }> {
    try {
      const seen = snapshot ?? (await this.service.host.scanUsers());
      return { users: seen.usersOf(await this.service.backingOf(record).identity(this.service.context(record))), at: seen.takenAt };
    } catch (error) {
      this.service.log.warn({ volume: record.name, err: error }, 'could not tell who uses the volume; keeping its leases');
      return { users: undefined, at: Date.now() };
    }
  }

  /**
   * Drops the leases that no real user backs, durably; returns the record as
   * it is now. `at` is when the users were counted: leases are judged as of
   * then, so a Mount after the scan is always young.
   */
  async prune(name: string, users: number | undefined, why: string, at = Date.now()): Promise<VolumeRecord> {
    const { state, host, log } = this.service;
    const record = this.record(name);
    const verdict = judgeLeases(record.leases, { bootId: host.bootId, now: at, graceMs: this.policy.leaseGraceMs, users });
    if (verdict.drop.length === 0) return record;
    log.warn({ volume: name, why, released: verdict.drop, users: users ?? null }, 'released stale mount leases');
    const dropped = verdict.drop.map((entry) => entry.id);
    return persist(name, 'could not record the released leases', () =>
      state.update(name, (current) => ({ ...current, leases: withoutLeases(current.leases, dropped) })),
    );
  }

  /** A Mount's lease, taken now, in this boot. */
  take(name: string, mountId: string): Promise<VolumeRecord> {
    const now = new Date();
    return this.service.state.update(name, (r) => ({ ...r, leases: addLease(r.leases, mountId, now, this.service.host.bootId) }));
  }

  /** A Mount's lease given back (its Unmount, or the Mount undone). */
  giveBack(name: string, mountId: string): Promise<VolumeRecord> {
    return this.service.state.update(name, (r) => ({ ...r, leases: releaseLease(r.leases, mountId) }));
  }

  /** Seconds until the youngest lease is past the grace period. */
  private secondsLeft(record: VolumeRecord): number {
    const youngest = Math.max(...Object.values(record.leases).map((lease) => Date.parse(lease.since)));
    return Math.max(1, Math.ceil((youngest + this.policy.leaseGraceMs - Date.now()) / 1000));
  }

  /** Before a Remove: stale leases go; real users, or a Mount in flight, refuse it. */
  async clearForRemove(name: string): Promise<void> {
    const record = this.record(name);
    const volume = this.service.context(record);
    const backing = this.service.backingOf(record);
    const active = await backing.isActive(volume);
    const identity = await backing.identity(volume);
    // Nothing of it on the host (no mount, device or lease): nobody can be using it.
    if (!active && totalLeases(record.leases) === 0 && identity.majMins.length === 0 && identity.sources.length === 0) return;
    const { users, at } = await this.usersOf(record);
    const after = await this.prune(name, users, 'remove', at);
    if (users !== undefined && users > 0) {
      throw new VolumeError(
        'VOLUME_IN_USE',
        name,
        `is in use (${users} container mount${users > 1 ? 's' : ''} on this host); stop the containers using it first`,
      );
    }
    const left = totalLeases(after.leases);
    if (users === undefined && (left > 0 || active)) {
      throw new VolumeError(
        'VOLUME_IN_USE',
        name,
        `has ${left} recorded mount${left === 1 ? '' : 's'} and the host's mounts could not be read to check them; see the plugin log, then retry`,
      );
    }
    if (left > 0) {
      const grace = Math.ceil(this.policy.leaseGraceMs / 1000);
      throw new VolumeError(
        'VOLUME_IN_USE',
        name,
        `was mounted less than ${grace} s ago and a container may still be starting with it; retry in ${this.secondsLeft(after)} s`,
      );
    }
  }

  /** A global volume mounted on another host: Remove waits, and says where. */
  async refuseIfUsedElsewhere(record: VolumeRecord): Promise<void> {
    const backing = this.service.backingOf(record);
    if (!backing.usersElsewhere) return;
    const elsewhere = await step(record.name, 'could not ask the other hosts whether they use it', () =>
      backing.usersElsewhere!(this.service.context(record)),
    );
    if (elsewhere.length > 0) {
      throw new VolumeError(
        'VOLUME_IN_USE',
        record.name,
        `is mounted on other hosts (${elsewhere.join(', ')}); stop the containers using it there first`,
      );
    }
  }

  // After an Unmount. The last lease gone: unmount unless a real user is
  // still there (a mount namespace can outlive its container by a moment).
  // Leases left: those no real user backs go now (an Unmount Docker never sent).
  async releaseIfUnused(name: string, hadLease: boolean): Promise<void> {
    const record = this.record(name);
    const volume = this.service.context(record);
    const backing = this.service.backingOf(record);
    if (totalLeases(record.leases) === 0 && !hadLease && !(await backing.isActive(volume))) return;
    let seen = await this.usersOf(record);
    // A stopped container's mount namespace goes a moment after Docker's
    // Unmount (seconds on a loaded or emulated host, seen in CI): wait for it
    // up to UNMOUNT_SETTLE_MS before keeping the volume mounted.
    const deadline = Date.now() + UNMOUNT_SETTLE_MS;
    while (seen.users !== undefined && seen.users > 0 && totalLeases(record.leases) === 0 && Date.now() < deadline) {
      await sleep(100);
      seen = await this.usersOf(record);
    }
    const after = totalLeases(record.leases) > 0 ? await this.prune(name, seen.users, 'unmount', seen.at) : record;
    if (totalLeases(after.leases) > 0) return;
    // Blind (the host cannot be read): Docker's own last Unmount is still believed.
    if (seen.users === 0 || (seen.users === undefined && hadLease)) {
      await backing.deactivate(volume);
      return;
    }
    this.service.log.warn(
      { volume: name, users: seen.users ?? null },
      'kept mounted: no lease left, but the host still shows it in use (or could not be read)',
    );
  }

  /**
   * Start-up and periodic check of one volume that has leases or something on
   * the host (`live`: a mount or a loop device). Only start-up mounts again
   * what leases still need.
   */
  async reconcile(name: string, snapshot: UsageSnapshot | undefined, mode: 'start' | 'sweep', live: boolean): Promise<Reconciled> {
    const current = this.service.state.get(name);
    if (!current) return 'idle';
    const volume = this.service.context(current);
    const backing = this.service.backingOf(current);
    const seen = snapshot ? await this.usersOf(current, snapshot) : { users: undefined, at: Date.now() };
    // A copy Docker runs through the plugin's own mount (into a new or a stopped
    // container) is no bind mount: if its lease goes, the unmount fails busy and
    // the volume stays mounted until that Unmount arrives. Nothing is lost.
    const { users } = seen;
    const after = await this.prune(name, users, mode === 'start' ? 'start-up' : 'periodic check', seen.at);
    const active = await backing.isActive(volume);
    if (totalLeases(after.leases) > 0) {
      if (active || mode === 'sweep') return 'kept';
      await backing.activate(volume);
      return 'reactivated';
    }
    if (users === 0 && (active || live)) {
      this.service.log.warn({ volume: name, why: mode }, 'released a mount or device that no lease and no container needs');
      await backing.deactivate(volume);
      return 'released';
    }
    if (active)
      this.service.log.warn(
        { volume: name, users: users ?? null },
        'kept mounted without a lease: the host shows it in use (or could not be read yet)',
      );
    return active ? 'kept' : 'idle';
  }
}
