import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isSealed, sealKey, unsealKey } from './seal.js';

export const VOLUME_KEY_BYTES = 64;

export type StoredKeySource = 'generated' | 'sealed';

/** How a stored key is kept: under the current KEK, the previous one (being rotated away), none, or unreadable. */
export type KeySealing = 'current' | 'previous' | 'unsealed' | 'unreadable';

// Per-volume LUKS keys: <stateDir>/keys (0700), one file per volume (0400),
// sealed with the host KEK when one is configured. Keys live in memory only
// as long as a cryptsetup call needs them; callers wipe them afterwards.
export class KeyStore {
  /** `previous`: a KEK being rotated away from; keys sealed with it still open until resealed. */
  constructor(
    private readonly dir: string,
    private readonly kek: Buffer | undefined,
    private readonly previous?: Buffer,
  ) {}

  /** At shutdown: the KEKs are zeroed; the store opens nothing from then on. */
  wipe(): void {
    this.kek?.fill(0);
    this.previous?.fill(0);
    this.wiped = true;
  }

  private wiped = false;

  /** After wipe() the zeroed KEK must never seal or open anything. */
  private usable(): void {
    if (this.wiped) throw new Error('the key store was closed (the plugin is stopping)');
  }

  /** What a key generated now would be stored as. */
  get source(): StoredKeySource {
    return this.kek ? 'sealed' : 'generated';
  }

  private file(volumeId: string): string {
    return join(this.dir, `${volumeId}.key`);
  }

  /** Generates and durably stores a new random key; fails if one exists. */
  async create(volumeId: string): Promise<Buffer> {
    this.usable();
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
    this.usable();
    const key = randomBytes(VOLUME_KEY_BYTES);
    try {
      await this.writeDurably(`${this.file(volumeId)}.next`, this.kek ? sealKey(key, this.kek, volumeId) : key);
    } catch (error) {
      key.fill(0);
      throw error;
    }
    return key;
  }

  /** The commit: the old key is kept as <id>.key.retired, then the next key becomes the key. */
  async commitNext(volumeId: string, old: Uint8Array): Promise<void> {
    this.usable();
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

  /** `path` replaced atomically by `blob` (0400), made durable with its directory `dir`. */
  private async writeDurably(path: string, blob: Uint8Array, dir = this.dir): Promise<void> {
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
    await syncDirectory(dir);
  }

  private async syncDir(): Promise<void> {
    await syncDirectory(this.dir);
  }

  private open(volumeId: string, blob: Buffer): Buffer {
    return this.unseal(volumeId, blob).key;
  }

  private unseal(volumeId: string, blob: Buffer): { key: Buffer; sealing: Exclude<KeySealing, 'unreadable'> } {
    this.usable();
    if (isSealed(blob)) {
      if (!this.kek) throw new Error('the key is sealed but no key-encryption key is configured (CUSTOM_KEK_FILE)');
      for (const [kek, sealing] of [
        [this.kek, 'current'],
        [this.previous, 'previous'],
      ] as const) {
        if (!kek) continue;
        try {
          return { key: unsealKey(blob, kek, volumeId), sealing };
        } catch {
          // Not this KEK: the next one, if any.
        }
      }
      throw new Error(
        `the sealed key does not open with the configured key-encryption key${this.previous ? ' (nor with CUSTOM_KEK_PREVIOUS_FILE)' : ''}`,
      );
    }
    if (blob.length !== VOLUME_KEY_BYTES) throw new Error(`the key file has ${blob.length} bytes, expected ${VOLUME_KEY_BYTES}`);
    return { key: blob, sealing: 'unsealed' };
  }

  /**
   * Seals the volume's stored keys (the key, and a rekey's staged ones) under
   * the current KEK when they are not already: sealed with the previous KEK,
   * or not sealed at all. Each file is replaced atomically, so a crash leaves
   * every key openable (with either KEK). Resolves with how the key was kept.
   */
  async reseal(volumeId: string): Promise<KeySealing> {
    this.usable();
    if (!this.kek) throw new Error('no key-encryption key is configured (CUSTOM_KEK_FILE)');
    let before: KeySealing = 'current';
    for (const path of [this.file(volumeId), `${this.file(volumeId)}.next`, `${this.file(volumeId)}.retired`]) {
      const blob = await readFile(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && path !== this.file(volumeId)) return undefined;
        throw error;
      });
      if (!blob) continue;
      const { key, sealing } = this.unseal(volumeId, blob);
      try {
        if (path === this.file(volumeId)) before = sealing;
        if (sealing !== 'current') await this.writeDurably(path, sealKey(key, this.kek, volumeId));
      } finally {
        key.fill(0);
        blob.fill(0);
      }
    }
    return before;
  }

  /** How the volume's key is kept now (for doctor and the start-up log); never its bytes. */
  async sealing(volumeId: string): Promise<KeySealing> {
    try {
      const blob = await readFile(this.file(volumeId));
      const { key, sealing } = this.unseal(volumeId, blob);
      key.fill(0);
      blob.fill(0);
      return sealing;
    } catch {
      return 'unreadable';
    }
  }

  async remove(volumeId: string): Promise<void> {
    await rm(this.file(volumeId), { force: true });
    await this.removeStaged(volumeId);
  }

  private async removeStaged(volumeId: string): Promise<void> {
    for (const suffix of ['tmp', 'next', 'retired', 'next.tmp', 'retired.tmp'])
      await rm(`${this.file(volumeId)}.${suffix}`, { force: true });
  }

  /**
   * Moves the key next to retained data (`retain=true` volumes); done already
   * (a retried Remove) is fine. Across filesystems (EXDEV: a key store
   * elsewhere than the data) it is copied durably, then unlinked: a crash in
   * between leaves both, and the retry copies again and finishes.
   */
  async moveTo(volumeId: string, destination: string): Promise<void> {
    // The retained key is the key; a rekey's leftovers are not kept.
    await this.removeStaged(volumeId);
    const source = this.file(volumeId);
    try {
      await rename(source, destination);
      await syncDirectory(dirname(destination));
      return;
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException;
      if (code === 'ENOENT' && (await exists(destination))) return;
      if (code !== 'EXDEV') throw error;
    }
    // rename(2) says EXDEV before it looks for the source: a key moved already is found missing here.
    const blob = await readFile(source).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' && (await exists(destination))) return undefined;
      throw error;
    });
    if (!blob) return;
    try {
      await this.writeDurably(destination, blob, dirname(destination));
    } finally {
      blob.fill(0);
    }
    await rm(source);
    await this.syncDir();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  await handle.sync().finally(() => handle.close());
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
