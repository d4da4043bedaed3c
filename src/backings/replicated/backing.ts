import type { Backing, CatalogRead, Leftover, MountIdentity, StatusValue, VolumeContext } from '../backing.js';
import type { VolumeRecord, VolumeSpec } from '../../state/schema.js';
import type { GlusterTools, SystemTools } from '../../system/index.js';
import { isMountedAt, usageStatus } from '../filesystem.js';
import { GlusterCatalogue } from './catalogue.js';
import { LegacyVolumes } from './legacy.js';
import { glusterName, poolKind, replicatedSpec } from './names.js';
import { GlusterPools, tlsFiles } from './pool.js';
import { PoolVolumes } from './pool-volumes.js';
import { GlusterSweeper, type SweepLayout } from './sweeper.js';

const inPool = (record: VolumeRecord): boolean => replicatedSpec(record).layout === 'pool';

/**
 * `type=replicated`: GlusterFS replica 3 (or replica 3 arbiter 1). New volumes
 * are directories of a pool-wide GlusterFS volume (see pool-volumes.ts);
 * volumes made before keep a GlusterFS volume of their own (legacy.ts). With
 * peers, GlusterFS is the catalogue every host's plugin agrees on; leases stay
 * per host.
 */
export class GlusterBacking implements Backing {
  readonly catalog?: () => Promise<CatalogRead>;
  readonly catalogEntry?: (name: string) => Promise<VolumeRecord | undefined>;
  readonly sweep: () => Promise<void>;
  readonly leftovers: () => Promise<Leftover[]>;
  private readonly pools: GlusterPools;
  private readonly pooled: PoolVolumes;
  private readonly legacy: LegacyVolumes;
  private readonly catalogue: GlusterCatalogue;
  private uuid: Promise<string> | undefined;

  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly layout: SweepLayout,
    /** Volume ids in this host's state (the sweep never deletes their bricks). */
    knownIds: () => ReadonlySet<string> = () => new Set(),
  ) {
    this.pools = new GlusterPools(tools, gluster, layout);
    const hostId = () => this.hostId();
    this.pooled = new PoolVolumes(tools, gluster, this.pools, hostId, layout.host, knownIds);
    this.legacy = new LegacyVolumes(tools, gluster, layout);
    this.catalogue = new GlusterCatalogue(tools, gluster, this.pools);
    const sweeper = new GlusterSweeper(tools, gluster, this.pools, this.pooled, layout, hostId, knownIds);
    this.sweep = () => sweeper.sweep();
    this.leftovers = () => sweeper.leftovers();
    // On one host every replicated volume is in local state already.
    if (this.pools.multiHost) {
      this.catalog = () => this.catalogue.read();
      this.catalogEntry = (name) => this.catalogue.entry(name);
    }
  }

  /** This glusterd's UUID: what GlusterFS names a brick's owner by. */
  private hostId(): Promise<string> {
    this.uuid ??= this.gluster.localUuid().catch((error: unknown) => {
      this.uuid = undefined;
      throw error;
    });
    return this.uuid;
  }

  async preflight(spec: VolumeSpec): Promise<string | undefined> {
    if (spec.type !== 'replicated') return 'not a replicated volume';
    let peers;
    try {
      peers = await this.gluster.peerCount();
    } catch (error) {
      return `replicated volumes need a reachable GlusterFS pool (glusterd on this host): ${error instanceof Error ? error.message : String(error)}`;
    }
    if (this.layout.tls) {
      const missing = [];
      for (const file of tlsFiles(this.layout.tlsDir)) if (!(await this.tools.pathExists(file))) missing.push(file);
      if (missing.length > 0)
        return `CUSTOM_GLUSTER_TLS=1 needs GlusterFS's certificate files and management TLS on this host; missing: ${missing.join(', ')} (see the README, "TLS for replicated volumes")`;
    }
    if (this.pools.multiHost) {
      if (this.layout.peers.length < 3) return `replicas=3 needs 3 brick hosts; CUSTOM_GLUSTER_PEERS names ${this.layout.peers.length}`;
      if (peers.connected < 3)
        return `only ${peers.connected} of the pool's ${peers.total} hosts are connected; a replica set of 3 needs 3`;
    }
    return undefined;
  }

  async create(volume: VolumeContext): Promise<void> {
    if (!inPool(volume.record)) throw new Error('new replicated volumes are made in the pool layout only');
    try {
      await this.pooled.create(volume);
    } finally {
      this.catalogue.invalidate(volume.record.id);
    }
  }

  activate(volume: VolumeContext): Promise<void> {
    return inPool(volume.record) ? this.pooled.activate(volume) : this.legacy.activate(volume);
  }

  deactivate(volume: VolumeContext): Promise<void> {
    return inPool(volume.record) ? this.pooled.deactivate(volume) : this.legacy.deactivate(volume);
  }

  async destroy(volume: VolumeContext): Promise<void> {
    try {
      if (inPool(volume.record)) {
        await this.pooled.deactivate(volume);
        await this.pooled.destroy(volume);
      } else {
        await this.legacy.destroy(volume);
      }
    } finally {
      this.catalogue.invalidate(volume.record.id);
    }
  }

  /** A pool volume's quota grows; a volume of the layout before the pool has no directory quota to change. */
  async grow(volume: VolumeContext, sizeBytes: number): Promise<number> {
    if (!inPool(volume.record)) {
      throw new Error(
        'it has the layout from before the pool (a GlusterFS volume of its own), which resize does not handle; copy it into a new volume (README: replicated volumes)',
      );
    }
    try {
      return await this.pooled.grow(volume, sizeBytes);
    } finally {
      this.catalogue.invalidate(volume.record.id);
    }
  }

  /** Hosts (or GlusterFS clients) other than this one that have the volume mounted: Remove waits for them. */
  usersElsewhere(volume: VolumeContext): Promise<string[]> {
    return inPool(volume.record) ? this.pooled.usersElsewhere(volume) : this.legacy.usersElsewhere(volume);
  }

  isActive({ paths }: VolumeContext): Promise<boolean> {
    return isMountedAt(this.tools, paths.mountRoot);
  }

  identity(volume: VolumeContext): Promise<MountIdentity> {
    return inPool(volume.record) ? this.pooled.identity(volume) : this.legacy.identity(volume);
  }

  /** Bricks live on the peers' brick roots, not in the data directory. */
  async unclaimedBytes(): Promise<number> {
    return 0;
  }

  async status(volume: VolumeContext): Promise<Record<string, StatusValue>> {
    const { record, paths } = volume;
    const spec = replicatedSpec(record);
    const name = inPool(record) ? this.pools.nameOf(poolKind(spec)) : glusterName(record.id);
    const mounted = await isMountedAt(this.tools, paths.mountRoot);
    const status: Record<string, StatusValue> = { glusterVolume: name, replicas: spec.replicas, arbiter: spec.arbiter, mounted };
    if (inPool(record)) status['directory'] = PoolVolumes.relativeDir(record);
    const live = await this.gluster.volumeStatus(name).catch(() => []);
    const bricks = inPool(record)
      ? ((await this.pools.existing(poolKind(spec)).catch(() => undefined))?.bricks ?? this.pools.plannedBricks(poolKind(spec)))
      : await this.legacy.bricks(record);
    status['bricks'] = bricks
      .map((b) => `${b.host}:${b.path} ${live.find((s) => s.host === b.host && s.path === b.path)?.online ? 'online' : 'offline'}`)
      .join(', ');
    status['bricksOnline'] = live.filter((b) => b.online).length;
    const heal = await this.gluster.healCount(name).catch(() => new Map<string, number>());
    status['healPending'] = heal.size > 0 ? [...heal.values()].reduce((a, b) => a + b, 0) : null;
    status['splitBrain'] = (await this.gluster.splitBrainCount(name)) ?? null;
    if (mounted) Object.assign(status, await usageStatus(this.tools, paths));
    return status;
  }

  /** At shutdown: the pools' own mounts go (lazily); the volumes' mounts stay for their containers. */
  detach(): Promise<void> {
    return this.pools.detachAll();
  }
}
