import { join } from 'node:path';
import type { Backing, CatalogRead, MountIdentity, StatusValue, VolumeContext } from './backing.js';
import { validateRecord, type ReplicatedSpec, type VolumeRecord, type VolumeSpec } from '../state/schema.js';
import type { GlusterBrick, GlusterTools, GlusterVolume, SystemTools } from '../system/index.js';
import { ensureDataDirectory, isMountedAt, mountIdentity, unmountFilesystem, usageStatus } from './filesystem.js';
import { withUndo } from './undo.js';

export interface GlusterLayout {
  /** This host's name in the pool. */
  readonly host: string;
  /** Brick hosts with their brick directories, this host first. One entry: N bricks on this host. */
  readonly peers: ReadonlyArray<{ readonly host: string; readonly brickRoot: string }>;
  readonly brickRoot: string;
  readonly sweepAgeMs: number;
}

const PREFIX = 'cv_';
const META = 'user.custom-volume.';
const CATALOG_TTL_MS = 2000;
const SWEEP_INTERVAL_MS = 10_000;

export function glusterName(volumeId: string): string {
  return `${PREFIX}${volumeId}`;
}

const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const decode = (text: string) => Buffer.from(text, 'base64url').toString('utf8');

function replicated(record: VolumeRecord): ReplicatedSpec {
  if (record.spec.type !== 'replicated') throw new Error(`volume ${record.name} is not replicated`);
  return record.spec;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The record another host wrote into the Gluster volume's user.* options:
 * input like any other, so validated (shape, and id against name). Not ours
 * or retained: undefined.
 */
export function recordFromGluster(volume: GlusterVolume): { record: VolumeRecord } | { problem: string } | undefined {
  const name = volume.options[`${META}name`];
  const spec = volume.options[`${META}spec`];
  if (!volume.name.startsWith(PREFIX) || !name || !spec || volume.options[`${META}retained`]) return undefined;
  const checked = validateRecord({
    name: decode(name),
    id: volume.name.slice(PREFIX.length),
    spec: parseJson(decode(spec)),
    createdAt: volume.options[`${META}created`] ?? new Date(0).toISOString(),
    leases: {},
  });
  if ('problem' in checked) return checked;
  return checked.record.spec.type === 'replicated' ? checked : { problem: 'not a replicated volume' };
}

/**
 * `type=replicated`: a GlusterFS replica set (replica 3, or replica 3 arbiter 1)
 * with one brick per peer (or N bricks on this host when it is alone), mounted
 * with the FUSE client on the first lease. Gluster is the catalog: every
 * host's plugin lists the same volumes; leases stay per host.
 */
export class GlusterBacking implements Backing {
  private cached: { at: number; read: CatalogRead } | undefined;
  /** Global scope only: on one host every replicated volume is in local state already. */
  readonly catalog?: () => Promise<CatalogRead>;
  readonly sweep?: () => Promise<void>;

  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly layout: GlusterLayout,
  ) {
    if (this.multiHost) {
      this.catalog = () => this.readCatalog();
      this.sweep = () => this.sweepBricks();
    }
  }

  private get multiHost(): boolean {
    return this.layout.peers.length > 1;
  }

  async preflight(spec: VolumeSpec): Promise<string | undefined> {
    if (spec.type !== 'replicated') return 'not a replicated volume';
    let peers;
    try {
      peers = await this.gluster.peerCount();
    } catch (error) {
      return `replicated volumes need a reachable GlusterFS pool (glusterd on this host): ${error instanceof Error ? error.message : String(error)}`;
    }
    if (this.multiHost) {
      if (this.layout.peers.length < 3) return `replicas=3 needs 3 brick hosts; CUSTOM_GLUSTER_PEERS names ${this.layout.peers.length}`;
      if (peers.connected < 3)
        return `only ${peers.connected} of the pool's ${peers.total} hosts are connected; a replica set of 3 needs 3`;
    }
    return undefined;
  }

  private bricks(record: VolumeRecord): GlusterBrick[] {
    if (this.multiHost) {
      return this.layout.peers.slice(0, 3).map((peer) => ({ host: peer.host, path: join(peer.brickRoot, record.id) }));
    }
    return [1, 2, 3].map((i) => ({ host: this.layout.host, path: join(this.layout.brickRoot, `${record.id}-b${i}`) }));
  }

  /** The volume's real bricks (as created, maybe by another host), or the planned ones. */
  private async actualBricks(record: VolumeRecord): Promise<GlusterBrick[]> {
    const [info] = await this.gluster.volumeInfo(glusterName(record.id)).catch(() => []);
    return info?.bricks ?? this.bricks(record);
  }

  private async removeLocalBricks(bricks: readonly GlusterBrick[]): Promise<void> {
    for (const brick of bricks) {
      if (brick.host === this.layout.host) await this.tools.removeTree(brick.path);
    }
  }

  async create({ record }: VolumeContext): Promise<void> {
    const spec = replicated(record);
    const name = glusterName(record.id);
    const bricks = this.bricks(record);
    await withUndo(async (undo) => {
      await this.tools.makeDirectory(this.layout.brickRoot);
      // Never touch a Gluster volume or bricks that exist already (a retained
      // volume, or one made on another host): only what this call creates is undone.
      if ((await this.gluster.volumeInfo(name).catch(() => [])).length > 0) {
        throw new Error(`GlusterFS volume ${name} already exists (retained, or created on another host)`);
      }
      try {
        await this.gluster.volumeCreate(name, 3, spec.arbiter, bricks, false);
      } catch (error) {
        // Gluster refuses, unless forced, bricks on the root filesystem and
        // several bricks of one replica set on one server: the brick root is
        // the operator's choice, and one server is the single-host default.
        if (!/root partition|same server|force/i.test(String(error))) throw error;
        await this.gluster.volumeCreate(name, 3, spec.arbiter, bricks, true);
      }
      undo.push('remove local bricks', () => this.removeLocalBricks(bricks));
      undo.push('delete gluster volume', () => this.gluster.volumeDelete(name));
      await this.gluster.volumeSet(name, `${META}name`, encode(record.name));
      await this.gluster.volumeSet(name, `${META}spec`, encode(JSON.stringify(spec)));
      await this.gluster.volumeSet(name, `${META}created`, record.createdAt);
      await this.gluster.volumeStart(name);
      undo.push('stop gluster volume', () => this.gluster.volumeStop(name));
      if (spec.quotaBytes !== undefined) await this.gluster.quotaLimit(name, spec.quotaBytes);
    });
    this.invalidate();
  }

  // A catalog read that started before a change must not refill the cache
  // with what the change just made stale.
  private generation = 0;

  private invalidate(): void {
    this.generation += 1;
    this.cached = undefined;
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    if (!(await isMountedAt(this.tools, paths.mountRoot))) {
      await withUndo(async (undo) => {
        await this.tools.makeDirectory(paths.mountRoot, 0o755);
        undo.push('remove mount directory', () => this.tools.removeEmptyDirectory(paths.mountRoot));
        const hosts = new Set((await this.actualBricks(record)).map((b) => b.host));
        // This host's glusterd first when it holds a brick; the others as backups.
        const [server, ...backups] = hosts.has(this.layout.host)
          ? [this.layout.host, ...[...hosts].filter((h) => h !== this.layout.host)]
          : [...hosts];
        // backup-volfile-servers: a dead first server does not block mounting.
        try {
          await this.gluster.mount(server ?? this.layout.host, glusterName(record.id), backups, paths.mountRoot);
        } finally {
          this.tools.forgetMounts();
        }
      });
    }
    await ensureDataDirectory(this.tools, paths);
  }

  async deactivate({ paths }: VolumeContext): Promise<void> {
    await unmountFilesystem(this.tools, paths);
  }

  async destroy(volume: VolumeContext): Promise<void> {
    const { record } = volume;
    await this.deactivate(volume);
    const name = glusterName(record.id);
    const [info] = await this.gluster.volumeInfo(name).catch(() => []);
    const created = info?.options[`${META}created`];
    // A volume of the same name made since (on another host) is not this one.
    if (created !== undefined && created !== record.createdAt) return;
    const bricks = info?.bricks ?? this.bricks(record);
    try {
      await this.gluster.volumeStop(name).catch(() => undefined); // already stopped is fine
      if (replicated(record).retain) {
        // Kept stopped with its bricks, and marked so no host lists it again.
        await this.gluster.volumeSet(name, `${META}retained`, new Date().toISOString());
        return;
      }
      await this.gluster.volumeDelete(name);
      await this.removeLocalBricks(bricks);
    } finally {
      this.invalidate();
    }
  }

  async isActive({ paths }: VolumeContext): Promise<boolean> {
    return isMountedAt(this.tools, paths.mountRoot);
  }

  /** A FUSE mount: its bind mounts share our mount's anonymous device number. */
  async identity({ paths }: VolumeContext): Promise<MountIdentity> {
    return mountIdentity(this.tools, paths.mountRoot, []);
  }

  /** Bricks live on the peers' brick roots, not in the data directory. */
  async unclaimedBytes(): Promise<number> {
    return 0;
  }

  async status({ record, paths }: VolumeContext): Promise<Record<string, StatusValue>> {
    const spec = replicated(record);
    const name = glusterName(record.id);
    const mounted = await isMountedAt(this.tools, paths.mountRoot);
    const status: Record<string, StatusValue> = { glusterVolume: name, replicas: spec.replicas, arbiter: spec.arbiter, mounted };
    const bricks = await this.gluster.volumeStatus(name).catch(() => []);
    const heal = await this.gluster.healCount(name).catch(() => new Map<string, number>());
    status['bricks'] = (await this.actualBricks(record))
      .map((b) => {
        const live = bricks.find((s) => s.host === b.host && s.path === b.path);
        return `${b.host}:${b.path} ${live?.online ? 'online' : 'offline'}`;
      })
      .join(', ');
    status['bricksOnline'] = bricks.filter((b) => b.online).length;
    status['healPending'] = heal.size > 0 ? [...heal.values()].reduce((a, b) => a + b, 0) : null;
    status['splitBrain'] = (await this.gluster.splitBrainCount(name)) ?? null;
    if (mounted) Object.assign(status, await usageStatus(this.tools, paths));
    return status;
  }

  private async readCatalog(): Promise<CatalogRead> {
    if (this.cached && Date.now() - this.cached.at < CATALOG_TTL_MS) return this.cached.read;
    const generation = this.generation;
    const read: { records: VolumeRecord[]; problems: Array<{ name: string; problem: string }> } = { records: [], problems: [] };
    for (const volume of await this.gluster.volumeInfo()) {
      const entry = recordFromGluster(volume);
      if (entry && 'record' in entry) read.records.push(entry.record);
      else if (entry) read.problems.push({ name: volume.name, problem: entry.problem });
    }
    if (generation === this.generation) this.cached = { at: Date.now(), read };
    return read;
  }

  // Gluster leaves brick directories behind on delete, on every host; each
  // host's plugin removes its own once no volume uses them. Young ones are
  // skipped: a create may be between mkdir and commit.
  private sweeping: Promise<void> | undefined;
  private lastSweep = 0;

  /** One sweep at a time and at most every 10 s: Get and List trigger it often. */
  private sweepBricks(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    if (Date.now() - this.lastSweep < SWEEP_INTERVAL_MS) return Promise.resolve();
    this.lastSweep = Date.now();
    this.sweeping = this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const entries = await this.tools.listDirectory(this.layout.brickRoot);
    if (entries.length === 0) return;
    const used = new Set<string>();
    for (const volume of await this.gluster.volumeInfo()) {
      for (const brick of volume.bricks) if (brick.host === this.layout.host) used.add(brick.path);
    }
    for (const entry of entries) {
      const path = join(this.layout.brickRoot, entry);
      if (used.has(path)) continue;
      const info = await this.tools.fileStat(path);
      if (info && Date.now() - info.mtimeMs > this.layout.sweepAgeMs) await this.tools.removeTree(path);
    }
  }
}
