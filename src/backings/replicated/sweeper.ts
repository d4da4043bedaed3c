import { basename, dirname, join } from 'node:path';
import type { GlusterTools, GlusterVolume, SystemTools } from '../../system/index.js';
import type { Leftover } from '../backing.js';
import { isMountedAt } from '../filesystem.js';
import { mergedAllowList } from './access.js';
import { isLegacyBrickName, legacyVolumeId, POOL_KINDS, type PoolKind } from './names.js';
import { CREATING_DIR, TRASH_DIR, VOLUMES_DIR } from '../../state/layout.js';
import type { GlusterPools, PoolLayout } from './pool.js';
import type { PoolVolumes } from './pool-volumes.js';
import { listReal, realDirectory, removeEntry } from './pool-paths.js';

const SWEEP_INTERVAL_MS = 10_000;

export interface SweepLayout extends PoolLayout {
  /** Where this host mounts each volume: <mountDir>/<id>. */
  readonly mountDir: string;
  /** Leftovers younger than this are left alone: a create or mount may be in flight. */
  readonly sweepAgeMs: number;
}

/**
 * What GlusterFS or an interrupted step leaves behind, found by identity and
 * removed only where it can be nobody's:
 * - legacy brick directories of this host (by glusterd UUID, never by host
 *   name) that no GlusterFS volume uses and this host's state does not know,
 *   only names of our pattern, only in the brick root, and never when
 *   GlusterFS cannot list its volumes;
 * - a pool's interrupted creates (this host's, in .creating/<uuid>/, none in
 *   flight) and removes (this host's, in .trash/<uuid>/, none in flight);
 * - this host's marker on a volume it no longer has mounted;
 * - and auth.allow on legacy volumes made before there was one.
 */
export class GlusterSweeper {
  private sweeping: Promise<void> | undefined;
  private lastSweep = 0;

  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly pools: GlusterPools,
    private readonly volumes: PoolVolumes,
    private readonly layout: SweepLayout,
    private readonly hostId: () => Promise<string>,
    /** Volume ids this host's state knows: their bricks are never swept, whatever GlusterFS says (it may have lost its own state). */
    private readonly knownIds: () => ReadonlySet<string>,
  ) {}

  /** One sweep at a time and at most every 10 s (List and Get ask often). */
  sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    if (Date.now() - this.lastSweep < SWEEP_INTERVAL_MS) return Promise.resolve();
    this.lastSweep = Date.now();
    this.sweeping = this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    // No answer from GlusterFS (none on this host, or it is down): nothing is judged blind.
    const volumes = await this.gluster.volumeInfo().catch(() => undefined);
    if (volumes === undefined) return;
    await this.secureLegacy(volumes);
    for (const path of await this.legacyBrickLeftovers(volumes)) await this.tools.removeTree(path);
    for (const kind of POOL_KINDS) {
      if (volumes.some((volume) => volume.name === this.pools.nameOf(kind))) await this.sweepPool(kind);
    }
  }

  /**
   * What the sweep would delete now, and pool bricks no GlusterFS volume uses
   * (never deleted: a pool's bricks are its data), in words for `doctor`.
   * Reads only: a pool this host has not mounted is not mounted for it.
   */
  async leftovers(): Promise<Leftover[]> {
    const volumes = await this.gluster.volumeInfo().catch(() => undefined);
    if (volumes === undefined) return [];
    const found: Leftover[] = [];
    const sweep = `the plugin's sweep deletes it (a List starts one, at most every ${SWEEP_INTERVAL_MS / 1000} s)`;
    for (const path of await this.legacyBrickLeftovers(volumes)) {
      found.push({
        severity: 'warning',
        what: `brick directory ${path} belongs to no GlusterFS volume and no volume of this host`,
        fix: `${sweep}, or: rm -rf ${path}`,
      });
    }
    const unused = await this.unusedPoolBricks(volumes);
    if (unused.length > 0) {
      found.push({
        severity: 'problem',
        what:
          volumes.length === 0
            ? `pool brick directories ${unused.join(', ')} remain, but GlusterFS on this host knows no volume at all: glusterd may have lost its state`
            : `pool brick directories ${unused.join(', ')} belong to no GlusterFS volume (the pool was deleted, or glusterd lost it)`,
        fix: "restore /var/lib/glusterd from a backup or a peer (the bricks hold the volumes' data); remove the directories only if the pool was deleted on purpose",
      });
    }
    for (const kind of POOL_KINDS) {
      const pool = await this.pools.mountedNow(kind);
      if (pool === undefined || !volumes.some((volume) => volume.name === this.pools.nameOf(kind))) continue;
      const self = await this.hostId();
      for (const entry of await this.interruptedCreates(pool, self)) {
        found.push({
          severity: 'warning',
          what: `an interrupted create left ${join(pool, CREATING_DIR, self, entry)}`,
          fix: `${sweep}, with its quota limit`,
        });
      }
      for (const entry of await this.interruptedRemoves(pool, self)) {
        found.push({ severity: 'warning', what: `an interrupted remove left ${join(pool, TRASH_DIR, self, entry)}`, fix: sweep });
      }
    }
    return found;
  }

  private isOld(mtimeMs: number): boolean {
    return Date.now() - mtimeMs > this.layout.sweepAgeMs;
  }

  // Failures here must not stop the clean-up below: the next sweep tries again.
  private async secureLegacy(volumes: readonly GlusterVolume[]): Promise<void> {
    const peers = await this.pools.allowedAddresses().catch(() => undefined);
    if (peers === undefined) return;
    for (const volume of volumes) {
      if (legacyVolumeId(volume.name) === undefined) continue;
      const allow = mergedAllowList(volume.options['auth.allow'], peers);
      if (allow !== undefined) await this.gluster.volumeSet(volume.name, 'auth.allow', allow).catch(() => undefined);
    }
  }

  /** This host's legacy brick directories that no GlusterFS volume uses and this host's state does not know, old enough. */
  private async legacyBrickLeftovers(volumes: readonly GlusterVolume[]): Promise<string[]> {
    const root = this.layout.brickRoot;
    const entries = (await this.tools.listDirectory(root)).filter(isLegacyBrickName);
    if (entries.length === 0 || volumes.length === 0) return []; // bricks but no volumes at all: GlusterFS lost its state, not our bricks
    // Owners are judged by UUID: output without one judges nothing.
    if (volumes.some((volume) => volume.bricks.some((brick) => brick.hostUuid === undefined))) return [];
    const known = this.knownIds();
    const used = await this.usedBrickPaths(volumes);
    const found = [];
    for (const entry of entries) {
      const path = join(root, entry);
      if (used.has(path) || known.has(entry.replace(/-b[1-3]$/, '')) || dirname(path) !== root || basename(path) !== entry) continue;
      const info = await this.tools.fileStat(path);
      if (info && this.isOld(info.mtimeMs)) found.push(path);
    }
    return found;
  }

  // Ours by UUID; and never a path any volume still names under this host's
  // name (a host replaced under the same name keeps the old UUID in volume info).
  private async usedBrickPaths(volumes: readonly GlusterVolume[]): Promise<Set<string>> {
    const self = await this.hostId();
    const used = new Set<string>();
    for (const volume of volumes) {
      for (const brick of volume.bricks) if (brick.hostUuid === self || brick.host === this.layout.host) used.add(brick.path);
    }
    return used;
  }

  /** Pool brick directories in the brick root (<pool>, or <pool>-b1…3 on one host) that no GlusterFS volume uses. */
  private async unusedPoolBricks(volumes: readonly GlusterVolume[]): Promise<string[]> {
    const names = new Set(
      POOL_KINDS.flatMap((kind) => [this.pools.nameOf(kind), ...[1, 2, 3].map((i) => `${this.pools.nameOf(kind)}-b${i}`)]),
    );
    const root = this.layout.brickRoot;
    const entries = (await this.tools.listDirectory(root)).filter((entry) => names.has(entry));
    if (entries.length === 0) return [];
    // Owners are judged by UUID: output without one judges nothing.
    if (volumes.some((volume) => volume.bricks.some((brick) => brick.hostUuid === undefined))) return [];
    const used = volumes.length === 0 ? new Set<string>() : await this.usedBrickPaths(volumes);
    return entries.map((entry) => join(root, entry)).filter((path) => !used.has(path));
  }

  /** This host's staged creates in .creating/<uuid>/ that are old and not in flight (and anything there that is no real directory). */
  private async interruptedCreates(pool: string, self: string): Promise<string[]> {
    const mine = await realDirectory(this.tools, pool, CREATING_DIR, self);
    const found = [];
    for (const entry of mine === undefined ? [] : await this.tools.listDirectory(mine)) {
      if ((await realDirectory(this.tools, pool, CREATING_DIR, self, entry)) === undefined) {
        found.push(entry); // not a real directory: never ours, never followed
        continue;
      }
      const info = await this.tools.fileStat(join(pool, CREATING_DIR, self, entry));
      if (info && this.isOld(info.mtimeMs) && !this.volumes.isCreating(`${self}/${entry}`)) found.push(entry);
    }
    return found;
  }

  /** This host's removes in .trash/<uuid>/ that no Remove is still working on. */
  private async interruptedRemoves(pool: string, self: string): Promise<string[]> {
    const entries = await listReal(this.tools, pool, TRASH_DIR, self);
    return entries.filter((entry) => !this.volumes.isRemoving(join(pool, TRASH_DIR, self, entry)));
  }

  private async sweepPool(kind: PoolKind): Promise<void> {
    const pool = await this.pools.mounted(kind);
    const name = this.pools.nameOf(kind);
    const self = await this.hostId();
    for (const entry of await this.interruptedCreates(pool, self)) {
      if ((await realDirectory(this.tools, pool, CREATING_DIR, self, entry)) !== undefined) {
        await this.gluster.quotaRemove(name, `/${CREATING_DIR}/${self}/${entry}`);
      }
      await removeEntry(this.tools, pool, CREATING_DIR, self, entry);
    }
    for (const entry of await this.interruptedRemoves(pool, self)) await this.volumes.emptyTrash(name, pool, entry);
    // This host's markers on volumes it no longer has mounted (it died with them mounted).
    for (const id of await listReal(this.tools, pool, VOLUMES_DIR)) {
      const age = await this.volumes.markers.ownAgeMs(pool, id);
      if (age === undefined || age <= this.layout.sweepAgeMs) continue;
      const mountRoot = join(this.layout.mountDir, id);
      if (await isMountedAt(this.tools, mountRoot)) continue;
      await this.volumes.markers.unmark(pool, id);
      // A Mount may have bound it meanwhile (the sweep holds no volume lock): put the marker back.
      this.tools.forgetMounts();
      if (await isMountedAt(this.tools, mountRoot)) await this.volumes.markers.mark(pool, id);
    }
  }
}
