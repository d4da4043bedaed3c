import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DurableJsonFile } from './durable-file.js';
import { STATE_FILE_NAME } from './layout.js';
import { defineKey, ownValue } from '../lib/own-property.js';
import { emptyState, migrateState, NewerStateError, validateRecord, type StateData, type VolumeRecord } from './schema.js';
import { quoted } from '../lib/quoted.js';

/** How the state file looked when it was opened: only 'intact' can be trusted to be complete. */
export type StateOrigin = 'intact' | 'missing' | 'empty' | 'corrupt';

export interface StateProblem {
  readonly name: string;
  readonly problem: string;
}

// The only user of lowdb. Loaded once; every change is written before the
// caller is answered. Writes are coalesced: while one is in flight, all
// changes made meanwhile go out together in the next one. It is an index that
// can be rebuilt from each volume's volume.json (see volumes/rebuild.ts).
export class StateStore {
  private inFlight: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  private constructor(
    private readonly db: Low<StateData>,
    readonly origin: StateOrigin,
    /** Records that failed validation: reported and skipped. */
    readonly problems: readonly StateProblem[],
  ) {}

  static async open(stateDir: string): Promise<StateStore> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, STATE_FILE_NAME);
    const read = await readState(file);
    let { origin } = read;
    let envelope: ReturnType<typeof migrateState>;
    try {
      envelope = read.raw === undefined ? emptyState() : migrateState(read.raw, file);
    } catch (error) {
      // A newer plugin's file is refused; any other unusable file is kept aside and rebuilt.
      if (error instanceof NewerStateError) throw error;
      await moveAside(file);
      envelope = emptyState();
      origin = 'corrupt';
    }
    const volumes: Record<string, VolumeRecord> = {};
    const problems: StateProblem[] = [];
    for (const [name, entry] of Object.entries(envelope.volumes)) {
      const checked = validateRecord(entry);
      if ('problem' in checked) problems.push({ name, problem: checked.problem });
      else if (checked.record.name !== name) problems.push({ name, problem: `filed under another name (${quoted(checked.record.name)})` });
      else defineKey(volumes, name, checked.record);
    }
    const db = new Low<StateData>(new DurableJsonFile<StateData>(file), emptyState());
    db.data = { version: envelope.version, volumes };
    return new StateStore(db, origin, problems);
  }

  get(name: string): VolumeRecord | undefined {
    return ownValue(this.db.data.volumes, name);
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

  /** Takes a record into memory without writing (rebuilt from disk while the disk refuses writes). */
  adopt(record: VolumeRecord): void {
    defineKey(this.db.data.volumes, record.name, record);
  }

  /** Replaces a record by `change(current)`, written before it returns, or rolled back. */
  async update(name: string, change: (current: VolumeRecord) => VolumeRecord): Promise<VolumeRecord> {
    const current = this.get(name);
    if (!current) throw new Error(`no record for ${quoted(name)}`);
    const next = change(current);
    await this.put(next);
    return next;
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

// A missing or empty file is a fresh start (to be checked against the disk);
// one that is not JSON is moved aside, never overwritten, and rebuilt.
async function readState(file: string): Promise<{ raw: unknown; origin: StateOrigin }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { raw: undefined, origin: 'missing' };
    throw error;
  }
  if (text.trim() === '') return { raw: undefined, origin: 'empty' };
  try {
    return { raw: JSON.parse(text) as unknown, origin: 'intact' };
  } catch {
    await moveAside(file);
    return { raw: undefined, origin: 'corrupt' };
  }
}

async function moveAside(file: string): Promise<void> {
  await rename(file, `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`);
}
