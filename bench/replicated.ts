import { startGlusterPool } from '../test/helpers/gluster-pool.js';
import { startTestPlugin } from '../test/helpers/plugin.js';
import { copyInAndOut, type CopyResult } from './compression.js';
import { percentile, timeMs } from './stats.js';

export interface ReplicatedBench {
  readonly plain: CopyResult;
  readonly replicated: CopyResult;
  readonly plainCreateMountMs: number;
  readonly replicatedCreateMountMs: number;
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

/** Replica 3 across three namespace hosts on this machine vs a plain volume, same corpus, same method. */
export async function replicatedBench(corpus: string): Promise<ReplicatedBench> {
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
    const plugin = await pool.startPlugin(pool.hosts[0]!);
    const replicated = await copyThrough(plugin.call, corpus, { type: 'replicated' });
    const replicatedCreateMountMs = await createMountMs(plugin.call, { type: 'replicated' }, 5);
    return { plain, replicated, plainCreateMountMs, replicatedCreateMountMs };
  } finally {
    await pool.stop();
  }
}
