import { join } from 'node:path';
import type { EncryptedSpec, VolumeRecord } from '../state/schema.js';
import type { SystemTools } from '../system/index.js';
import type { KeyStore } from '../keys/key-store.js';
import type { StatusValue } from './backing.js';
import { checkKeyfile } from './keyfile.js';
import type { UndoStack } from './undo.js';

export function mapperName(volumeId: string): string {
  return `custom-${volumeId}`;
}

export function mapperPath(volumeId: string): string {
  return join('/dev/mapper', mapperName(volumeId));
}

/**
 * The LUKS2 block layer: turns the loop device into /dev/mapper/custom-<id>.
 * Keys are Buffers the callers wipe; they reach cryptsetup on stdin only.
 */
export class LuksLayer {
  constructor(
    private readonly tools: SystemTools,
    private readonly keys: KeyStore,
  ) {}

  private readonly ciphers = new Map<string, Promise<boolean | undefined>>();

  async preflight(spec: EncryptedSpec): Promise<string | undefined> {
    const dm = await this.tools.probeDmCrypt();
    if (!dm.available) return `dm-crypt is not available on this host: ${dm.reason}; encrypted volumes need a kernel with device-mapper and dm_crypt`;
    if ((await this.cipherSupported(spec)) === false) {
      return `cipher=${spec.cipher} with a ${spec.keySizeBits}-bit key is not supported by this host's kernel crypto (cryptsetup benchmark says N/A)`;
    }
    return spec.keyfile ? checkKeyfile(this.tools, spec.keyfile) : undefined;
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

  async loadKey(record: VolumeRecord, spec: EncryptedSpec): Promise<Buffer> {
    if (!spec.keyfile) return this.keys.load(record.id);
    const problem = await checkKeyfile(this.tools, spec.keyfile);
    if (problem) throw new Error(problem);
    return this.tools.readSecretFile(spec.keyfile);
  }

  async format(device: string, key: Buffer, spec: EncryptedSpec): Promise<void> {
    // A random key needs no stretching; a user's key file may be a passphrase.
    const pbkdf = spec.keyfile ? 'argon2id' : 'pbkdf2-minimal';
    await this.tools.luksFormat(device, key, { cipher: spec.cipher, keySizeBits: spec.keySizeBits, pbkdf });
  }

  /** Opens the mapping (if it is not open yet) with `key`; returns its device path. */
  async open(record: VolumeRecord, device: string, key: Buffer, undo: UndoStack): Promise<string> {
    const path = mapperPath(record.id);
    if (await this.tools.pathExists(path)) return path;
    await this.tools.luksOpen(device, mapperName(record.id), key);
    undo.push(`close ${mapperName(record.id)}`, () => this.tools.luksClose(mapperName(record.id)));
    return path;
  }

  /** Opens the mapping with the volume's stored key unless it is open already. */
  async ensureOpen(record: VolumeRecord, spec: EncryptedSpec, device: string, undo: UndoStack): Promise<string> {
    const path = mapperPath(record.id);
    if (await this.tools.pathExists(path)) return path;
    const key = await this.loadKey(record, spec);
    try {
      return await this.open(record, device, key, undo);
    } finally {
      key.fill(0);
    }
  }

  async close(record: VolumeRecord): Promise<void> {
    if (await this.tools.pathExists(mapperPath(record.id))) await this.tools.luksClose(mapperName(record.id));
  }

  /** Destroys the keyslots (the data is unreadable from then on) and the stored key. */
  async erase(record: VolumeRecord, image: string): Promise<void> {
    if (await this.tools.pathExists(image)) await this.tools.luksErase(image);
    await this.keys.remove(record.id);
  }

  async retainKey(record: VolumeRecord, spec: EncryptedSpec, destination: string): Promise<void> {
    if (!spec.keyfile) await this.keys.moveTo(record.id, join(destination, 'volume.key'));
  }

  async status(record: VolumeRecord, spec: EncryptedSpec): Promise<Record<string, StatusValue>> {
    return {
      encrypted: true,
      cipher: spec.cipher,
      keySizeBits: spec.keySizeBits,
      keySource: spec.keySource,
      ...(spec.keyfile ? { keyfile: spec.keyfile } : {}),
      luksVersion: 2,
      open: await this.tools.pathExists(mapperPath(record.id)),
    };
  }
}
