import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeVolumeMeta } from '../../state/volume-meta.js';
import type { VolumeRecord } from '../../state/schema.js';
import type { GlusterTools, SystemTools } from '../../system/index.js';
import type { MountIdentity, VolumeContext } from '../backing.js';
import { ensureDataDirectory, isMountedAt, mountIdentity } from '../filesystem.js';
import { withUndo } from '../undo.js';
import { HostMarkers } from './markers.js';
import { poolKind, replicatedSpec } from './names.js';
import { CREATING_DIR, HOSTS_DIR, RETAINED_DIR, TRASH_DIR, VOLUME_ROOT_DIR, VOLUMES_DIR } from '../../state/layout.js';
import type { GlusterPools } from './pool.js';
import { readPoolMeta, realDirectory, removeEntry } from './pool-paths.js';

const suffix = () => randomBytes(4).toString('hex');

/**
 * A replicated Docker volume as a directory of a pool volume:
 * volumes/<id>/{volume.json, _data/, hosts/<glusterd uuid>}. Create builds it
 * in .creating/<host uuid>/ (quota limit included) and commits by rename;
 * Remove commits by renaming it into .trash/<host uuid>/. A host mounts it by binding the
 * directory from its one mount of the pool: no brick, process or client per volume.
 */
export class PoolVolumes {
  readonly markers: HostMarkers;
  /** Staging names (<host uuid>/<id>.<random>) of creates in flight on this host. */
  private readonly creating = new Set<string>();

  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly pools: GlusterPools,
    /** This host's glusterd UUID (names its marker and its staging directory). */
    private readonly hostId: () => Promise<string>,
    hostName: string,
    /** Single host: is this volume id in local state? (A directory of an id it lacks is an interrupted create's.) */
    private readonly knownIds: () => ReadonlySet<string>,
  ) {
    this.markers = new HostMarkers(tools, hostId, hostName);
  }

  /** The volume's directory inside the pool, as quota and mountinfo name it. */
  static relativeDir(record: VolumeRecord): string {
    return `/${VOLUMES_DIR}/${record.id}`;
  }

  isCreating(staged: string): boolean {
    return this.creating.has(staged);
  }

  async create({ record }: VolumeContext): Promise<void> {
    const kind = poolKind(replicatedSpec(record));
    const pool = await this.pools.mounted(kind, true);
    // Under this host's own directory of .creating/: only this host's sweep
    // judges it, and never while the create is in flight.
    const staged = `${await this.hostId()}/${record.id}.${suffix()}`;
    this.creating.add(staged);
    try {
      await this.stageAndCommit(record, pool, staged);
    } finally {
      this.creating.delete(staged);
    }
  }

  private async stageAndCommit(record: VolumeRecord, pool: string, staged: string): Promise<void> {
    const spec = replicatedSpec(record);
    const name = this.pools.nameOf(poolKind(spec));
    const staging = join(await this.realPlace(pool, [CREATING_DIR, await this.hostId()]), staged.slice(staged.indexOf('/') + 1));
    await withUndo(async (undo) => {
      await this.tools.makeNewDirectory(staging, 0o755);
      undo.push('remove the staging directory', () => this.tools.removeTree(staging));
      const data = join(staging, VOLUME_ROOT_DIR);
      await (spec.owner ? this.tools.makeOwnedDirectory(data, spec.owner) : this.tools.makeNewDirectory(data, 0o755));
      await this.tools.makeNewDirectory(join(staging, HOSTS_DIR), 0o700);
      await writeVolumeMeta(staging, { ...record, leases: {} });
      if (spec.quotaBytes !== undefined) {
        await this.gluster.quotaSet(name, `/${CREATING_DIR}/${staged}`, spec.quotaBytes);
        undo.push('drop the quota limit', () => this.gluster.quotaRemove(name, `/${CREATING_DIR}/${staged}`));
      }
      await this.realPlace(pool, [VOLUMES_DIR]);
      await this.commit(record, pool, staging, name);
    });
  }

  // The commit: rename(2) never replaces a non-empty directory, so a volume of
  // this name made meanwhile on another host is left alone. On a single host a
  // directory of an id that local state lacks may be an interrupted create's
  // (the plugin died between this rename and its state write): only when it
  // holds no data is it discarded; one with data is never deleted here (a lost
  // or moved state directory leaves real volumes without a local record).
  private async commit(record: VolumeRecord, pool: string, staging: string, name: string): Promise<void> {
    const target = join(pool, VOLUMES_DIR, record.id);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.tools.moveDirectory(staging, target);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        if (this.pools.multiHost || this.knownIds().has(record.id)) {
          throw new Error(
            `its directory ${PoolVolumes.relativeDir(record)} already exists in GlusterFS volume ${name} (created on another host)`,
          );
        }
        const data = await realDirectory(this.tools, pool, VOLUMES_DIR, record.id, VOLUME_ROOT_DIR);
        if (attempt > 0 || data === undefined || (await this.tools.listDirectory(data)).length > 0) {
          throw new Error(
            `its directory ${PoolVolumes.relativeDir(record)} already exists in GlusterFS volume ${name} with data but without a record in this plugin's state (a state directory lost or moved?); point the plugin at its old state directory, or move that directory out of the pool's volumes/ to create the name anew`,
          );
        }
        await this.trash(pool, name, record.id);
      }
    }
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    const kind = poolKind(replicatedSpec(record));
    const pool = await this.pools.mounted(kind);
    if (await isMountedAt(this.tools, paths.mountRoot)) {
      await this.markers.mark(pool, record.id);
      await ensureDataDirectory(this.tools, paths, record.spec.owner); // a peer may have swapped _data since the last mount
      return;
    }
    const source = await realDirectory(this.tools, pool, VOLUMES_DIR, record.id);
    if (source === undefined) {
      throw new Error(`its directory ${PoolVolumes.relativeDir(record)} is missing from GlusterFS volume ${this.pools.nameOf(kind)}`);
    }
    await withUndo(async (undo) => {
      // Marked before the bind: a Remove on another host that checks after this sees it.
      await this.markers.mark(pool, record.id);
      undo.push('remove our marker', () => this.markers.unmark(pool, record.id));
      await this.tools.makeDirectory(paths.mountRoot, 0o755);
      undo.push('remove mount directory', () => this.tools.removeEmptyDirectory(paths.mountRoot));
      await this.tools.bindMount(source, paths.mountRoot);
      undo.push(`unmount ${paths.mountRoot}`, () => this.tools.unmount(paths.mountRoot));
      // Checked after the fact: whatever a path component was swapped for
      // meanwhile, the mount is this volume's directory of the pool, or it goes.
      const mounts = await this.tools.listMounts();
      const own = mounts.filter((entry) => entry.target === paths.mountRoot);
      const pooled = mounts.find((entry) => entry.target === pool);
      if (own.length !== 1 || own[0]?.root !== PoolVolumes.relativeDir(record) || own[0]?.majMin !== pooled?.majMin) {
        throw new Error(`its mount is not ${PoolVolumes.relativeDir(record)} of the pool (a path in the pool was replaced); refused`);
      }
      await ensureDataDirectory(this.tools, paths, record.spec.owner);
    });
  }

  /** A new quota on the volume's directory, and its volume.json (what every host lists) says so. */
  async grow({ record }: VolumeContext, sizeBytes: number): Promise<number> {
    const spec = replicatedSpec(record);
    const kind = poolKind(spec);
    const pool = await this.pools.mounted(kind);
    const dir = await realDirectory(this.tools, pool, VOLUMES_DIR, record.id);
    if (dir === undefined)
      throw new Error(`its directory ${PoolVolumes.relativeDir(record)} is missing from GlusterFS volume ${this.pools.nameOf(kind)}`);
    const path = `/${VOLUMES_DIR}/${record.id}`;
    await withUndo(async (undo) => {
      await this.gluster.quotaSet(this.pools.nameOf(kind), path, sizeBytes);
      if (spec.quotaBytes !== undefined)
        undo.push('put the quota back', () => this.gluster.quotaSet(this.pools.nameOf(kind), path, spec.quotaBytes!));
      await writeVolumeMeta(dir, { ...record, spec: { ...spec, quotaBytes: sizeBytes }, leases: {} });
    });
    return sizeBytes;
  }

  async deactivate({ record, paths }: VolumeContext): Promise<void> {
    if (await isMountedAt(this.tools, paths.mountRoot)) await this.tools.unmount(paths.mountRoot);
    await this.tools.removeEmptyDirectory(paths.mountRoot);
    // Best effort: a marker left behind (pool unreachable now) only makes
    // other hosts' Removes wait; the sweep drops it once the pool answers.
    try {
      await this.markers.unmark(await this.pools.mounted(poolKind(replicatedSpec(record))), record.id);
    } catch {
      // see above
    }
  }

  /** Hosts other than this one that have the volume mounted, by name. */
  async usersElsewhere({ record }: VolumeContext): Promise<string[]> {
    const pool = await this.pools.mounted(poolKind(replicatedSpec(record)));
    return this.markers.others(pool, VOLUMES_DIR, record.id);
  }

  /**
   * Deletes the volume's directory: only when its volume.json says it is this
   * volume (a volume of the same name made since on another host is not), and
   * only when no other host has it mounted, checked again after the rename
   * that takes it away (a Mount racing this Remove on another host wins).
   */
  async destroy({ record }: VolumeContext): Promise<void> {
    const spec = replicatedSpec(record);
    const kind = poolKind(spec);
    const pool = await this.pools.mounted(kind);
    const name = this.pools.nameOf(kind);
    const dir = await realDirectory(this.tools, pool, VOLUMES_DIR, record.id);
    if (dir === undefined) return; // removed already (by another host, or before a crash)
    const meta = await readPoolMeta(this.tools, dir);
    if ('problem' in meta)
      throw new Error(`${PoolVolumes.relativeDir(record)} in ${name} has no readable volume.json (${meta.problem}); left as it is`);
    if (meta.record.id !== record.id || meta.record.createdAt !== record.createdAt) return;
    // Into this host's own .trash/<uuid>/: only this host's sweep empties it,
    // never while this Remove may still move it back.
    const self = await this.hostId();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const away = spec.retain ? [RETAINED_DIR, `${record.id}.${stamp}`] : [TRASH_DIR, self, `${record.id}.${suffix()}`];
    const place = await this.realPlace(pool, away.slice(0, -1));
    const moved = join(place, away.at(-1)!);
    this.removing.add(moved);
    try {
      await this.tools.moveDirectory(dir, moved);
      let elsewhere: string[];
      try {
        elsewhere = await this.markers.others(pool, ...away);
      } catch (error) {
        await this.putBack(pool, record.id, moved, dir);
        throw error;
      }
      if (elsewhere.length > 0) {
        await this.putBack(pool, record.id, moved, dir);
        throw new Error(`is mounted on other hosts (${elsewhere.join(', ')}); stop the containers using it there first`);
      }
      // Deleted only after a check that answered, and found no other host.
      if (!spec.retain) await this.emptyTrash(name, pool, away.at(-1)!);
    } finally {
      this.removing.delete(moved);
    }
  }

  /** Undoes a Remove's rename; if the name was taken meanwhile, keeps the data where no sweep deletes it. */
  private async putBack(pool: string, id: string, moved: string, dir: string): Promise<void> {
    try {
      await this.tools.moveDirectory(moved, dir);
    } catch {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const place = await this.realPlace(pool, [RETAINED_DIR]);
      await this.tools.moveDirectory(moved, join(place, `${id}.conflict-${stamp}`));
    }
  }

  /** pool/<parts…>, made if missing, and every part a real directory. */
  private async realPlace(pool: string, parts: string[]): Promise<string> {
    // One level at a time, each checked before the next is made (mkdir -p would follow a planted link).
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = join(pool, ...parts.slice(0, depth));
      if ((await this.tools.pathKind(path)) === 'missing') {
        await this.tools.makeNewDirectory(path, 0o755).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        });
      }
      if ((await realDirectory(this.tools, pool, ...parts.slice(0, depth))) === undefined) {
        throw new Error(`/${parts.slice(0, depth).join('/')} in the pool is not a real directory`);
      }
    }
    return join(pool, ...parts);
  }

  /** Paths in .trash/<uuid>/ that a Remove of this host is working on. */
  private readonly removing = new Set<string>();

  isRemoving(path: string): boolean {
    return this.removing.has(path);
  }

  /** Moves volumes/<id> into the trash and deletes it (an interrupted create's leftover). */
  private async trash(pool: string, name: string, id: string): Promise<void> {
    const entry = `${id}.${suffix()}`;
    const place = await this.realPlace(pool, [TRASH_DIR, await this.hostId()]);
    this.removing.add(join(place, entry));
    try {
      await this.tools.moveDirectory(join(pool, VOLUMES_DIR, id), join(place, entry));
      await this.emptyTrash(name, pool, entry);
    } finally {
      this.removing.delete(join(place, entry));
    }
  }

  /** Deletes one directory of this host's .trash/<uuid>/ with its quota limit (GlusterFS keeps limits of deleted directories otherwise). */
  async emptyTrash(name: string, pool: string, entry: string): Promise<void> {
    const self = await this.hostId();
    if ((await realDirectory(this.tools, pool, TRASH_DIR, self, entry)) !== undefined)
      await this.gluster.quotaRemove(name, `/${TRASH_DIR}/${self}/${entry}`);
    await removeEntry(this.tools, pool, TRASH_DIR, self, entry);
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
    const pool = await mountIdentity(this.tools, this.pools.mountPathOf(poolKind(replicatedSpec(record))), []);
    return { majMins: [...new Set([...own.majMins, ...pool.majMins])], sources: [], subtree: PoolVolumes.relativeDir(record) };
  }
}
