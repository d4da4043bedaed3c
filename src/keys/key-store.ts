import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSealed, sealKey, unsealKey } from './seal.js';

export const VOLUME_KEY_BYTES = 64;

export type StoredKeySource = 'generated' | 'sealed';

// Per-volume LUKS keys: <stateDir>/keys (0700), one file per volume (0400),
// sealed with the host KEK when one is configured. Keys live in memory only
// as long as a cryptsetup call needs them; callers wipe them afterwards.
export class KeyStore {
  constructor(
    private readonly dir: string,
    private readonly kek: Buffer | undefined,
  ) {}

  /** What a key generated now would be stored as. */
  get source(): StoredKeySource {
    return this.kek ? 'sealed' : 'generated';
  }

  private file(volumeId: string): string {
    return join(this.dir, `${volumeId}.key`);
  }

  /** Generates and durably stores a new random key; fails if one exists. */
  async create(volumeId: string): Promise<Buffer> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const key = randomBytes(VOLUME_KEY_BYTES);
    const blob = this.kek ? sealKey(key, this.kek, volumeId) : key;
    const handle = await open(this.file(volumeId), 'wx', 0o400);
    try {
      await handle.writeFile(blob);
      await handle.sync();
      await handle.close();
      await this.syncDir();
    } catch (error) {
      // A half-written key file would block every later create of this name.
      await handle.close().catch(() => undefined);
      await rm(this.file(volumeId), { force: true });
      key.fill(0);
      throw error;
    }
    return key;
  }

  async load(volumeId: string): Promise<Buffer> {
    return this.open(volumeId, await readFile(this.file(volumeId)));
  }

  // Rekey's files beside <id>.key: <id>.key.next (the new key, before it is
  // the key) and <id>.key.retired (the old one, until its keyslots are gone).
  // Each is written durably before the step that needs it, so a crash at any
  // point leaves what finishing or undoing the rekey needs.

  /** Generates the next key and stores it as <id>.key.next (replacing an earlier one). */
  async stageNext(volumeId: string): Promise<Buffer> {
    const key = randomBytes(VOLUME_KEY_BYTES);
    await this.writeDurably(`${this.file(volumeId)}.next`, this.kek ? sealKey(key, this.kek, volumeId) : key);
    return key;
  }

  /** The commit: the old key is kept as <id>.key.retired, then the next key becomes the key. */
  async commitNext(volumeId: string, old: Uint8Array): Promise<void> {
    const blob = this.kek ? sealKey(old, this.kek, volumeId) : Buffer.from(old);
    try {
      await this.writeDurably(`${this.file(volumeId)}.retired`, blob);
    } finally {
      blob.fill(0);
    }
    await rename(`${this.file(volumeId)}.next`, this.file(volumeId));
    await this.syncDir();
  }

  /** Is a rekey's key file left (an interrupted rekey)? */
  async hasStaged(volumeId: string): Promise<boolean> {
    for (const which of ['next', 'retired']) {
      if (await exists(`${this.file(volumeId)}.${which}`)) return true;
    }
    return false;
  }

  async loadStaged(volumeId: string, which: 'next' | 'retired'): Promise<Buffer | undefined> {
    const blob = await readFile(`${this.file(volumeId)}.${which}`).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return blob && this.open(volumeId, blob);
  }

  async dropStaged(volumeId: string, which: 'next' | 'retired'): Promise<void> {
    await rm(`${this.file(volumeId)}.${which}`, { force: true });
  }

  private async writeDurably(path: string, blob: Uint8Array): Promise<void> {
    const temp = `${path}.tmp`;
    await rm(temp, { force: true });
    const handle = await open(temp, 'wx', 0o400);
    try {
      try {
        await handle.writeFile(blob);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true }); // no key bytes left behind in a temp file
      throw error;
    }
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const dirHandle = await open(this.dir, 'r');
    await dirHandle.sync().finally(() => dirHandle.close());
  }

  private open(volumeId: string, blob: Buffer): Buffer {
    if (isSealed(blob)) {
      if (!this.kek) throw new Error('the key is sealed but no key-encryption key is configured (CUSTOM_KEK_FILE)');
      try {
        return unsealKey(blob, this.kek, volumeId);
      } catch {
        throw new Error('the sealed key does not open with the configured key-encryption key');
      }
    }
    if (blob.length !== VOLUME_KEY_BYTES) throw new Error(`the key file has ${blob.length} bytes, expected ${VOLUME_KEY_BYTES}`);
    return blob;
  }

  async remove(volumeId: string): Promise<void> {
    await rm(this.file(volumeId), { force: true });
    await this.removeStaged(volumeId);
  }

  private async removeStaged(volumeId: string): Promise<void> {
    for (const suffix of ['next', 'retired', 'next.tmp', 'retired.tmp']) await rm(`${this.file(volumeId)}.${suffix}`, { force: true });
  }

  /** Moves the key next to retained data (`retain=true` volumes). */
  /** Moves the key next to retained data; done already (a retried Remove) is fine. */
  async moveTo(volumeId: string, destination: string): Promise<void> {
    // The retained key is the key; a rekey's leftovers are not kept.
    await this.removeStaged(volumeId);
    try {
      await rename(this.file(volumeId), destination);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !(await exists(destination))) throw error;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
