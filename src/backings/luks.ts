import { join } from 'node:path';
import type { Backing, StatusValue, VolumeContext } from './backing.js';
import type { EncryptedSpec, VolumeRecord, VolumeSpec } from '../state/schema.js';
import type { SystemTools } from '../system/index.js';
import type { KeyStore } from '../keys/key-store.js';
import { detachAll, ensureLoop, provisionImage, retainStorage } from './loop-image.js';
import { ensureDataDirectory, isMountedAt, mountFilesystem, unmountFilesystem, usageStatus } from './filesystem.js';
import { checkKeyfile } from './keyfile.js';
import { withUndo, type UndoStack } from './undo.js';

export function mapperName(volumeId: string): string {
  return `custom-${volumeId}`;
}

function encrypted(record: VolumeRecord): EncryptedSpec {
  if (record.spec.type !== 'encrypted') throw new Error(`volume ${record.name} is not encrypted`);
  return record.spec;
}

/**
 * `type=encrypted`: sparse image → loop (direct I/O) → LUKS2 (dm-crypt) → ext4/xfs.
 * Opened on the first mount, closed on the last; Remove crypto-erases the
 * keyslots before the image is deleted.
 */
export class LuksBacking implements Backing {
  constructor(
    private readonly tools: SystemTools,
    private readonly keys: KeyStore,
  ) {}

  async preflight(spec: VolumeSpec): Promise<string | undefined> {
    const dm = await this.tools.probeDmCrypt();
    if (!dm.available) return `dm-crypt is not available on this host: ${dm.reason}; encrypted volumes need a kernel with device-mapper and dm_crypt`;
    if (spec.type === 'encrypted' && spec.keyfile) return checkKeyfile(this.tools, spec.keyfile);
    return undefined;
  }

  // The key as bytes, wiped by the caller. Generated keys come from the store;
  // a keyfile is read from the host at every use.
  private async key(record: VolumeRecord): Promise<Buffer> {
    const spec = encrypted(record);
    if (spec.keyfile) {
      const problem = await checkKeyfile(this.tools, spec.keyfile);
      if (problem) throw new Error(problem);
      return this.tools.readSecretFile(spec.keyfile);
    }
    return this.keys.load(record.id);
  }

  async create({ record, paths }: VolumeContext): Promise<void> {
    const spec = encrypted(record);
    await withUndo(async (undo) => {
      await provisionImage(this.tools, paths.dir, paths.image, spec.sizeBytes, undo);
      let key: Buffer;
      if (spec.keyfile) {
        key = await this.key(record);
      } else {
        key = await this.keys.create(record.id);
        undo.push('delete key', () => this.keys.remove(record.id));
      }
      try {
        const device = await ensureLoop(this.tools, paths.image, undo);
        const pbkdf = spec.keyfile ? 'argon2id' : 'pbkdf2-minimal';
        await this.tools.luksFormat(device, key, { cipher: spec.cipher, keySizeBits: spec.keySizeBits, pbkdf });
        const mapper = await this.open(record, device, key, undo);
        await this.tools.makeFilesystem(spec.fs, mapper);
        await this.tools.luksClose(mapperName(record.id));
        await this.tools.detachLoop(device);
      } finally {
        key.fill(0);
      }
    });
  }

  private async open(record: VolumeRecord, device: string, key: Buffer, undo: UndoStack): Promise<string> {
    const name = mapperName(record.id);
    const mapper = join('/dev/mapper', name);
    if (await this.tools.pathExists(mapper)) return mapper;
    await this.tools.luksOpen(device, name, key);
    undo.push(`close ${name}`, () => this.tools.luksClose(name));
    return mapper;
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    if (await isMountedAt(this.tools, paths.mountRoot)) {
      await ensureDataDirectory(this.tools, paths);
      return;
    }
    await withUndo(async (undo) => {
      const device = await ensureLoop(this.tools, paths.image, undo);
      const name = mapperName(record.id);
      let mapper = join('/dev/mapper', name);
      if (!(await this.tools.pathExists(mapper))) {
        const key = await this.key(record);
        try {
          mapper = await this.open(record, device, key, undo);
        } finally {
          key.fill(0);
        }
      }
      await mountFilesystem(this.tools, mapper, encrypted(record).fs, [], paths, undo);
    });
  }

  async deactivate({ record, paths }: VolumeContext): Promise<void> {
    await unmountFilesystem(this.tools, paths);
    const name = mapperName(record.id);
    if (await this.tools.pathExists(join('/dev/mapper', name))) await this.tools.luksClose(name);
    await detachAll(this.tools, paths.image);
  }

  async destroy(volume: VolumeContext): Promise<void> {
    const { record, paths } = volume;
    await this.deactivate(volume);
    if (encrypted(record).retain) {
      const kept = await retainStorage(this.tools, paths);
      if (!encrypted(record).keyfile) await this.keys.moveTo(record.id, join(kept, 'volume.key'));
      return;
    }
    // Crypto-erase first: once the keyslots are gone the data is unreadable,
    // even if deleting the image fails or the disk keeps old blocks.
    if (await this.tools.pathExists(paths.image)) await this.tools.luksErase(paths.image);
    await this.keys.remove(record.id);
    await this.tools.removeTree(paths.dir);
  }

  async status({ record, paths }: VolumeContext): Promise<Record<string, StatusValue>> {
    const spec = encrypted(record);
    const open = await this.tools.pathExists(join('/dev/mapper', mapperName(record.id)));
    const mounted = await isMountedAt(this.tools, paths.mountRoot);
    const allocation = await this.tools.fileAllocation(paths.image);
    const status: Record<string, StatusValue> = {
      encrypted: true,
      cipher: spec.cipher,
      keySizeBits: spec.keySizeBits,
      keySource: spec.keySource,
      luksVersion: 2,
      open,
      mounted,
      allocatedBytes: allocation.allocatedBytes,
    };
    if (spec.keyfile) status['keyfile'] = spec.keyfile;
    if (mounted) Object.assign(status, await usageStatus(this.tools, paths));
    return status;
  }
}
