import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { SystemTools } from '../system/index.js';
import { writeFileDurably } from '../state/durable-file.js';
import { FROZEN_MARK, SNAPSHOT_DIR } from '../state/layout.js';
import type { CopyProgress, SnapshotInfo, VolumePaths } from './backing.js';
import type { UndoStack } from './undo.js';
import { quoted } from '../lib/quoted.js';

// Snapshots of an image volume: whole-image copies in <volume dir>/snapshots/,
// a reflink where the host filesystem shares extents, else a sparse copy. An
// encrypted volume's image is ciphertext, so its snapshots stay encrypted. A
// snapshot is <name>.json (what it is) then <name>.img renamed into place
// (the commit): a crash leaves a .partial or a lone .json, swept next time.

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const metaSchema = z.object({
  name: z.string().regex(NAME),
  createdAt: z.string(),
  sizeBytes: z.number().int().positive(),
  method: z.enum(['reflink', 'copy']),
  consistency: z.enum(['frozen', 'unmounted']),
});
type SnapshotMeta = z.infer<typeof metaSchema>;

/** A problem with the name in words, or undefined. */
export function snapshotNameProblem(name: string): string | undefined {
  if (NAME.test(name)) return undefined;
  return `snapshot name ${quoted(name)} is not valid: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`;
}

/** A name for a snapshot taken now: 20261126-031500 (UTC). */
export function defaultSnapshotName(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export function snapshotImage(paths: VolumePaths, name: string): string {
  return join(paths.dir, SNAPSHOT_DIR, `${name}.img`);
}

function metaFile(paths: VolumePaths, name: string): string {
  return join(paths.dir, SNAPSHOT_DIR, `${name}.json`);
}

export class ImageSnapshots {
  constructor(private readonly tools: SystemTools) {}

  /**
   * Runs `work` with the filesystem mounted at `mountRoot` frozen (flushed,
   * writes held) when it is given; a marker beside the image lets the next
   * start thaw it if the process dies in between.
   */
  async frozen<T>(paths: VolumePaths, mountRoot: string | undefined, work: () => Promise<T>): Promise<T> {
    if (mountRoot === undefined) return work();
    const mark = join(paths.dir, FROZEN_MARK);
    await writeFileDurably(mark, mountRoot);
    try {
      await this.tools.freezeFilesystem(mountRoot);
    } catch (error) {
      // Not frozen by us (it may be someone else's freeze: EBUSY): nothing to thaw.
      await this.tools.removeTree(mark);
      throw error;
    }
    try {
      return await work();
    } finally {
      await this.thaw(mountRoot);
      await this.tools.removeTree(mark);
    }
  }

  // A thaw that fails is tried again; if it still fails the marker stays, for the next start and doctor.
  private async thaw(mountRoot: string): Promise<void> {
    try {
      await this.tools.thawFilesystem(mountRoot);
    } catch {
      await this.tools.thawFilesystem(mountRoot);
    }
  }

  /**
   * Thaws a filesystem a dead process left frozen; true when there was a
   * marker. Nothing mounted there any more (a reboot, an unmount): only the
   * marker goes (a thaw there would reach the filesystem underneath).
   */
  async thawLeftover(paths: VolumePaths): Promise<boolean> {
    const mark = join(paths.dir, FROZEN_MARK);
    if (!(await this.tools.pathExists(mark))) return false;
    const mounted = (await this.tools.listMounts()).some((entry) => entry.target === paths.mountRoot);
    if (mounted) await this.thaw(paths.mountRoot);
    await this.tools.removeTree(mark);
    return mounted;
  }

  async take(paths: VolumePaths, name: string, mountRoot: string | undefined): Promise<SnapshotInfo> {
    const dir = join(paths.dir, SNAPSHOT_DIR);
    await this.tools.makeDirectory(dir);
    await this.sweep(paths);
    if (await this.tools.pathExists(snapshotImage(paths, name))) {
      throw new Error(`a snapshot named ${name} exists already; pick another name, or remove it first (custom-volume snapshot rm)`);
    }
    const sizeBytes = (await this.tools.fileStat(paths.image))?.size;
    if (sizeBytes === undefined) throw new Error('its image is missing');
    const partial = `${snapshotImage(paths, name)}.partial`;
    let committed = false;
    try {
      const method = await this.frozen(paths, mountRoot, () => this.tools.copyImage(paths.image, partial, true));
      const meta: SnapshotMeta = {
        name,
        createdAt: new Date().toISOString(),
        sizeBytes,
        method,
        consistency: mountRoot === undefined ? 'unmounted' : 'frozen',
      };
      await writeFileDurably(metaFile(paths, name), JSON.stringify(meta));
      await this.tools.commitFile(partial, snapshotImage(paths, name), () => (committed = true));
      return { ...meta, allocatedBytes: await this.allocated(snapshotImage(paths, name)) };
    } catch (error) {
      await this.tools.removeTree(partial);
      // Renamed into place (only its directory's fsync failed): the snapshot stays whole, and listed.
      if (!committed) await this.tools.removeTree(metaFile(paths, name));
      throw error;
    }
  }

  async list(paths: VolumePaths): Promise<SnapshotInfo[]> {
    const entries = await this.tools.listDirectory(join(paths.dir, SNAPSHOT_DIR));
    const snapshots: SnapshotInfo[] = [];
    for (const entry of entries) {
      if (!entry.endsWith('.img')) continue;
      const meta = await this.meta(paths, entry.slice(0, -'.img'.length));
      if (meta) snapshots.push({ ...meta, allocatedBytes: await this.allocated(snapshotImage(paths, meta.name)) });
    }
    return snapshots.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  /** The snapshot's record; throws a clear error when there is no such snapshot. */
  async find(paths: VolumePaths, name: string): Promise<SnapshotInfo> {
    const meta = snapshotNameProblem(name) === undefined ? await this.meta(paths, name) : undefined;
    if (!meta || !(await this.tools.pathExists(snapshotImage(paths, name)))) {
      throw new Error(`has no snapshot named ${quoted(name)} (custom-volume snapshots lists them)`);
    }
    return { ...meta, allocatedBytes: await this.allocated(snapshotImage(paths, name)) };
  }

  /**
   * Puts the snapshot's image in place of the volume's (which must not be in
   * use): copied aside, made durable, renamed over (the commit). The snapshot
   * stays. Resolves with the size the volume now has.
   */
  async restore(paths: VolumePaths, name: string, sparse: boolean): Promise<number> {
    const snapshot = await this.find(paths, name);
    const staged = `${paths.image}.restoring`;
    await this.tools.removeTree(staged);
    try {
      await this.tools.copyImage(snapshotImage(paths, name), staged, sparse);
      await this.tools.commitFile(staged, paths.image);
    } catch (error) {
      await this.tools.removeTree(staged);
      throw error;
    }
    return snapshot.sizeBytes;
  }

  /** `erase`: destroys the snapshot's LUKS keyslots first (an encrypted volume's snapshot holds its own header). */
  async remove(paths: VolumePaths, name: string, erase: boolean): Promise<void> {
    await this.find(paths, name);
    const image = snapshotImage(paths, name);
    if (erase) await this.tools.luksErase(image);
    await this.tools.removeTree(image);
    await this.tools.removeTree(metaFile(paths, name));
  }

  /** Every snapshot image of the volume (their headers are rekeyed with the volume's). */
  async images(paths: VolumePaths): Promise<string[]> {
    const entries = await this.tools.listDirectory(join(paths.dir, SNAPSHOT_DIR));
    return entries.filter((entry) => entry.endsWith('.img')).map((entry) => join(paths.dir, SNAPSHOT_DIR, entry));
  }

  /** Every copy of the image, whole or partial: each carries a LUKS header, crypto-erased before the directory goes. */
  async copies(paths: VolumePaths): Promise<string[]> {
    const entries = await this.tools.listDirectory(join(paths.dir, SNAPSHOT_DIR));
    const snapshots = entries.filter((entry) => /\.img(\.partial)?$/.test(entry)).map((entry) => join(paths.dir, SNAPSHOT_DIR, entry));
    const restoring = `${paths.image}.restoring`;
    return (await this.tools.pathExists(restoring)) ? [...snapshots, restoring] : snapshots;
  }

  /** Copies the volume's image (or a snapshot's) to a new volume's directory; undone by deleting it. */
  async copyOut(
    from: string,
    target: VolumePaths,
    sparse: boolean,
    mountRoot: string | undefined,
    source: VolumePaths,
    undo: UndoStack,
    progress?: CopyProgress,
  ) {
    await this.tools.makeNewDirectory(target.dir);
    undo.push('remove volume directory', () => this.tools.removeTree(target.dir));
    const partial = `${target.image}.partial`;
    const stop = progress ? await this.watch(from, partial, progress) : () => undefined;
    try {
      const method = await this.frozen(source, mountRoot, () => this.tools.copyImage(from, partial, sparse));
      await this.tools.commitFile(partial, target.image);
      return method;
    } finally {
      stop();
    }
  }

  // The copy's allocated bytes against the source's, twice a second (a reflink ends before the first look).
  private async watch(from: string, partial: string, progress: CopyProgress): Promise<() => void> {
    const total = await this.allocated(from);
    let stopped = false;
    const timer = setInterval(() => {
      void this.allocated(partial).then((copied) => {
        if (!stopped) progress(Math.min(copied, total), total);
      });
    }, 500);
    return () => {
      stopped = true;
      clearInterval(timer);
      progress(total, total);
    };
  }

  // Under the volume's lock: nothing else is writing here.
  private async sweep(paths: VolumePaths): Promise<void> {
    const dir = join(paths.dir, SNAPSHOT_DIR);
    const entries = await this.tools.listDirectory(dir);
    for (const entry of entries) {
      const stem = entry.replace(/\.(img\.partial|json)$/, '');
      if (entry.endsWith('.partial')) await this.tools.removeTree(join(dir, entry));
      else if (entry.endsWith('.json') && !entries.includes(`${stem}.img`)) await this.tools.removeTree(join(dir, entry));
    }
  }

  private async meta(paths: VolumePaths, name: string): Promise<SnapshotMeta | undefined> {
    try {
      const parsed = metaSchema.safeParse(JSON.parse(await readFile(metaFile(paths, name), 'utf8')));
      return parsed.success && parsed.data.name === name ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private async allocated(image: string): Promise<number> {
    return (await this.tools.fileAllocation(image).catch(() => undefined))?.allocatedBytes ?? 0;
  }
}
