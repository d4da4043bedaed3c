import { join } from 'node:path';
import type { GlusterBrick, GlusterTools, GlusterVolume, SystemTools } from '../../system/index.js';
import { isMountedAt } from '../filesystem.js';
import { mergedAllowList, peerAddresses } from './access.js';
import { POOL_KINDS, poolVolumeName, type PoolKind } from './names.js';
import { withDeadline } from '../../lib/deadline.js';

export interface PoolLayout {
  /** This host's name in the pool. */
  readonly host: string;
  /** Brick hosts with their brick directories, this host first. One entry: three bricks on this host. */
  readonly peers: ReadonlyArray<{ readonly host: string; readonly brickRoot: string }>;
  readonly brickRoot: string;
  /** Where this host mounts each pool volume whole: the plugin's own view, never handed to a container. */
  readonly poolMountDir: string;
  /** The pool volumes' name: <poolName> (replica 3) and <poolName>_arbiter. */
  readonly poolName: string;
  /** I/O over TLS (client.ssl and server.ssl on), set before the pool first starts. */
  readonly tls: boolean;
  /** GlusterFS's OpenSSL directory (glusterfs.pem, .key, .ca). */
  readonly tlsDir: string;
}

/** GlusterFS's own layout: every peer and client holds these. */
export function tlsFiles(tlsDir: string): string[] {
  return [...['pem', 'key', 'ca'].map((ext) => join(tlsDir, `glusterfs.${ext}`)), '/var/lib/glusterd/secure-access'];
}

// GlusterFS refuses these unless forced; on a single host both are the
// default's nature (three bricks on one server, maybe on the root
// filesystem). Any other refusal stands, and with peers nothing is forced.
const FORCIBLE = /same server|root partition/i;
const ALIVE_WAIT_MS = 2000;

/**
 * The pool-wide GlusterFS volumes that hold every replicated Docker volume as
 * a directory: made on first use (replica 3, or replica 3 arbiter 1; auth.allow
 * the peers; quota with immediate enforcement), then mounted once per host.
 * Bricks, brick processes and the self-heal daemon are per pool, not per volume.
 */
export class GlusterPools {
  private readonly ready = new Map<PoolKind, Promise<GlusterVolume>>();
  private readonly mounting = new Map<PoolKind, Promise<string>>();

  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly layout: PoolLayout,
  ) {}

  get multiHost(): boolean {
    return this.layout.peers.length > 1;
  }

  nameOf(kind: PoolKind): string {
    return poolVolumeName(this.layout.poolName, kind);
  }

  /** Where this host mounts the pool (mounted or not). */
  mountPathOf(kind: PoolKind): string {
    return join(this.layout.poolMountDir, this.nameOf(kind));
  }

  plannedBricks(kind: PoolKind): GlusterBrick[] {
    const name = this.nameOf(kind);
    if (this.multiHost) return this.layout.peers.slice(0, 3).map((peer) => ({ host: peer.host, path: join(peer.brickRoot, name) }));
    return [1, 2, 3].map((i) => ({ host: this.layout.host, path: join(this.layout.brickRoot, `${name}-b${i}`) }));
  }

  /** The pool volume, created, allowed to the peers only, started and with quota on. Once per process. */
  ensure(kind: PoolKind): Promise<GlusterVolume> {
    let ready = this.ready.get(kind);
    if (!ready) {
      ready = this.prepare(kind);
      ready.catch(() => this.ready.delete(kind)); // the next call tries again
      this.ready.set(kind, ready);
    }
    return ready;
  }

  /** The pool's info if it exists, without creating it. */
  async existing(kind: PoolKind): Promise<GlusterVolume | undefined> {
    const [info] = await this.gluster.volumeInfo(this.nameOf(kind)).catch((error: unknown) => {
      if (/does not exist/i.test(String(error))) return [];
      throw error;
    });
    return info;
  }

  private async prepare(kind: PoolKind): Promise<GlusterVolume> {
    const name = this.nameOf(kind);
    let info = await this.existing(kind);
    if (!info) {
      await this.create(kind);
      info = await this.existing(kind);
      if (!info) throw new Error(`GlusterFS volume ${name} was created but is not listed`);
    }
    const allow = mergedAllowList(info.options['auth.allow'], await this.allowedAddresses());
    if (allow !== undefined) await this.gluster.volumeSet(name, 'auth.allow', allow);
    if (this.layout.tls) await this.requireTls(info);
    if (!info.started) {
      await this.gluster.volumeStart(name).catch((error: unknown) => {
        if (!/already started/i.test(String(error))) throw error;
      });
    }
    if (info.options['features.quota-deem-statfs'] !== 'on') await this.gluster.quotaEnable(name);
    return info;
  }

  // The brick processes read client.ssl and server.ssl when they start: a
  // running pool without them is the operator's to restart, never ours.
  private async requireTls(info: GlusterVolume): Promise<void> {
    const on = (key: string) => info.options[key] === 'on';
    if (on('client.ssl') && on('server.ssl')) return;
    if (info.started) {
      throw new Error(
        `CUSTOM_GLUSTER_TLS=1 but GlusterFS volume ${info.name} runs without TLS; turn it on once, on any peer: gluster volume stop ${info.name}; gluster volume set ${info.name} client.ssl on; gluster volume set ${info.name} server.ssl on; gluster volume start ${info.name}`,
      );
    }
    await this.gluster.volumeSet(info.name, 'client.ssl', 'on');
    await this.gluster.volumeSet(info.name, 'server.ssl', 'on');
  }

  private async create(kind: PoolKind): Promise<void> {
    const name = this.nameOf(kind);
    const bricks = this.plannedBricks(kind);
    await this.tools.makeDirectory(this.layout.brickRoot);
    try {
      await this.gluster.volumeCreate(name, 3, kind === 'arbiter', bricks, false);
    } catch (error) {
      if (/already exists/i.test(String(error))) return; // another host's plugin made it meanwhile
      if (this.multiHost || !FORCIBLE.test(String(error))) {
        throw new Error(
          `could not create the GlusterFS pool volume ${name}: ${error instanceof Error ? error.message : String(error)}${
            /root partition/i.test(String(error))
              ? '; put CUSTOM_GLUSTER_BRICK_ROOT (or each peer’s brick root) on a filesystem of its own'
              : ''
          }`,
          { cause: error },
        );
      }
      await this.gluster.volumeCreate(name, 3, kind === 'arbiter', bricks, true);
    }
  }

  /** The addresses auth.allow lets in: every peer's (and this host's). */
  allowedAddresses(): Promise<string[]> {
    return peerAddresses(this.layout.peers.map((peer) => peer.host));
  }

  /** Where the pool is mounted on this host now, or undefined; never mounts it. */
  async mountedNow(kind: PoolKind): Promise<string | undefined> {
    const target = this.mountPathOf(kind);
    return (await isMountedAt(this.tools, target)) ? target : undefined;
  }

  /**
   * The pool mounted whole on this host (mounted now if it is not, or if its
   * client died). Only a Create makes a pool that does not exist yet.
   */
  mounted(kind: PoolKind, create = false): Promise<string> {
    // One at a time per pool: two would mount it twice at the same place.
    const next = (this.mounting.get(kind) ?? Promise.resolve('')).catch(() => '').then(() => this.mount(kind, create));
    this.mounting.set(kind, next);
    return next;
  }

  private async mount(kind: PoolKind, create: boolean): Promise<string> {
    const target = this.mountPathOf(kind);
    if (await isMountedAt(this.tools, target)) {
      if (await this.alive(target)) return target;
      // Its client died (ENOTCONN): detach it; bind mounts made from it fail until remounted anyway.
      await this.tools.detachMount(target);
    }
    if (!create && !(await this.existing(kind))) throw new Error(`GlusterFS volume ${this.nameOf(kind)} does not exist`);
    const info = await this.ensure(kind);
    await this.tools.makeDirectory(target, 0o700);
    // The volume file comes from a glusterd of the pool: the brick hosts, this
    // host first when it holds a brick (a glusterd on this host may be of
    // another pool, and answer "no such volume" without trying the others).
    const hosts = [...new Set(info.bricks.map((brick) => brick.host))];
    const [server, ...backups] = hosts.includes(this.layout.host)
      ? [this.layout.host, ...hosts.filter((h) => h !== this.layout.host)]
      : hosts;
    try {
      await this.gluster.mount(server ?? this.layout.host, this.nameOf(kind), backups, target);
    } finally {
      this.tools.forgetMounts();
    }
    return target;
  }

  // A dead client answers at once (ENOTCONN); a slow peer can make the read
  // wait for GlusterFS's ping timeout: after 2 s the mount counts as alive.
  // One probe at a time per pool: while one still waits on a slow peer, the
  // mount counts as alive (each probe holds one of libuv's four threads).
  private readonly probing = new Set<string>();

  private async alive(target: string): Promise<boolean> {
    if (this.probing.has(target)) return true;
    this.probing.add(target);
    const answer = this.tools
      .listDirectory(target)
      .then(
        () => true,
        () => false,
      )
      .finally(() => this.probing.delete(target));
    return withDeadline(answer, ALIVE_WAIT_MS, () => true);
  }

  /** Unmounts the pools at shutdown, lazily: the volumes bound from them stay usable. */
  async detachAll(): Promise<void> {
    for (const kind of POOL_KINDS) {
      const target = this.mountPathOf(kind);
      if (await isMountedAt(this.tools, target)) await this.tools.detachMount(target);
    }
  }
}
