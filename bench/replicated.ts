import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startGlusterPool, type GlusterPool, type PoolPlugin } from '../test/helpers/gluster-pool.js';
import { startTestPlugin } from '../test/helpers/plugin.js';
import { copyInAndOut, type CopyResult } from './compression.js';
import { percentile, timeMs } from './stats.js';

export interface ScalePoint {
  readonly volumes: number;
  /** RSS of the pool's brick processes (glusterfsd) on all three hosts. */
  readonly brickRssMiB: number;
  /** Median Create+Mount of the volumes added to reach this count. */
  readonly createMountMs: number;
  /** List on another host (the catalogue: every volume.json read over GlusterFS). */
  readonly listMs: number;
}

export interface ReplicatedBench {
  readonly plain: CopyResult;
  /** A replica-3 GlusterFS volume on the same three hosts, mounted directly: no plugin. */
  readonly bareGluster: CopyResult;
  /** The same with quota on, as the pool has it. */
  readonly bareGlusterQuota: CopyResult;
  readonly replicated: CopyResult;
  readonly plainCreateMountMs: number;
  readonly scale: readonly ScalePoint[];
}

type Call = (method: string, body: unknown) => Promise<{ body: Record<string, unknown> }>;

async function createMountMs(call: Call, opts: Record<string, string>, rounds: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const name = `lat-${i}`;
    times.push(
      await timeMs(async () => {
        await call('VolumeDriver.Create', { Name: name, Opts: opts });
        await call('VolumeDriver.Mount', { Name: name, ID: 'bench' });
      }),
    );
    await call('VolumeDriver.Unmount', { Name: name, ID: 'bench' });
    await call('VolumeDriver.Remove', { Name: name });
  }
  return percentile(times, 50);
}

async function copyThrough(call: Call, corpus: string, opts: Record<string, string>): Promise<CopyResult> {
  await call('VolumeDriver.Create', { Name: 'copy', Opts: opts });
  const mountpoint = String((await call('VolumeDriver.Mount', { Name: 'copy', ID: 'bench' })).body['Mountpoint']);
  const result = await copyInAndOut(corpus, mountpoint, false);
  await call('VolumeDriver.Unmount', { Name: 'copy', ID: 'bench' });
  await call('VolumeDriver.Remove', { Name: 'copy' });
  return result;
}

/**
 * The baseline: the same layout (replica 3 over the same hosts and brick
 * filesystem), created and mounted by hand; with `quota`, also the pool's
 * quota options (quota's accounting is part of what a pool volume costs).
 */
async function bareGluster(pool: GlusterPool, corpus: string, quota: boolean): Promise<CopyResult> {
  const [a] = pool.hosts;
  await a!.gluster(['volume', 'create', 'bare', 'replica', '3', ...pool.hosts.map((h) => `${h.address}:${join(h.brickRoot, 'bare')}`)]);
  await a!.gluster(['volume', 'start', 'bare']);
  if (quota) {
    await a!.gluster(['volume', 'quota', 'bare', 'enable']);
    for (const option of ['hard-timeout', 'soft-timeout']) await a!.gluster(['volume', 'quota', 'bare', option, '0']);
    await a!.gluster(['volume', 'set', 'bare', 'features.quota-deem-statfs', 'on']);
  }
  const target = join(pool.root, 'bare-mount');
  await mkdir(target, { recursive: true });
  await execa('nsenter', [`--net=/run/netns/${a!.netns}`, 'mount', '-t', 'glusterfs', `${a!.address}:/bare`, target]);
  try {
    return await copyInAndOut(corpus, target, false);
  } finally {
    await execa('umount', [target]);
    await a!.gluster(['volume', 'stop', 'bare', 'force']);
    await a!.gluster(['volume', 'delete', 'bare']);
    for (const host of pool.hosts) await execa('rm', ['-rf', join(host.brickRoot, 'bare')]);
  }
}

/** Resident memory of the pool's brick processes, from /proc. */
async function brickRssMiB(poolVolume: string): Promise<number> {
  let kib = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith('/usr/sbin/glusterfsd') || !cmdline.includes(`${poolVolume}.`)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kib += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return kib / 1024;
}

/** Volumes are added (Create with a quota, Mount, a file written, Unmount) up to each count in `steps`. */
async function scale(a: PoolPlugin, b: PoolPlugin, steps: readonly number[]): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  let made = 0;
  for (const target of steps) {
    const times: number[] = [];
    for (; made < target; made++) {
      const Name = `scale-${made}`;
      let mountpoint = '';
      times.push(
        await timeMs(async () => {
          const created = await a.call('VolumeDriver.Create', { Name, Opts: { type: 'replicated', size: '16M' } });
          if (created.body['Err']) throw new Error(String(created.body['Err']));
          const mounted = await a.call('VolumeDriver.Mount', { Name, ID: 'bench' });
          if (mounted.body['Err']) throw new Error(String(mounted.body['Err']));
          mountpoint = String(mounted.body['Mountpoint']);
        }),
      );
      await writeFile(join(mountpoint, 'f'), `${Name}\n`);
      await a.call('VolumeDriver.Unmount', { Name, ID: 'bench' });
    }
    // The first List after many creates elsewhere answers from the last read while the new
    // volume.json files are read (after 1 s); wait until the peer sees them all, then time a List.
    const deadline = Date.now() + 300_000;
    const count = async () => ((await b.call('VolumeDriver.List', {})).body['Volumes'] as unknown[]).length;
    while ((await count()) < target) {
      if (Date.now() > deadline) throw new Error(`host B does not list all ${target} volumes`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the catalogue's 2 s cache: a real read
    const listMs = await timeMs(() => count());
    const point = { volumes: target, brickRssMiB: await brickRssMiB('cv_pool'), createMountMs: percentile(times, 50), listMs };
    points.push(point);
    console.log(
      `  ${target} volumes: bricks ${point.brickRssMiB.toFixed(0)} MiB, Create+Mount median ${point.createMountMs.toFixed(0)} ms, List on B ${listMs.toFixed(0)} ms`,
    );
  }
  return points;
}
/** BENCH_SCALE=10,100 for a shorter run; 10, 100 and 1 000 volumes by default. */
function scaleSteps(): number[] {
  const steps = (process.env['BENCH_SCALE'] ?? '10,100,1000').split(',').map(Number);
  if (steps.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('BENCH_SCALE must be counts like 10,100,1000');
  return steps;
}

/** Replica 3 across three namespace hosts on this machine: plain volume, bare GlusterFS and the plugin, same corpus, same method. */
export async function replicatedBench(corpus: string, steps: readonly number[] = scaleSteps()): Promise<ReplicatedBench> {
  const fx = await startTestPlugin('bench-plain');
  let plain: CopyResult;
  let plainCreateMountMs: number;
  try {
    plain = await copyThrough(fx.call, corpus, { size: '2G' });
    plainCreateMountMs = await createMountMs(fx.call, { size: '1G' }, 5);
  } finally {
    await fx.close();
  }
  const pool = await startGlusterPool(3);
  try {
    const bare = await bareGluster(pool, corpus, false);
    const bareQuota = await bareGluster(pool, corpus, true);
    const a = await pool.startPlugin(pool.hosts[0]!);
    const b = await pool.startPlugin(pool.hosts[1]!);
    // The first Create makes and starts the pool: measured once it has settled, like the bare volumes.
    await a.call('VolumeDriver.Create', { Name: 'warm-up', Opts: { type: 'replicated' } });
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const replicated = await copyThrough(a.call, corpus, { type: 'replicated' });
    await a.call('VolumeDriver.Remove', { Name: 'warm-up' });
    return { plain, bareGluster: bare, bareGlusterQuota: bareQuota, replicated, plainCreateMountMs, scale: await scale(a, b, steps) };
  } finally {
    await pool.stop();
  }
}
