import type { HostInventory } from '../../src/backings/residue.js';
import { rm } from 'node:fs/promises';
import type { HostView } from '../../src/volumes/host.js';
import { UsageSnapshot } from '../../src/volumes/usage.js';
import type { FakeBacking } from './fake-backing.js';

// The host as the service sees it: who bind-mounts which volume, the boot,
// free space. Live ids are the fake backing's active volumes.

export interface DiscardCall {
  readonly id: string;
  readonly dir: string;
  readonly ownsIdentity: boolean;
}

export class FakeHost implements HostView {
  /** Volume id → bind mounts of it seen on the host (a container each). */
  readonly users = new Map<string, number>();
  readonly discarded: DiscardCall[] = [];
  /** When true, scanUsers rejects as if /proc could not be read. */
  scanFails = false;
  free = 1024 ** 4;
  scans = 0;

  constructor(
    private readonly backing: FakeBacking,
    public bootId = 'boot-1',
  ) {}

  async scanUsers(): Promise<UsageSnapshot> {
    await Promise.resolve();
    this.scans += 1;
    if (this.scanFails) throw new Error('fake: cannot read the mount namespaces');
    const mounts = [...this.users].flatMap(([id, count]) => Array.from({ length: count }, () => ({ majMin: '0:0', source: `fake:${id}` })));
    return new UsageSnapshot(mounts);
  }

  async liveIds(): Promise<Set<string>> {
    await Promise.resolve();
    return new Set(this.backing.active);
  }

  async inventory(): Promise<HostInventory> {
    await Promise.resolve();
    return { mounts: [...this.backing.active].map((id) => ({ target: `fake:${id}`, id })), loops: [], dirs: [], imageDirs: [], frozen: [] };
  }

  async freeBytes(): Promise<number> {
    await Promise.resolve();
    return this.free;
  }

  async discardStaging(id: string, dir: string, ownsIdentity: boolean): Promise<void> {
    this.discarded.push({ id, dir, ownsIdentity });
    await rm(dir, { recursive: true, force: true });
  }
}
