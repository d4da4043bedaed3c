import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DurableJsonFile } from './durable-file.js';
import { defineKey } from './own-keys.js';
import { emptyState, migrateState, type StateData, type VolumeRecord } from './schema.js';

export const STATE_FILE_NAME = 'state.json';

// The only user of lowdb. Loaded once; every change is written before the
// caller is answered. Writes are coalesced: while one is in flight, all
// changes made meanwhile go out together in the next one.
export class StateStore {
  private inFlight: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  private constructor(private readonly db: Low<StateData>) {}

  static async open(stateDir: string): Promise<StateStore> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, STATE_FILE_NAME);
    const db = new Low<StateData>(new DurableJsonFile<StateData>(file), emptyState());
    await db.read();
    db.data = migrateState(db.data, file);
    return new StateStore(db);
  }

  get(name: string): VolumeRecord | undefined {
    return Object.hasOwn(this.db.data.volumes, name) ? this.db.data.volumes[name] : undefined;
  }

  all(): VolumeRecord[] {
    return Object.values(this.db.data.volumes);
  }

  // Memory follows disk: when the write fails, the change is taken back, so
  // the plugin never answers from a state it could not save.
  async put(record: VolumeRecord): Promise<void> {
    const previous = this.get(record.name);
    defineKey(this.db.data.volumes, record.name, record);
    await this.flush().catch((error: unknown) => {
      this.restore(record.name, previous);
      throw error;
    });
  }

  async delete(name: string): Promise<void> {
    const previous = this.get(name);
    delete this.db.data.volumes[name];
    await this.flush().catch((error: unknown) => {
      this.restore(name, previous);
      throw error;
    });
  }

  private restore(name: string, previous: VolumeRecord | undefined): void {
    if (previous) defineKey(this.db.data.volumes, name, previous);
    else delete this.db.data.volumes[name];
  }

  /** Persists every change made so far; resolves once they are on disk. */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.db.write();
      });
    this.queued = next;
    this.inFlight = next;
    return next;
  }
}
