import type { Backing, StatusValue, VolumeContext } from './backing.js';
import type { SystemTools } from '../system/index.js';
import { detachAll, ensureLoop, provisionImage, retainStorage } from './loop-image.js';
import {
  ensureDataDirectory,
  isMountedAt,
  mountFilesystem,
  unmountFilesystem,
  usageStatus,
} from './filesystem.js';
import { withUndo } from './undo.js';

/** `type=plain`: sparse image → loop device (direct I/O) → ext4/xfs. The image size is the limit. */
export class PlainBacking implements Backing {
  constructor(private readonly tools: SystemTools) {}

  async preflight(): Promise<string | undefined> {
    return undefined;
  }

  async create({ record, paths }: VolumeContext): Promise<void> {
    await withUndo(async (undo) => {
      await provisionImage(this.tools, paths.dir, paths.image, record.spec.sizeBytes, undo);
      await this.tools.makeFilesystem(record.spec.fs, paths.image);
    });
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    if (await isMountedAt(this.tools, paths.mountRoot)) {
      await ensureDataDirectory(this.tools, paths);
      return;
    }
    await withUndo(async (undo) => {
      const device = await ensureLoop(this.tools, paths.image, undo);
      await mountFilesystem(this.tools, device, record.spec.fs, [], paths, undo);
    });
  }

  async deactivate({ paths }: VolumeContext): Promise<void> {
    await unmountFilesystem(this.tools, paths);
    await detachAll(this.tools, paths.image);
  }

  async destroy(volume: VolumeContext): Promise<void> {
    await this.deactivate(volume);
    if (volume.record.spec.retain) await retainStorage(this.tools, volume.paths);
    else await this.tools.removeTree(volume.paths.dir);
  }

  async status({ paths }: VolumeContext): Promise<Record<string, StatusValue>> {
    const allocation = await this.tools.fileAllocation(paths.image);
    const mounted = await isMountedAt(this.tools, paths.mountRoot);
    const status: Record<string, StatusValue> = { mounted, allocatedBytes: allocation.allocatedBytes };
    if (mounted) {
      Object.assign(status, await usageStatus(this.tools, paths));
    }
    return status;
  }
}
