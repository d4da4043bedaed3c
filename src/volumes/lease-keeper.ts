import { setTimeout as sleep } from 'node:timers/promises';
import type { VolumeRecord } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { judgeLeases, totalLeases } from './leases.js';
import type { UsageSnapshot } from './usage.js';
import type { VolumeService } from './service.js';

export interface LeasePolicy {
  /** A lease younger than this may be a Mount whose container is still starting. */
  readonly leaseGraceMs: number;
}

export type Reconciled = 'reactivated' | 'released' | 'kept' | 'idle';

// Leases that cannot get stuck. Docker never sends Unmount for a mount ID
// lost in a power failure, and does not retry one that failed; so a lease is
// checked against the host (is the volume bind-mounted anywhere?) before a
// Remove refuses, after an Unmount, at start-up and at intervals. Every method
// runs under the volume's lock, taken by the caller.
export class LeaseKeeper {
  constructor(
    private readonly service: VolumeService,
    private readonly policy: LeasePolicy,
  ) {}

  private record(name: string): VolumeRecord {
    const record = this.service.deps.state.get(name);
    if (!record) throw new VolumeError('VOLUME_NOT_FOUND', name, 'no such volume');
    return record;
  }

  /** Real users of the volume on the host, or undefined when the host cannot be read. */
  async usersOf(record: VolumeRecord, snapshot?: UsageSnapshot): Promise<number | undefined> {
    try {
      const seen = snapshot ?? (await this.service.deps.host.scanUsers());
      return seen.usersOf(await this.service.backingOf(record).identity(this.service.context(record)));
    } catch (error) {
      this.service.deps.log.warn({ volume: record.name, err: error }, 'could not tell who uses the volume; keeping its leases');
      return undefined;
    }
  }

  /** Drops the leases that no real user backs, durably; returns the record as it is now. */
  async prune(name: string, users: number | undefined, why: string): Promise<VolumeRecord> {
    const { deps } = this.service;
    const record = this.record(name);
    const verdict = judgeLeases(record.leases, { bootId: deps.host.bootId, now: Date.now(), graceMs: this.policy.leaseGraceMs, users });
    if (verdict.drop.length === 0) return record;
    deps.log.warn({ volume: name, why, released: verdict.drop, users: users ?? null }, 'released stale mount leases');
    return this.service.persist(name, 'could not record the released leases', () =>
      deps.state.update(name, (current) => ({ ...current, leases: judgeLeases(current.leases, { bootId: deps.host.bootId, now: Date.now(), graceMs: this.policy.leaseGraceMs, users }).keep })));
  }

  /** Before a Remove: stale leases go; real users, or a Mount in flight, refuse it. */
  async clearForRemove(name: string): Promise<void> {
    const record = this.record(name);
    const volume = this.service.context(record);
    const active = await this.service.backingOf(record).isActive(volume);
    if (!active && totalLeases(record.leases) === 0) return;
    const users = await this.usersOf(record);
    const after = await this.prune(name, users, 'remove');
    if (users !== undefined && users > 0) {
      throw new VolumeError('VOLUME_IN_USE', name, `is in use (${users} container mount${users > 1 ? 's' : ''} on this host); stop the containers using it first`);
    }
    const left = totalLeases(after.leases);
    if (users === undefined && (left > 0 || active)) {
      throw new VolumeError('VOLUME_IN_USE', name, `has ${left} recorded mount${left === 1 ? '' : 's'} and the host's mounts could not be read to check them; see the plugin log, then retry`);
    }
    if (left > 0) {
      const seconds = Math.ceil(this.policy.leaseGraceMs / 1000);
      throw new VolumeError('VOLUME_IN_USE', name, `was mounted less than ${seconds} s ago and a container may still be starting with it; retry in ${seconds} s`);
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
    let users = await this.usersOf(record);
    for (let tries = 0; users !== undefined && users > 0 && totalLeases(record.leases) === 0 && tries < 3; tries += 1) {
      await sleep(100);
      users = await this.usersOf(record);
    }
    const after = totalLeases(record.leases) > 0 ? await this.prune(name, users, 'unmount') : record;
    if (totalLeases(after.leases) > 0) return;
    if (users === 0) {
      await backing.deactivate(volume);
      return;
    }
    this.service.deps.log.warn({ volume: name, users: users ?? null }, 'kept mounted: no lease left, but the host still shows it in use (or could not be read)');
  }

  /** Start-up and periodic check of one volume. Only start-up mounts again what leases still need. */
  async reconcile(name: string, snapshot: UsageSnapshot | undefined, mode: 'start' | 'sweep'): Promise<Reconciled> {
    const current = this.service.deps.state.get(name);
    if (!current) return 'idle';
    const volume = this.service.context(current);
    const backing = this.service.backingOf(current);
    const users = snapshot ? await this.usersOf(current, snapshot) : undefined;
    const after = await this.prune(name, users, mode === 'start' ? 'start-up' : 'periodic check');
    const active = await backing.isActive(volume);
    if (totalLeases(after.leases) > 0) {
      if (active || mode === 'sweep') return 'kept';
      await backing.activate(volume);
      return 'reactivated';
    }
    if (!active) return 'idle';
    if (users === 0) {
      this.service.deps.log.warn({ volume: name, why: mode }, 'released a mount that no lease and no container needs');
      await backing.deactivate(volume);
      return 'released';
    }
    this.service.deps.log.warn({ volume: name, users: users ?? null }, 'kept mounted without a lease: the host shows it in use (or could not be read)');
    return 'kept';
  }
}
