import type { Backing, CopyProgress, MountIdentity, SnapshotInfo, StatusValue, VolumeContext } from './backing.js';
import type { EncryptedSpec, ImageSpec, VolumeRecord, VolumeSpec } from '../state/schema.js';
import type { SystemTools } from '../system/index.js';
import { detachAll, ensureLoop, loopsOf, provisionImage, retainStorage } from './loop-image.js';
import { ensureDataDirectory, isMountedAt, mountFilesystem, mountIdentity, unmountFilesystem, usageStatus } from './filesystem.js';
import { CompressionMeter, compressionMountOption, describeCompression } from './compression.js';
import type { LuksLayer } from './luks-layer.js';
import { withUndo } from './undo.js';
import { ImageSnapshots, snapshotImage } from './image-snapshots.js';
import type { CopyMethod } from '../system/index.js';

function encryption(spec: VolumeSpec): EncryptedSpec | undefined {
  return spec.type === 'encrypted' ? spec : undefined;
}

function imageSpec(record: VolumeRecord): ImageSpec {
  if (record.spec.type === 'replicated') throw new Error(`volume ${record.name} has no image`);
  return record.spec;
}

// xfs: nouuid, so a clone (the same UUID as its source) mounts beside it, as LVM snapshots of xfs do.
function mountOptions(spec: ImageSpec): string[] {
  if (spec.fs === 'xfs') return ['nouuid'];
  return spec.compression ? [compressionMountOption(spec.compression)] : [];
}

/**
 * Every image-file volume, composed of layers instead of one class per type:
 *   block:      sparse image → loop device (direct I/O) [→ LUKS2 mapping]
 *   filesystem: ext4 | xfs | btrfs [with compress=…]
 * plain = loop + fs; encrypted = loop + LUKS + fs; compressed = loop + btrfs
 * compression; encrypted with compression = loop + LUKS + btrfs compression.
 */
export class ImageStackBacking implements Backing {
  private readonly meter: CompressionMeter;
  private readonly snapshots: ImageSnapshots;

  constructor(
    private readonly tools: SystemTools,
    private readonly luks: LuksLayer,
  ) {
    this.meter = new CompressionMeter(tools);
    this.snapshots = new ImageSnapshots(tools);
  }

  async preflight(spec: VolumeSpec): Promise<string | undefined> {
    if (spec.type === 'replicated') return 'not an image volume';
    const fs = await this.tools.probeFilesystem(spec.fs);
    if (!fs.available) return `fs=${spec.fs} is not available on this host: ${fs.reason}`;
    const luks = encryption(spec);
    return luks ? this.luks.preflight(luks) : undefined;
  }

  async create({ record, paths }: VolumeContext): Promise<void> {
    const spec = imageSpec(record);
    const luks = encryption(spec);
    await withUndo(async (undo) => {
      await provisionImage(this.tools, paths.dir, paths.image, spec.sizeBytes, undo, spec.sparse !== false);
      if (!luks) {
        await this.tools.makeFilesystem(spec.fs, paths.image);
        return;
      }
      const key = await this.luks.newKey(record, luks, undo);
      try {
        const device = await ensureLoop(this.tools, paths.image, undo);
        await this.luks.format(device, key, luks);
        const mapper = await this.luks.open(record, device, key, undo);
        await this.tools.makeFilesystem(spec.fs, mapper);
        await this.luks.close(record, paths.image);
        await this.tools.detachLoop(device);
      } finally {
        key.fill(0);
      }
    });
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    // A filesystem a killed plugin left frozen would block the mount's own writes.
    await this.snapshots.thawLeftover(paths);
    if (await isMountedAt(this.tools, paths.mountRoot)) {
      await ensureDataDirectory(this.tools, paths, record.spec.owner);
      return;
    }
    const spec = imageSpec(record);
    const luks = encryption(spec);
    // An interrupted rekey is finished first: the old key must not keep opening the volume.
    if (luks && !luks.keyfile) await this.luks.finishRekey(record, [paths.image, ...(await this.snapshots.images(paths))]);
    await withUndo(async (undo) => {
      const device = await ensureLoop(this.tools, paths.image, undo);
      const top = luks ? await this.luks.ensureOpen(record, luks, device, undo) : device;
      await mountFilesystem(this.tools, top, spec.fs, mountOptions(spec), paths, undo, spec.owner);
    });
  }

  async deactivate({ record, paths }: VolumeContext): Promise<void> {
    await this.snapshots.thawLeftover(paths);
    await unmountFilesystem(this.tools, paths);
    if (encryption(record.spec)) await this.luks.close(record, paths.image);
    await detachAll(this.tools, paths.image);
  }

  async destroy(volume: VolumeContext): Promise<void> {
    const { record, paths } = volume;
    const luks = encryption(record.spec);
    await this.deactivate(volume);
    this.meter.forget(record.id);
    if (record.spec.retain) {
      // The key joins the files first: the move aside then keeps both, or neither.
      if (luks) await this.luks.retainKey(record, luks, paths.dir);
      await retainStorage(this.tools, paths, record.id);
      return;
    }
    // Crypto-erase first: once the keyslots are gone the data is unreadable,
    // even if deleting the image fails or the disk keeps old blocks. The
    // image goes before the rest, so volume.json (what a retry needs) goes last.
    // Each snapshot carries a copy of the header: erased too.
    if (luks) for (const copy of await this.snapshots.copies(paths)) await this.eraseCopy(copy);
    if (luks) await this.luks.erase(record, paths.image);
    await this.tools.removeTree(paths.image);
    await this.tools.removeTree(paths.dir);
  }

  /**
   * Grows the volume to `sizeBytes` while containers use it: image, loop
   * device, LUKS mapping, filesystem, in that order, each undone if a later
   * one fails (the filesystem's grow is the commit). A volume nobody has
   * mounted: ext4 is grown offline (e2fsck, resize2fs), xfs and btrfs are
   * mounted for the time being (they only grow mounted).
   */
  async grow(volume: VolumeContext, sizeBytes: number): Promise<number> {
    const spec = imageSpec(volume.record);
    const active = await this.isActive(volume);
    if (spec.fs === 'ext4' && !active) return this.growExt4Offline(volume, sizeBytes);
    if (spec.fs === 'ext4' && !(await this.tools.canGrowMountedExt4())) {
      throw new Error(
        "is mounted, and growing a mounted ext4 needs CAP_SYS_RESOURCE, which the plugin's process does not have here (a managed plugin does not ask for it; some hosts withhold it even from root). Nothing was changed: stop the containers using it and resize again (it is then grown offline), or use fs=xfs or btrfs, which grow while mounted",
      );
    }
    if (!active) await this.activate(volume);
    try {
      return await this.growActive(volume, sizeBytes);
    } finally {
      if (!active) await this.deactivate(volume);
    }
  }

  /**
   * The image first (its undo pushed before: a half-done fallocate is cut
   * back too), then every loop device on it, the mapping, the filesystem.
   * Once the filesystem's grow has started nothing is cut back: it may
   * already use the new space, and a larger image is harmless (the next
   * resize finishes the job). Resolves with the image's size.
   */
  private async growActive({ record, paths }: VolumeContext, sizeBytes: number): Promise<number> {
    const spec = imageSpec(record);
    const before = (await this.tools.fileStat(paths.image))?.size;
    if (before === undefined) throw new Error('its image is missing');
    const loops = await loopsOf(this.tools, paths.image);
    const mounted = (await this.tools.listMounts()).find((entry) => entry.target === paths.mountRoot)?.source;
    const luks = encryption(spec);
    const device = luks ? this.luks.devicePath(record) : mounted;
    if (device === undefined || loops.length === 0)
      throw new Error('its mount or loop device is gone; unmount and mount it again, then resize');
    let committed = false;
    await withUndo(async (undo) => {
      if (sizeBytes > before) {
        undo.push('cut the image back', async () => {
          if (committed) return;
          await this.tools.cutImage(paths.image, before);
          for (const loop of loops) await this.tools.refreshLoopSize(loop);
        });
        await this.tools.extendImage(paths.image, sizeBytes, spec.sparse === false);
      }
      // Every step runs even when the image is large enough already: a grow that died after extending it is finished here.
      for (const loop of loops) await this.tools.refreshLoopSize(loop);
      // A mapping larger than its filesystem is harmless too: it is not shrunk back.
      if (luks) await this.luks.resize(record, luks);
      committed = true;
      await this.tools.growFilesystem(spec.fs, device, paths.mountRoot);
    });
    return Math.max(before, sizeBytes);
  }

  private async growExt4Offline(volume: VolumeContext, sizeBytes: number): Promise<number> {
    const { record, paths } = volume;
    const before = (await this.tools.fileStat(paths.image))?.size;
    if (before === undefined) throw new Error('its image is missing');
    const luks = encryption(imageSpec(record));
    let committed = false;
    await withUndo(async (undo) => {
      if (sizeBytes > before) {
        undo.push('cut the image back', async () => {
          if (!committed) await this.tools.cutImage(paths.image, before);
        });
        await this.tools.extendImage(paths.image, sizeBytes, imageSpec(record).sparse === false);
      }
      // Attached (and opened) after the extension: they see the new size at once.
      const device = await ensureLoop(this.tools, paths.image, undo);
      await this.tools.refreshLoopSize(device); // one left attached from before would not
      const top = luks ? await this.luks.ensureOpen(record, luks, device, undo) : device;
      await this.tools.checkExt4(top);
      committed = true;
      await this.tools.growFilesystem('ext4', top, paths.mountRoot);
    });
    await this.deactivate(volume);
    return Math.max(before, sizeBytes);
  }

  // A partial copy may end before its header does: erased if it is one, else just deleted with the rest.
  private async eraseCopy(copy: string): Promise<void> {
    await this.tools.luksErase(copy).catch(async (error: unknown) => {
      if (copy.endsWith('.img')) throw error;
      await this.tools.removeTree(copy);
    });
  }

  async snapshot(volume: VolumeContext, name: string): Promise<SnapshotInfo> {
    const active = await this.isActive(volume);
    return this.snapshots.take(volume.paths, name, active ? volume.paths.mountRoot : undefined);
  }

  listSnapshots({ paths }: VolumeContext): Promise<SnapshotInfo[]> {
    return this.snapshots.list(paths);
  }

  async restoreSnapshot(volume: VolumeContext, name: string): Promise<number> {
    if (await this.isActive(volume)) throw new Error('is mounted; a snapshot is restored only while no container uses the volume');
    await this.snapshots.find(volume.paths, name);
    // A loop device or mapping left from a failed mount would keep the old image open.
    await this.deactivate(volume);
    return this.snapshots.restore(volume.paths, name, imageSpec(volume.record).sparse !== false);
  }

  removeSnapshot({ record, paths }: VolumeContext, name: string): Promise<void> {
    return this.snapshots.remove(paths, name, encryption(record.spec) !== undefined);
  }

  /** The header on the loop device when one is attached (cryptsetup then locks the device), else in the image; every snapshot's too. */
  async rekey({ record, paths }: VolumeContext): Promise<void> {
    const luks = encryption(record.spec);
    if (!luks) throw new Error(`is type=${record.spec.type}: it has no key to rotate`);
    const loop = (await loopsOf(this.tools, paths.image))[0];
    await this.luks.rekey(record, luks, [loop ?? paths.image, ...(await this.snapshots.images(paths))]);
  }

  async thawLeftover({ paths }: VolumeContext): Promise<boolean> {
    return this.snapshots.thawLeftover(paths);
  }

  /**
   * The source's image (or snapshot) copied, its filesystem frozen meanwhile
   * when mounted; then the copy gets identities of its own: a new filesystem
   * UUID (xfs and older kernels' btrfs refuse a second one), and when
   * encrypted a new LUKS UUID and its own key in place of the source's
   * keyslot. (The LUKS volume key stays the source's, as with any block copy.)
   */
  async createFrom(
    target: VolumeContext,
    source: VolumeContext,
    snapshot: string | undefined,
    progress?: CopyProgress,
  ): Promise<{ method: CopyMethod; sizeBytes: number }> {
    const spec = imageSpec(target.record);
    const sourceSpec = imageSpec(source.record);
    if (snapshot !== undefined) await this.snapshots.find(source.paths, snapshot);
    else if (!(await this.tools.pathExists(source.paths.image))) throw new Error(`the image of ${source.record.name} is missing`);
    const from = snapshot === undefined ? source.paths.image : snapshotImage(source.paths, snapshot);
    const live = snapshot === undefined && (await this.isActive(source)) ? source.paths.mountRoot : undefined;
    const method = await withUndo(async (undo) => {
      const method = await this.snapshots.copyOut(from, target.paths, spec.sparse !== false, live, source.paths, undo, progress);
      const luks = encryption(spec);
      const sourceLuks = encryption(sourceSpec);
      if (!luks || !sourceLuks) {
        await this.tools.newFilesystemUuid(spec.fs, target.paths.image);
        return method;
      }
      await this.tools.luksNewUUID(target.paths.image);
      const key = await this.luks.takeOverCopy(
        target.record,
        luks,
        target.paths.image,
        await this.luks.loadKey(source.record, sourceLuks),
        undo,
      );
      try {
        const device = await ensureLoop(this.tools, target.paths.image, undo);
        const mapper = await this.luks.open(target.record, device, key, undo);
        await this.tools.newFilesystemUuid(spec.fs, mapper);
        await this.luks.close(target.record, target.paths.image);
        await this.tools.detachLoop(device);
      } finally {
        key.fill(0);
      }
      return method;
    });
    const sizeBytes = (await this.tools.fileStat(target.paths.image))?.size;
    if (sizeBytes === undefined) throw new Error('the copied image is missing');
    return { method, sizeBytes };
  }

  async isActive({ paths }: VolumeContext): Promise<boolean> {
    return isMountedAt(this.tools, paths.mountRoot);
  }

  // A container's bind mount names the loop device (or the LUKS mapping) as
  // its source; ext4 and xfs also show the device's number, btrfs its own.
  // While mounted, our own mount says it all (a bind mount shares its
  // superblock: same device number, same source), and costs no losetup.
  async identity({ record, paths }: VolumeContext): Promise<MountIdentity> {
    const mounted = await mountIdentity(this.tools, paths.mountRoot, []);
    if (mounted.majMins.length > 0) return mounted;
    const devices = await loopsOf(this.tools, paths.image);
    const mapper = encryption(record.spec) ? [this.luks.devicePath(record)] : [];
    return { majMins: [], sources: [...devices, ...mapper] };
  }

  async unclaimedBytes({ record, paths }: VolumeContext): Promise<number> {
    const spec = imageSpec(record);
    const allocation = await this.tools.fileAllocation(paths.image).catch(() => undefined);
    return allocation ? Math.max(0, spec.sizeBytes - allocation.allocatedBytes) : 0;
  }

  async status({ record, paths }: VolumeContext): Promise<Record<string, StatusValue>> {
    const spec = imageSpec(record);
    const mounted = await isMountedAt(this.tools, paths.mountRoot);
    const allocation = await this.tools.fileAllocation(paths.image);
    const status: Record<string, StatusValue> = { mounted, allocatedBytes: allocation.allocatedBytes };
    const luks = encryption(spec);
    if (luks) Object.assign(status, await this.luks.status(record, luks));
    if (spec.compression) {
      status['compression'] = describeCompression(spec.compression);
      status['compressionForce'] = spec.compression.force;
      Object.assign(status, await this.meter.status(record.id, mounted ? paths.mountRoot : undefined));
    }
    if (mounted) Object.assign(status, await usageStatus(this.tools, paths));
    return status;
  }
}
