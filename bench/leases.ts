import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDockerd } from '../test/helpers/dockerd.js';
import { startPluginProcess } from '../test/helpers/plugin-process.js';
import { callSocket } from '../test/helpers/plugin.js';
import { loopsUnder } from '../test/helpers/host.js';
import { STATE_FILE_NAME } from '../src/state/layout.js';
import { eachLimited } from '../src/lib/each-limited.js';
import { percentile, timeMs } from './stats.js';

export interface ManyVolumes {
  readonly volumes: number;
  /** `docker volume create` with `volumes` volumes present (the capacity check sums them all). */
  readonly dockerCreateMs: number;
  readonly dockerCreateLocalMs: number;
  /** From the plugin's start to "recovery finished", every volume leased by a mount ID no container backs. */
  readonly staleReleaseMs: number;
  readonly released: number;
}

function recoveryLine(logs: string, after: number): { ms: number; released: number } | undefined {
  const lines = logs
    .split('\n')
    .slice(after)
    .filter((line) => line.includes('"msg":"recovery finished"'));
  const last = lines[0];
  if (!last) return undefined;
  const report = JSON.parse(last) as { time: number; released: string[]; failed: string[]; reactivated: string[] };
  if (report.failed.length > 0 || report.reactivated.length > 0)
    throw new Error(`recovery: ${report.failed.length} failed, ${report.reactivated.length} mounted again`);
  return { ms: report.time, released: report.released.length };
}

/**
 * `count` real plain volumes (loop devices, ext4, mounts). Docker's create
 * latency is measured with all of them present; then each is mounted under a
 * mount ID no container backs, the plugin is SIGKILLed, the leases are aged
 * past the grace period, and the restart's recovery releases every one.
 */
export async function manyVolumes(count = 1000): Promise<ManyVolumes> {
  // No periodic check during the set-up: it would release the leases before the restart does.
  const plugin = await startPluginProcess('many', {
    CUSTOM_LEASE_GRACE_MS: '1000',
    CUSTOM_LEASE_CHECK_MS: '3600000',
    CUSTOM_LOG_LEVEL: 'info',
    CUSTOM_OVERCOMMIT: '1000',
  });
  const dockerd = await startDockerd('many');
  const names = Array.from({ length: count }, (_, i) => `many-${i}`);
  const call = (method: string, body: unknown) => callSocket(plugin.socket, method, body);
  try {
    await eachLimited(names, 8, async (Name) => {
      const res = await call('VolumeDriver.Create', { Name, Opts: { size: '16M' } });
      if (res.body['Err']) throw new Error(String(res.body['Err']));
    });
    const creates: number[] = [];
    const locals: number[] = [];
    for (let i = 0; i < 8; i++) {
      creates.push(await timeMs(() => dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=16M', `lat-${i}`])));
      locals.push(await timeMs(() => dockerd.docker(['volume', 'create', `local-${i}`])));
      await dockerd.docker(['volume', 'rm', `lat-${i}`, `local-${i}`]);
    }
    await eachLimited(names, 8, async (Name) => {
      const res = await call('VolumeDriver.Mount', { Name, ID: 'd'.repeat(64) });
      if (res.body['Err']) throw new Error(String(res.body['Err']));
    });
    await plugin.kill('SIGKILL');
    const file = join(plugin.stateDir, STATE_FILE_NAME);
    const state = JSON.parse(await readFile(file, 'utf8')) as { volumes: Record<string, { leases: Record<string, { since: string }> }> };
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    for (const volume of Object.values(state.volumes)) for (const lease of Object.values(volume.leases)) lease.since = anHourAgo;
    await writeFile(file, JSON.stringify(state));
    const before = plugin.logs().split('\n').length;
    const started = Date.now();
    await plugin.start();
    let done = recoveryLine(plugin.logs(), before);
    while (!done) {
      await sleep(100);
      done = recoveryLine(plugin.logs(), before);
    }
    const leftLoops = (await loopsUnder(plugin.stateDir)).length;
    if (leftLoops > 0) throw new Error(`${leftLoops} loop devices were not released`);
    await eachLimited(names, 8, async (Name) => {
      await call('VolumeDriver.Remove', { Name });
    });
    return {
      volumes: count,
      dockerCreateMs: percentile(creates, 50),
      dockerCreateLocalMs: percentile(locals, 50),
      staleReleaseMs: done.ms - started,
      released: done.released,
    };
  } finally {
    await dockerd.stop();
    await plugin.stop();
  }
}
