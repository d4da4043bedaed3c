import type { GlusterBrick, GlusterTools, GlusterVolume } from '../../src/system/index.js';

// A fake gluster CLI for the replicated backing's own logic (pools,
// PoolVolumes, the sweeper): it records every call and keeps its volumes in
// memory; a test scripts volumeCreate's answers and volumeInfo's failures.

interface Call {
  readonly method: string;
  readonly args: readonly unknown[];
}

/** What volumeCreate does on one call: throw to refuse; the default makes the volume. */
export type CreateStep = (name: string, fake: FakeGluster) => void;

/** The gluster CLI as far as the pools, PoolVolumes and the sweeper use it, with volumes in memory. */
export class FakeGluster {
  readonly calls: Call[] = [];
  /** Each quotaRemove, as [volume name, path]. */
  readonly quotaRemoved: Array<readonly [string, string]> = [];
  readonly volumes = new Map<string, GlusterVolume>();
  /** One step per volumeCreate call, in order; once they run out, volumeCreate succeeds. */
  createSteps: CreateStep[] = [];
  /** How `volume info <missing>` answers: an empty list or glusterd's refusal. */
  missing: 'empty' | 'error' = 'error';
  /** When set, every volumeInfo rejects with it. */
  infoError: Error | undefined;

  constructor(volumes: readonly GlusterVolume[] = []) {
    for (const volume of volumes) this.volumes.set(volume.name, volume);
  }

  callsTo(method: string): Array<readonly unknown[]> {
    return this.calls.filter((call) => call.method === method).map((call) => call.args);
  }

  add(volume: GlusterVolume): void {
    this.volumes.set(volume.name, volume);
  }

  async volumeInfo(name?: string): Promise<GlusterVolume[]> {
    this.calls.push({ method: 'volumeInfo', args: [name] });
    if (this.infoError) throw this.infoError;
    if (name === undefined) return [...this.volumes.values()];
    const volume = this.volumes.get(name);
    if (volume) return [volume];
    if (this.missing === 'empty') return [];
    throw new Error(`gluster volume info: Volume ${name} does not exist`);
  }

  async volumeCreate(name: string, replica: number, arbiter: boolean, bricks: readonly GlusterBrick[], force: boolean): Promise<void> {
    this.calls.push({ method: 'volumeCreate', args: [name, replica, arbiter, bricks, force] });
    const step = this.createSteps.shift();
    if (step) {
      step(name, this);
      return;
    }
    this.add(volume(name, { replicaCount: replica, arbiterCount: arbiter ? 1 : 0, bricks: [...bricks] }));
  }

  async volumeSet(name: string, key: string, value: string): Promise<void> {
    this.calls.push({ method: 'volumeSet', args: [name, key, value] });
    const current = this.volumes.get(name);
    if (current) this.add({ ...current, options: { ...current.options, [key]: value } });
  }

  async volumeStart(name: string): Promise<void> {
    this.calls.push({ method: 'volumeStart', args: [name] });
    const current = this.volumes.get(name);
    if (current) this.add({ ...current, started: true });
  }

  async quotaEnable(name: string): Promise<void> {
    this.calls.push({ method: 'quotaEnable', args: [name] });
    const current = this.volumes.get(name);
    if (current) this.add({ ...current, options: { ...current.options, 'features.quota-deem-statfs': 'on' } });
  }

  async quotaRemove(name: string, path: string): Promise<void> {
    this.calls.push({ method: 'quotaRemove', args: [name, path] });
    this.quotaRemoved.push([name, path]);
  }

  asTools(): GlusterTools {
    return this as unknown as GlusterTools;
  }
}

/** A GlusterFS volume as `volume info` describes it: stopped, replica 3, no bricks, no options, unless `fields` say. */
export function volume(name: string, fields: Partial<GlusterVolume> = {}): GlusterVolume {
  return { name, started: false, replicaCount: 3, arbiterCount: 0, bricks: [], options: {}, ...fields };
}
