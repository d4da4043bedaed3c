import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../../state/durable-file.js';
import { readVolumeMeta, writeVolumeMeta } from '../../state/volume-meta.js';
import type { ReplicatedSpec, VolumeRecord } from '../../state/schema.js';
import type { GlusterTools, SystemTools } from '../../system/index.js';
import type { MountIdentity, VolumeContext } from '../backing.js';
import { ensureDataDirectory, isMountedAt, mountIdentity } from '../filesystem.js';
import { withUndo } from '../undo.js';
import { CREATING_DIR, HOSTS_DIR, poolKind, RETAINED_DIR, TRASH_DIR, VOLUMES_DIR } from './names.js';
import type { GlusterPools } from './pool.js';

function replicated(record: VolumeRecord): ReplicatedSpec {
  if (record.spec.type !== 'replicated') throw new Error(`volume ${record.name} is not replicated`);
  return record.spec;
}

const suffix = () => randomBytes(4).toString('hex');

/**
 * A replicated Docker volume as a directory of a pool volume:
 * volumes/<id>/{volume.json, _data/, hosts/<glusterd uuid>}. Create builds it
 * in .creating/ (quota limit included) and commits by rename; Remove commits
 * by renaming it into .trash/. A host mounts it by binding the directory from
 * its one mount of the pool: no brick, process or client per volume.
 */
export class PoolVolumes {
  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly pools: GlusterPools,
    /** This host's glusterd UUID (names its marker in hosts/). */
    private readonly hostId: () => Promise<string>,
    private readonly hostName: string,
  ) {}

  /** The volume's directory inside the pool, as quota and mountinfo name it. */
  static relativeDir(record: VolumeRecord): string {
    return `/${VOLUMES_DIR}/${record.id}`;
  }

  async create({ record }: VolumeContext): Promise<void> {
    const kind = poolKind(replicated(record));
    const pool = await this.pools.mounted(kind, true);
    const name = this.pools.nameOf(kind);
    // Under this host's own directory of .creating/: only this host's sweep
    // judges it, and never while the create is in flight.
    const staged = `${await this.hostId()}/${record.id}.${suffix()}`;
    const staging = join(pool, CREATING_DIR, staged);
    const target = join(pool, VOLUMES_DIR, record.id);
    this.creating.add(staged);
    try {
      await this.stageAndCommit(record, name, pool, staged, staging, target);
    } finally {
      this.creating.delete(staged);
    }
  }

  /** Staging names (<host uuid>/<id>.<random>) of creates in flight on this host. */
  private readonly creating = new Set<string>();

  isCreating(staged: string): boolean {
    return this.creating.has(staged);
  }

  private async stageAndCommit(
    record: VolumeRecord,
    name: string,
    pool: string,
    staged: string,
    staging: string,
    target: string,
  ): Promise<void> {
    const spec = replicated(record);
    await withUndo(async (undo) => {
      await this.tools.makeNewDirectory(staging, 0o755);
      undo.push('remove the staging directory', () => this.tools.removeTree(staging));
      await this.tools.makeNewDirectory(join(staging, '_data'), 0o755);
      await this.tools.makeNewDirectory(join(staging, HOSTS_DIR), 0o700);
      await writeVolumeMeta(staging, { ...record, leases: {} });
      if (spec.quotaBytes !== undefined) {
        await this.gluster.quotaSet(name, `/${CREATING_DIR}/${staged}`, spec.quotaBytes);
        undo.push('drop the quota limit', () => this.gluster.quotaRemove(name, `/${CREATING_DIR}/${staged}`));
      }
      await this.tools.makeDirectory(join(pool, VOLUMES_DIR), 0o755);
      // The commit: rename(2) never replaces a non-empty directory, so a volume
      // of this name made meanwhile on another host is left alone.
      await this.tools.moveDirectory(staging, target).catch((error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new Error(
            `its directory ${PoolVolumes.relativeDir(record)} already exists in GlusterFS volume ${name} (created on another host)`,
          );
        }
        throw error;
      });
    });
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    const kind = poolKind(replicated(record));
    const pool = await this.pools.mounted(kind);
    const source = join(pool, VOLUMES_DIR, record.id);
    if (!(await isMountedAt(this.tools, paths.mountRoot))) {
      if ((await this.tools.pathKind(source)) !== 'directory') {
        throw new Error(`its directory ${PoolVolumes.relativeDir(record)} is missing from GlusterFS volume ${this.pools.nameOf(kind)}`);
      }
      await withUndo(async (undo) => {
        await this.tools.makeDirectory(paths.mountRoot, 0o755);
        undo.push('remove mount directory', () => this.tools.removeEmptyDirectory(paths.mountRoot));
        await this.tools.bindMount(source, paths.mountRoot);
        undo.push(`unmount ${paths.mountRoot}`, () => this.tools.unmount(paths.mountRoot));
        // Checked after the fact: whatever a path component was swapped for
        // meanwhile, the mount is this volume's directory of the pool, or it goes.
        const own = (await this.tools.listMounts()).filter((entry) => entry.target === paths.mountRoot);
        const pooled = (await this.tools.listMounts()).find((entry) => entry.target === pool);
        if (own.length !== 1 || own[0]?.root !== PoolVolumes.relativeDir(record) || own[0]?.majMin !== pooled?.majMin) {
          throw new Error(`its mount is not ${PoolVolumes.relativeDir(record)} of the pool (a path in the pool was replaced); refused`);
        }
        await ensureDataDirectory(this.tools, paths);
      });
    }
    await this.mark(pool, record);
  }

  /** Tells the other hosts this one has the volume mounted (Remove asks them). */
  private async mark(pool: string, record: VolumeRecord): Promise<void> {
    const marker = join(pool, VOLUMES_DIR, record.id, HOSTS_DIR, await this.hostId());
    await writeFileDurably(marker, `${JSON.stringify({ host: this.hostName, since: new Date().toISOString() })}\n`, 0o600);
  }

  async deactivate({ record, paths }: VolumeContext): Promise<void> {
    if (await isMountedAt(this.tools, paths.mountRoot)) await this.tools.unmount(paths.mountRoot);
    await this.tools.removeEmptyDirectory(paths.mountRoot);
    // Best effort: a marker left behind (pool unreachable now) only makes
    // other hosts' Removes wait; the sweep drops it once the pool answers.
    try {
      const pool = await this.pools.mounted(poolKind(replicated(record)));
      await this.tools.removeTree(join(pool, VOLUMES_DIR, record.id, HOSTS_DIR, await this.hostId()));
    } catch {
      // see above
    }
  }

  /** Hosts other than this one that have the volume mounted, by name. */
  async usersElsewhere({ record }: VolumeContext): Promise<string[]> {
    const pool = await this.pools.mounted(poolKind(replicated(record)));
    const dir = join(pool, VOLUMES_DIR, record.id, HOSTS_DIR);
    const self = await this.hostId();
    const hosts: string[] = [];
    for (const entry of await this.tools.listDirectory(dir)) {
      if (entry === self) continue;
      const text = await readFile(join(dir, entry), 'utf8').catch(() => '');
      const host = (/"host":\s*"([^"]{1,253})"/.exec(text)?.[1] ?? entry).replace(/[^\w.:-]/g, '?');
      hosts.push(host);
    }
    return hosts.sort();
  }

  async destroy({ record }: VolumeContext): Promise<void> {
    const spec = replicated(record);
    const kind = poolKind(spec);
    const pool = await this.pools.mounted(kind);
    const name = this.pools.nameOf(kind);
    const dir = join(pool, VOLUMES_DIR, record.id);
    if ((await this.tools.pathKind(dir)) !== 'directory') return; // removed already (by another host, or before a crash)
    // A volume of the same name made since (on another host) is not this one.
    const meta = await readVolumeMeta(dir);
    if ('record' in meta && meta.record.createdAt !== record.createdAt) return;
    if (spec.retain) {
      await this.tools.moveDirectory(dir, join(pool, RETAINED_DIR, `${record.id}.${new Date().toISOString().replace(/[:.]/g, '-')}`));
      return;
    }
    const trashed = `${record.id}.${suffix()}`;
    await this.tools.moveDirectory(dir, join(pool, TRASH_DIR, trashed));
    await this.emptyTrash(name, pool, trashed);
  }

  /** Deletes one directory of .trash/ with its quota limit (GlusterFS keeps limits of deleted directories otherwise). */
  async emptyTrash(name: string, pool: string, entry: string): Promise<void> {
    await this.gluster.quotaRemove(name, `/${TRASH_DIR}/${entry}`);
    await this.tools.removeTree(join(pool, TRASH_DIR, entry));
  }

  async isActive({ paths }: VolumeContext): Promise<boolean> {
    return isMountedAt(this.tools, paths.mountRoot);
  }

  /**
   * Every volume of a pool shares its device number: a container's mount is
   * this volume's when its root lies inside the volume's directory. Our own
   * bind (root = the directory itself) is not a user.
   */
  async identity({ record, paths }: VolumeContext): Promise<MountIdentity> {
    const own = await mountIdentity(this.tools, paths.mountRoot, []);
    // The pool's own mount too: a container's bind outlives our bind of the directory.
    const pool = await mountIdentity(this.tools, this.pools.mountPathOf(poolKind(replicated(record))), []);
    return { majMins: [...new Set([...own.majMins, ...pool.majMins])], sources: [], subtree: PoolVolumes.relativeDir(record) };
  }
}
