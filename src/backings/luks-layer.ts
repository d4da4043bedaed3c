import { join } from 'node:path';
import { RETAINED_KEY_FILE } from '../state/layout.js';
import type { EncryptedSpec, VolumeRecord } from '../state/schema.js';
import { CommandError, type SystemTools } from '../system/index.js';
import type { KeyStore } from '../keys/key-store.js';
import type { StatusValue } from './backing.js';
import { checkKeyfile, loadKeyfile } from './keyfile.js';
import { loopsOf } from './loop-image.js';
import { mapperDevice, mapperName } from './mapper-name.js';
import { ownMappingsOn, ownOpenMapping, sitsOn } from './mapping-owner.js';
import type { UndoStack } from './undo.js';

export { mapperName, mapperPath } from './mapper-name.js';

/**
 * Closes every mapping on the image's loop devices that was opened from the
 * image's LUKS header, whatever its name; foreign mappings are left alone.
 * For callers without a LuksLayer (e.g. discarding an interrupted create).
 */
export async function closeImageMappings(tools: SystemTools, image: string): Promise<void> {
  for (const name of await ownMappingsOn(tools, await loopsOf(tools, image))) await tools.luksClose(name);
}

interface OpenMapping {
  readonly name: string;
  readonly device: string;
}

/**
 * The LUKS2 block layer: turns the loop device into /dev/mapper/custom-<instance>-<id>.
 * Keys are Buffers the callers wipe; they reach cryptsetup on stdin only.
 */
export class LuksLayer {
  private readonly ciphers = new Map<string, Promise<boolean | undefined>>();
  /** Volume id → the mapping this process opened or adopted for it. */
  private readonly opened = new Map<string, OpenMapping>();

  /** `instance`: this plugin's tag in mapping names (config.instance); '' is the legacy name. */
  constructor(
    private readonly tools: SystemTools,
    private readonly keys: KeyStore,
    private readonly instance = '',
  ) {}

  nameFor(record: VolumeRecord): string {
    return mapperName(record.id, this.instance);
  }

  /** The device node of the volume's mapping: the one open for it, else the one of our name. */
  devicePath(record: VolumeRecord): string {
    return mapperDevice(this.opened.get(record.id)?.name ?? this.nameFor(record));
  }

  async preflight(spec: EncryptedSpec): Promise<string | undefined> {
    const dm = await this.tools.probeDmCrypt();
    if (!dm.available)
      return `dm-crypt is not available on this host: ${dm.reason}; encrypted volumes need a kernel with device-mapper and dm_crypt`;
    if ((await this.cipherSupported(spec)) === false) {
      return `cipher=${spec.cipher} with a ${spec.keySizeBits}-bit key is not supported by this host's kernel crypto (cryptsetup benchmark says N/A)`;
    }
    return spec.keyfile ? checkKeyfile(this.tools.readKeyFile, spec.keyfile) : undefined;
  }

  // Asked once per cipher and key size for the plugin's lifetime. Where the
  // host cannot tell (no AF_ALG), the kernel decides at open, and a failure
  // there is unwound like any other.
  private cipherSupported(spec: EncryptedSpec): Promise<boolean | undefined> {
    const key = `${spec.cipher}/${spec.keySizeBits}`;
    let answer = this.ciphers.get(key);
    if (!answer) {
      answer = this.tools.cipherSupported(spec.cipher, spec.keySizeBits);
      this.ciphers.set(key, answer);
    }
    return answer;
  }

  /** A fresh key for a new volume: generated and stored, or read from the user's keyfile. */
  async newKey(record: VolumeRecord, spec: EncryptedSpec, undo: UndoStack): Promise<Buffer> {
    if (spec.keyfile) return this.loadKey(record, spec);
    const key = await this.keys.create(record.id);
    undo.push('delete key', () => this.keys.remove(record.id));
    return key;
  }

  /**
   * A copied image becomes the volume `record`'s: a key of its own (generated
   * and stored) is added and the source's keyslot removed, so the source's key
   * no longer opens the copy. With a user's key file the key is that file's,
   * the same as the source's. Takes `sourceKey` (wiped); returns the key now.
   */
  async takeOverCopy(record: VolumeRecord, spec: EncryptedSpec, image: string, sourceKey: Buffer, undo: UndoStack): Promise<Buffer> {
    if (spec.keyfile) return sourceKey;
    try {
      const key = await this.newKey(record, spec, undo);
      try {
        await this.tools.luksAddKey(image, sourceKey, key);
        await this.tools.luksRemoveKey(image, sourceKey);
      } catch (error) {
        key.fill(0);
        throw error;
      }
      return key;
    } finally {
      sourceKey.fill(0);
    }
  }

  /**
   * A new key for the volume, online: added to the keyslots of every header
   * in `headers` (the volume's device or image, its snapshots), committed in
   * the key store, then the old key's keyslots destroyed. The LUKS volume key
   * (what the data is encrypted with) stays, so an open mapping goes on.
   * What an interrupted rekey left is finished or undone first.
   */
  async rekey(record: VolumeRecord, spec: EncryptedSpec, headers: readonly string[]): Promise<void> {
    if (spec.keyfile) {
      throw new Error(
        "its key is your own key file (the keyfile= option; its path is never repeated in an error); the plugin does not rotate it. Use cryptsetup luksChangeKey on the volume's image with the old and the new file, then point the file's path at the new one",
      );
    }
    await this.finishRekey(record, headers);
    const old = await this.keys.load(record.id);
    let next: Buffer;
    try {
      next = await this.keys.stageNext(record.id);
    } catch (error) {
      old.fill(0);
      throw error;
    }
    try {
      const added: string[] = [];
      try {
        for (const header of headers) {
          await this.tools.luksAddKey(header, old, next);
          added.push(header);
        }
      } catch (error) {
        for (const header of added) await this.removeKeyslot(header, next);
        await this.keys.dropStaged(record.id, 'next');
        throw error;
      }
      await this.keys.commitNext(record.id, old);
      for (const header of headers) await this.removeKeyslot(header, old);
      await this.keys.dropStaged(record.id, 'retired');
    } finally {
      old.fill(0);
      next.fill(0);
    }
  }

  /**
   * After a crash: a retired key that is not the key (the commit happened)
   * loses its keyslots; a staged next key that never became the key loses
   * any keyslot it got. Never the key's own keyslot.
   */
  async finishRekey(record: VolumeRecord, headers: readonly string[]): Promise<void> {
    if (!(await this.keys.hasStaged(record.id))) return;
    const current = await this.keys.load(record.id);
    try {
      for (const which of ['retired', 'next'] as const) {
        const staged = await this.keys.loadStaged(record.id, which);
        if (!staged) continue;
        try {
          if (!staged.equals(current)) for (const header of headers) await this.removeKeyslot(header, staged);
        } finally {
          staged.fill(0);
        }
        await this.keys.dropStaged(record.id, which);
      }
    } finally {
      current.fill(0);
    }
  }

  /** Destroys the keyslot `key` opens, if there is one. */
  private async removeKeyslot(header: string, key: Buffer): Promise<void> {
    try {
      await this.tools.luksRemoveKey(header, key);
    } catch (error) {
      if (error instanceof CommandError && /No key available with this passphrase/i.test(error.stderr)) return;
      throw error;
    }
  }

  /** The volume's key: opened once, checked on the descriptor, read with a cap and a deadline. */
  async loadKey(record: VolumeRecord, spec: EncryptedSpec): Promise<Buffer> {
    if (!spec.keyfile) return this.keys.load(record.id);
    return loadKeyfile(this.tools.readKeyFile, spec.keyfile);
  }

  async format(device: string, key: Buffer, spec: EncryptedSpec): Promise<void> {
    // A random key needs no stretching; a user's key file may be a passphrase.
    const pbkdf = spec.keyfile ? 'argon2id' : 'pbkdf2-minimal';
    await this.tools.luksFormat(device, key, { cipher: spec.cipher, keySizeBits: spec.keySizeBits, pbkdf });
  }

  // This volume's mapping already open on `device` (any name), remembered for close.
  private async adopt(record: VolumeRecord, device: string): Promise<string | undefined> {
    const name = await ownOpenMapping(this.tools, device, this.nameFor(record));
    if (name !== undefined) this.opened.set(record.id, { name, device });
    return name === undefined ? undefined : mapperDevice(name);
  }

  private async openNew(record: VolumeRecord, device: string, key: Buffer, undo: UndoStack): Promise<string> {
    const name = this.nameFor(record);
    await this.tools.luksOpen(device, name, key);
    this.opened.set(record.id, { name, device });
    undo.push(`close ${name}`, async () => {
      await this.tools.luksClose(name);
      this.opened.delete(record.id);
    });
    return mapperDevice(name);
  }

  /** Opens the mapping (unless this volume's is open already) with `key`; returns its device path. */
  async open(record: VolumeRecord, device: string, key: Buffer, undo: UndoStack): Promise<string> {
    return (await this.adopt(record, device)) ?? this.openNew(record, device, key, undo);
  }

  /** Opens the mapping with the volume's stored key unless this volume's is open already. */
  async ensureOpen(record: VolumeRecord, spec: EncryptedSpec, device: string, undo: UndoStack): Promise<string> {
    const adopted = await this.adopt(record, device);
    if (adopted) return adopted;
    const key = await this.loadKey(record, spec);
    try {
      return await this.openNew(record, device, key, undo);
    } finally {
      key.fill(0);
    }
  }

  /** The open mapping takes its device's new size; the key goes to cryptsetup on stdin. */
  async resize(record: VolumeRecord, spec: EncryptedSpec): Promise<void> {
    const key = await this.loadKey(record, spec);
    try {
      await this.tools.luksResize(this.mappingName(record), key);
    } finally {
      key.fill(0);
    }
  }

  private mappingName(record: VolumeRecord): string {
    return this.opened.get(record.id)?.name ?? this.nameFor(record);
  }

  /**
   * Closes this volume's mapping. With `image`, every mapping on the image's
   * loop devices that was opened from its header, whatever its name; without,
   * the one this process opened (if still on its device) or, after a restart,
   * the one of our name. A foreign mapping is never closed.
   */
  async close(record: VolumeRecord, image?: string): Promise<void> {
    if (image) await closeImageMappings(this.tools, image);
    else for (const name of await this.knownMapping(record)) await this.tools.luksClose(name);
    this.opened.delete(record.id);
  }

  private async knownMapping(record: VolumeRecord): Promise<string[]> {
    const known = this.opened.get(record.id);
    const name = known?.name ?? this.nameFor(record);
    const mapping = await this.tools.mappingNamed(name);
    if (!mapping) return [];
    if (known) return sitsOn(mapping, known.device) ? [name] : [];
    // Made by cryptsetup from a LUKS2 header under exactly this name.
    return /^CRYPT-LUKS2-/.test(mapping.uuid) && mapping.uuid.endsWith(`-${name}`) ? [name] : [];
  }

  /** Destroys the keyslots (the data is unreadable from then on) and the stored key. */
  async erase(record: VolumeRecord, image: string): Promise<void> {
    if (await this.tools.pathExists(image)) await this.tools.luksErase(image);
    await this.keys.remove(record.id);
  }

  async retainKey(record: VolumeRecord, spec: EncryptedSpec, destination: string): Promise<void> {
    if (!spec.keyfile) await this.keys.moveTo(record.id, join(destination, RETAINED_KEY_FILE));
  }

  async status(record: VolumeRecord, spec: EncryptedSpec): Promise<Record<string, StatusValue>> {
    return {
      encrypted: true,
      cipher: spec.cipher,
      keySizeBits: spec.keySizeBits,
      keySource: spec.keySource,
      ...(spec.keyfile ? { keyfile: spec.keyfile } : {}),
      luksVersion: 2,
      open: await this.tools.pathExists(this.devicePath(record)),
    };
  }
}
