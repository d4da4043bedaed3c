import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { pino, type Logger } from 'pino';
import { StateStore } from '../../src/state/store.js';
import { volumeId } from '../../src/state/volume-id.js';
import { noCheckpoints, type Checkpoint } from '../../src/volumes/checkpoints.js';
import type { PathRoots } from '../../src/volumes/paths.js';
import { rebuildFromDisk, type RebuildReport } from '../../src/volumes/rebuild.js';
import { VolumeService, type ServicePolicy } from '../../src/volumes/service.js';
import { FakeBacking } from './fake-backing.js';
import { FakeHost } from './fake-host.js';
import { testTempDir } from './temp.js';

export { FakeBacking, FAKE_IMAGE, type BackingCall, type BackingMethod, type Gate } from './fake-backing.js';
export { FakeHost, type DiscardCall } from './fake-host.js';

// The fast tier's service: the real VolumeService, StateStore and data
// directory (in a temp dir), over a FakeBacking and a FakeHost. A restart is
// a new store and service over the same directories and the same fake
// storage; a reboot also clears the fake's mounts and changes the boot ID.

export interface RigOptions {
  readonly backing?: FakeBacking;
  readonly host?: FakeHost;
  readonly leaseGraceMs?: number;
  readonly overcommit?: number;
  readonly checkpoint?: Checkpoint;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface Rig {
  readonly root: string;
  readonly stateDir: string;
  readonly roots: PathRoots;
  readonly policy: ServicePolicy;
  readonly backing: FakeBacking;
  readonly host: FakeHost;
  readonly state: StateStore;
  readonly service: VolumeService;
  readonly rebuilt: RebuildReport;
  readonly log: Logger;
  /** Every line logged by this incarnation, parsed. */
  readonly logs: LogLine[];
}

export const WARN = 40;
export const ERROR = 50;

/** A debug-level logger that keeps every line in memory. */
export function capturingLogger(): { log: Logger; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  return { log, logs };
}

export function rigPaths(root: string): { stateDir: string; roots: PathRoots } {
  return { stateDir: join(root, 'state'), roots: { dataDir: join(root, 'data'), mountDir: join(root, 'mounts') } };
}

/** Opens the state in `root`, checks it against the data directory and builds the service. */
export async function makeService(root: string, overrides: RigOptions = {}): Promise<Rig> {
  const { stateDir, roots } = rigPaths(root);
  const backing = overrides.backing ?? new FakeBacking();
  const host = overrides.host ?? new FakeHost(backing);
  const policy: ServicePolicy = { leaseGraceMs: overrides.leaseGraceMs ?? 60_000, overcommit: overrides.overcommit ?? 1 };
  const { log, logs } = capturingLogger();
  const state = await StateStore.open(stateDir);
  const rebuilt = await rebuildFromDisk(state, roots.dataDir, log);
  const backings = { plain: backing, encrypted: backing, compressed: backing, replicated: backing };
  const service = new VolumeService({ state, backings, roots, log, host, policy, checkpoint: overrides.checkpoint ?? noCheckpoints });
  return { root, stateDir, roots, policy, backing, host, state, service, rebuilt, log, logs };
}

/** A temp directory removed when the test ends. */
export function tempRoot(t: ExecutionContext): Promise<string> {
  return testTempDir(t, 'fast');
}

export async function newRig(t: ExecutionContext, options: RigOptions = {}): Promise<Rig> {
  return makeService(await tempRoot(t), options);
}

/** The plugin process died and starts again: the kernel's mounts (the fake's active set) survive. */
export function restart(rig: Rig, overrides: RigOptions = {}): Promise<Rig> {
  return makeService(rig.root, { backing: rig.backing, host: rig.host, ...rig.policy, ...overrides });
}

/** The machine rebooted: no mounts, no containers, a new boot ID. */
export function reboot(rig: Rig, overrides: RigOptions = {}): Promise<Rig> {
  rig.backing.active.clear();
  rig.host.users.clear();
  rig.host.bootId = `${rig.host.bootId}+1`;
  return restart(rig, overrides);
}

/** A checkpoint that fails the first time it reaches `target`: the step's error path (undo) runs. */
export function throwAt(target: string): Checkpoint {
  let thrown = false;
  return async (step) => {
    await Promise.resolve();
    if (step !== target || thrown) return;
    thrown = true;
    throw new Error(`simulated crash at ${step}`);
  };
}

/** A checkpoint that never returns from `target` (the process is "dead" there); `reached` says when. */
export function freezeAt(target: string): { checkpoint: Checkpoint; reached: Promise<void> } {
  let arrive!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const checkpoint: Checkpoint = async (step) => {
    await Promise.resolve();
    if (step !== target) return;
    arrive();
    await new Promise<never>(() => undefined);
  };
  return { checkpoint, reached };
}

/** A checkpoint that stops at `target` (once) until released. */
export function holdAt(target: string): { checkpoint: Checkpoint; reached: Promise<void>; release(): void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const checkpoint: Checkpoint = async (step) => {
    if (step !== target || held) return;
    held = true;
    arrive();
    await opened;
  };
  return { checkpoint, reached, release };
}

export const idOf = volumeId;
