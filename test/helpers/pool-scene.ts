import type { ExecutionContext } from 'ava';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSystemTools } from '../../src/system/index.js';
import { poolVolumeName, type PoolKind } from '../../src/backings/replicated/names.js';
import type { GlusterPools } from '../../src/backings/replicated/pool.js';
import { PoolVolumes } from '../../src/backings/replicated/pool-volumes.js';
import { GlusterSweeper, type SweepLayout } from '../../src/backings/replicated/sweeper.js';
import type { VolumeContext } from '../../src/backings/backing.js';
import { writeFileDurably } from '../../src/state/durable-file.js';
import type { VolumeRecord } from '../../src/state/schema.js';
import { volumeId } from '../../src/state/volume-id.js';
import { writeVolumeMeta } from '../../src/state/volume-meta.js';
import { FakeGluster, volume } from './fake-gluster.js';
import { testTempDir } from './temp.js';

// A GlusterFS pool volume played by a temp directory, for the tests of what a
// peer may plant in it (test/unit/pool-safety, test/system/pool-safety): a
// "victim" directory beside it holds what must survive, and a rig puts a real
// PoolVolumes and sweeper over it with a fake gluster CLI.

export const tools = createSystemTools(5000);
export const SELF = 'uuid-self';
export const OTHER = 'uuid-other';
export const PRECIOUS = 'precious\n';

export interface Scene {
  /** The temp directory holding both: `pool/..` is `root`, so '..' would reach the victim. */
  readonly root: string;
  readonly pool: string;
  readonly victim: string;
}

/** A pool and, beside it, a victim with `f` and `x/f` that no pool operation may touch. */
export async function scene(t: ExecutionContext): Promise<Scene> {
  const root = await testTempDir(t, 'pool-safety-scene');
  const pool = join(root, 'pool');
  const victim = join(root, 'victim');
  await mkdir(pool);
  await mkdir(join(victim, 'x'), { recursive: true });
  await writeFile(join(victim, 'f'), PRECIOUS, { mode: 0o600 });
  await writeFile(join(victim, 'x', 'f'), PRECIOUS, { mode: 0o600 });
  return { root, pool, victim };
}

/** The victim still holds `f`, `x/f` and whatever else the test put there (`extra`), nothing less. */
export async function victimIntact(t: ExecutionContext, victim: string, ...extra: string[]): Promise<void> {
  t.deepEqual((await readdir(victim)).sort(), ['f', 'x', ...extra].sort());
  t.is(await readFile(join(victim, 'f'), 'utf8'), PRECIOUS);
  t.is(await readFile(join(victim, 'x', 'f'), 'utf8'), PRECIOUS);
}

/** Whether anything (a link included, never followed) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Lets what was made now grow older than a sweepAgeMs of 1. */
export const age = () => sleep(20);

/** The pools as PoolVolumes sees them: one host, every pool volume mounted at `pool`. */
export function fakePools(pool: string): GlusterPools {
  return {
    multiHost: false,
    nameOf: (kind: PoolKind) => poolVolumeName('cv_pool', kind),
    mounted: async () => pool,
    allowedAddresses: async () => ['10.0.0.1'],
    mountPathOf: () => pool,
    mountedNow: async () => pool,
  } as unknown as GlusterPools;
}

export interface Rig {
  readonly gluster: FakeGluster;
  readonly volumes: PoolVolumes;
  readonly sweeper: GlusterSweeper;
  readonly mountDir: string;
  readonly brickRoot: string;
}

/** A real PoolVolumes and a fresh sweeper (one sweep per 10 s per instance) over the scene's pool. */
export async function rig(t: ExecutionContext, { pool }: Scene): Promise<Rig> {
  const gluster = new FakeGluster([volume('cv_pool', { started: true })]);
  const pools = fakePools(pool);
  const layout = await sweepLayout(t, ['10.0.0.1'], 1);
  const hostId = async () => SELF;
  const volumes = new PoolVolumes(tools, gluster.asTools(), pools, hostId, '10.0.0.1', () => new Set());
  const sweeper = new GlusterSweeper(tools, gluster.asTools(), pools, volumes, layout, hostId, () => new Set());
  return { gluster, volumes, sweeper, mountDir: layout.mountDir, brickRoot: layout.brickRoot };
}

/** Volume `v`: its id, and its record (a replicated pool volume) created at `createdAt`. */
export const VOLUME_ID = volumeId('v');

export function record(createdAt = '2024-01-02T03:04:05.000Z'): VolumeRecord {
  return {
    name: 'v',
    id: VOLUME_ID,
    spec: { type: 'replicated', replicas: 3, arbiter: false, layout: 'pool' },
    createdAt,
    leases: {},
  };
}

/** What a backing is given for `volume`, its mount root under `mountDir`. */
export function context(volume: VolumeRecord, mountDir: string): VolumeContext {
  const mountRoot = join(mountDir, volume.id);
  return {
    record: volume,
    paths: { dir: mountRoot, image: join(mountRoot, 'image'), mountRoot, mountpoint: join(mountRoot, '_data'), retainRoot: mountDir },
  };
}

/** volumes/<id>/{_data/f, hosts/} in the pool, with its volume.json when a record is given. */
export async function volumeDir(pool: string, meta: VolumeRecord | undefined): Promise<string> {
  const dir = join(pool, 'volumes', VOLUME_ID);
  await mkdir(join(dir, '_data'), { recursive: true });
  await mkdir(join(dir, 'hosts'), { mode: 0o700 });
  await writeFile(join(dir, '_data', 'f'), 'data\n');
  if (meta) await writeVolumeMeta(dir, meta);
  return dir;
}

/** The marker host `uuid` (at `host`) leaves in a volume's hosts/ while it has it mounted. */
export async function marker(hostsDir: string, uuid: string, host: string): Promise<void> {
  await writeFileDurably(join(hostsDir, uuid), `${JSON.stringify({ host, since: new Date().toISOString() })}\n`, 0o600);
}

/** The sweeper's layout over fresh temp directories: this host, 10.0.0.1, among `peers`, each with the same brick root. */
export async function sweepLayout(t: ExecutionContext, peers: readonly string[], sweepAgeMs: number): Promise<SweepLayout> {
  const brickRoot = await testTempDir(t, 'bricks');
  return {
    host: '10.0.0.1',
    peers: peers.map((host) => ({ host, brickRoot })),
    brickRoot,
    poolMountDir: await testTempDir(t, 'pools'),
    mountDir: await testTempDir(t, 'mounts'),
    poolName: 'cv_pool',
    tls: false,
    tlsDir: '/usr/lib/ssl',
    sweepAgeMs,
  };
}
