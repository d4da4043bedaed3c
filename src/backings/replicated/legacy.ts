import { basename, dirname, join } from 'node:path';
import type { VolumeRecord } from '../../state/schema.js';
import type { GlusterBrick, GlusterTools, SystemTools } from '../../system/index.js';
import type { MountIdentity, VolumeContext } from '../backing.js';
import { ensureDataDirectory, isMountedAt, mountIdentity, unmountFilesystem } from '../filesystem.js';
import { withUndo } from '../undo.js';
import { glusterName, isLegacyBrickName, META, replicatedSpec } from './names.js';
import type { PoolLayout } from './pool.js';

/**
 * Replicated volumes made before the pool layout: a GlusterFS volume each
 * (cv_<id>, three brick processes), FUSE-mounted whole. They keep that layout
 * (moving data between GlusterFS volumes is the operator's call); new volumes
 * go to the pool.
 */
export class LegacyVolumes {
  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly layout: PoolLayout,
  ) {}

  /** Where the bricks would be had this host created it (when GlusterFS cannot say). */
  private plannedBricks(record: VolumeRecord): GlusterBrick[] {
    if (this.layout.peers.length > 1) {
      return this.layout.peers.slice(0, 3).map((peer) => ({ host: peer.host, path: join(peer.brickRoot, record.id) }));
    }
    return [1, 2, 3].map((i) => ({ host: this.layout.host, path: join(this.layout.brickRoot, `${record.id}-b${i}`) }));
  }

  async bricks(record: VolumeRecord): Promise<GlusterBrick[]> {
    const [info] = await this.gluster.volumeInfo(glusterName(record.id)).catch(() => []);
    return info?.bricks ?? this.plannedBricks(record);
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    if (!(await isMountedAt(this.tools, paths.mountRoot))) {
      await withUndo(async (undo) => {
        await this.tools.makeDirectory(paths.mountRoot, 0o755);
        undo.push('remove mount directory', () => this.tools.removeEmptyDirectory(paths.mountRoot));
        const hosts = new Set((await this.bricks(record)).map((b) => b.host));
        // This host's glusterd first when it holds a brick; the others as backups.
        const [server, ...backups] = hosts.has(this.layout.host)
          ? [this.layout.host, ...[...hosts].filter((h) => h !== this.layout.host)]
          : [...hosts];
        try {
          await this.gluster.mount(server ?? this.layout.host, glusterName(record.id), backups, paths.mountRoot);
        } finally {
          this.tools.forgetMounts();
        }
      });
    }
    await ensureDataDirectory(this.tools, paths, record.spec.owner);
  }

  async deactivate({ paths }: VolumeContext): Promise<void> {
    await unmountFilesystem(this.tools, paths);
  }

  /** FUSE clients of the volume on other hosts (GlusterFS counts every host's; ours is one when mounted here). */
  async usersElsewhere(volume: VolumeContext): Promise<string[]> {
    // Only "not started" or "gone" mean no clients; any other failure is not a "nobody".
    const clients = await this.gluster.fuseClients(glusterName(volume.record.id)).catch((error: unknown) => {
      if (/not started|does not exist/i.test(String(error))) return 0;
      throw error;
    });
    const others = clients - ((await this.isActive(volume)) ? 1 : 0);
    return others > 0 ? [`${others} client${others > 1 ? 's' : ''} of GlusterFS volume ${glusterName(volume.record.id)}`] : [];
  }

  async destroy(volume: VolumeContext): Promise<void> {
    const { record } = volume;
    await this.deactivate(volume);
    const name = glusterName(record.id);
    const [info] = await this.gluster.volumeInfo(name).catch(() => []);
    if (!info) return;
    // A volume of the same name made since (on another host) is not this one.
    const created = info.options[`${META}created`];
    if (created !== undefined && created !== record.createdAt) return;
    await this.gluster.volumeStop(name).catch(() => undefined); // already stopped is fine
    if (replicatedSpec(record).retain) {
      // Kept stopped with its bricks, and marked so no host lists it again.
      await this.gluster.volumeSet(name, `${META}retained`, new Date().toISOString());
      return;
    }
    await this.gluster.volumeDelete(name);
    // GlusterFS leaves brick directories behind; this host removes its own,
    // the others' sweeps theirs.
    const self = await this.gluster.localUuid().catch(() => undefined);
    for (const brick of info.bricks) {
      const inRoot = dirname(brick.path) === this.layout.brickRoot && isLegacyBrickName(basename(brick.path));
      if (self !== undefined && brick.hostUuid === self && inRoot) await this.tools.removeTree(brick.path);
    }
  }

  async isActive({ paths }: VolumeContext): Promise<boolean> {
    return isMountedAt(this.tools, paths.mountRoot);
  }

  /** A FUSE mount: its bind mounts share our mount's anonymous device number. */
  async identity({ paths }: VolumeContext): Promise<MountIdentity> {
    return mountIdentity(this.tools, paths.mountRoot, []);
  }
}
