import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { startDockerd, TEST_IMAGE } from '../test/helpers/dockerd.js';
import { startPluginProcess } from '../test/helpers/plugin-process.js';
import { callSocket } from '../test/helpers/plugin.js';
import { testConfig } from '../test/helpers/temp.js';
import { startPlugin } from '../src/plugin.js';
import { META_FILE, STATE_FILE_NAME } from '../src/state/layout.js';
import { STATE_VERSION } from '../src/state/schema.js';
import { volumeId } from '../src/volumes/names.js';
import { percentile, timeMs } from './stats.js';

export interface DockerLatency {
  readonly createMs: number;
  readonly runMs: number;
}

/** Median `docker volume create` and `docker run --rm -v vol:/d … true` times through a real dockerd. */
export async function dockerLatency(rounds = 8): Promise<{ custom: DockerLatency; local: DockerLatency }> {
  const plugin = await startPluginProcess('bench');
  const dockerd = await startDockerd('bench');
  try {
    const measure = async (driver: string, opts: string[]): Promise<DockerLatency> => {
      const creates: number[] = [];
      const runs: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const name = `lat-${driver}-${i}`;
        creates.push(await timeMs(() => dockerd.docker(['volume', 'create', '-d', driver, ...opts, name])));
        runs.push(await timeMs(() => dockerd.docker(['run', '--rm', '--network', 'none', '-v', `${name}:/d`, TEST_IMAGE, 'true'])));
        await dockerd.docker(['volume', 'rm', name]);
      }
      return { createMs: percentile(creates, 50), runMs: percentile(runs, 50) };
    };
    await measure('local', []); // warm-up: image and daemon caches
    return { local: await measure('local', []), custom: await measure(plugin.driver, ['-o', 'size=1G']) };
  } finally {
    await dockerd.stop();
    await plugin.stop();
  }
}

export interface StateLatency {
  readonly volumes: number;
  readonly activateMs: number;
  readonly getMs: number;
  readonly getP99Ms: number;
  readonly listMs: number;
}

/** Get and List with `count` volumes in state, against a no-op Activate as baseline. */
export async function stateLatency(root: string, count = 10_000): Promise<StateLatency> {
  const config = testConfig(join(root, 'many'));
  await mkdir(config.stateDir, { recursive: true });
  const volumes: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const name = `vol-${i}`;
    const record = {
      name,
      id: volumeId(name),
      spec: { type: 'plain' as const, fs: 'ext4' as const, sizeBytes: 1 << 30 },
      createdAt: new Date().toISOString(),
      leases: {},
    };
    volumes[name] = record;
    // A real (empty, sparse) image per volume, so Get's status reads real files.
    const dir = join(config.dataDir, volumeId(name));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'disk.img'), '');
    await writeFile(
      join(dir, META_FILE),
      JSON.stringify({ version: 1, name, id: record.id, spec: record.spec, createdAt: record.createdAt }),
    );
  }
  await writeFile(join(config.stateDir, STATE_FILE_NAME), JSON.stringify({ version: STATE_VERSION, volumes }));
  const plugin = await startPlugin(config, pino({ level: 'silent' }));
  await plugin.recovered;
  try {
    const sample = async (n: number, call: (i: number) => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) times.push(await timeMs(() => call(i)));
      return times;
    };
    const activate = await sample(500, () => callSocket(config.socket, 'Plugin.Activate', ''));
    const get = await sample(1000, (i) => callSocket(config.socket, 'VolumeDriver.Get', { Name: `vol-${(i * 7919) % count}` }));
    const list = await sample(30, () => callSocket(config.socket, 'VolumeDriver.List', {}));
    return {
      volumes: count,
      activateMs: percentile(activate, 50),
      getMs: percentile(get, 50),
      getP99Ms: percentile(get, 99),
      listMs: percentile(list, 50),
    };
  } finally {
    await plugin.stop();
  }
}
