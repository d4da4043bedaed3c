import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startTestPlugin, type PluginFixture } from '../test/helpers/plugin.js';
import { timeMs } from './stats.js';
import { scrubHost } from '../test/helpers/host.js';

// Day-2 costs on a 1 GiB plain volume holding the 512 MiB corpus: snapshot
// and clone with the data directory on xfs (reflink) and on ext4 (copy);
// export and import through custom-volume against tar of the same files.

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const A = 'b'.repeat(64);

export interface Day2Result {
  readonly host: string;
  readonly method: string;
  readonly snapshotMs: number;
  readonly cloneMs: number;
}

export interface TransferResult {
  readonly exportMBps: number;
  readonly importMBps: number;
  readonly tarCreateMBps: number;
  readonly tarExtractMBps: number;
}

async function dropCaches(): Promise<void> {
  await execa('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
}

async function call(fx: PluginFixture, method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const reply = await fx.call(method, body);
  if (reply.body['Err'] !== '') throw new Error(`${method}: ${String(reply.body['Err'])}`);
  return reply.body;
}

async function filled(fx: PluginFixture, name: string, corpus: string): Promise<string> {
  await call(fx, 'VolumeDriver.Create', { Name: name, Opts: { size: '1G' } });
  const mountpoint = String((await call(fx, 'VolumeDriver.Mount', { Name: name, ID: A }))['Mountpoint']);
  await execa('cp', [corpus, join(mountpoint, 'corpus.txt')]);
  await execa('sync', ['-f', join(mountpoint, 'corpus.txt')]);
  return mountpoint;
}

/** Snapshot (while mounted) and clone of the volume, its data directory on `host`'s filesystem. */
async function copies(root: string, corpus: string, host: 'xfs' | 'ext4'): Promise<Day2Result> {
  let dataDir: string | undefined;
  if (host === 'xfs') {
    const image = join(root, 'xfs-host.img');
    dataDir = join(root, 'xfs-host');
    await mkdir(dataDir, { recursive: true });
    await execa('truncate', ['-s', '4G', image]);
    await execa('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', image]);
    await execa('mount', ['-o', 'loop', image, dataDir]);
  }
  const fx = await startTestPlugin(`bench-day2-${host}`, undefined, dataDir ? { dataDir: join(dataDir, 'volumes') } : {});
  try {
    await filled(fx, 'vol', corpus);
    let method = '';
    const snapshotMs = await timeMs(async () => {
      method = String(((await call(fx, 'Custom.Snapshot', { Name: 'vol', Snapshot: 's' }))['Snapshot'] as { method: string }).method);
    });
    const cloneMs = await timeMs(() => call(fx, 'Custom.Clone', { Name: 'vol', Target: 'copy' }));
    return { host, method, snapshotMs, cloneMs };
  } finally {
    await fx.close();
    if (dataDir) {
      await scrubHost(dataDir);
      await execa('umount', [dataDir], { reject: false });
    }
  }
}

export async function day2Copies(root: string, corpus: string): Promise<Day2Result[]> {
  return [await copies(root, corpus, 'xfs'), await copies(root, corpus, 'ext4')];
}

/** custom-volume export to a file and import from it, against tar -c and tar -x of the same files. */
export async function day2Transfer(root: string, corpus: string): Promise<TransferResult> {
  const fx = await startTestPlugin('bench-day2-transfer');
  const mib = 512;
  try {
    const source = await filled(fx, 'src', corpus);
    await call(fx, 'VolumeDriver.Unmount', { Name: 'src', ID: A });
    const file = join(root, 'export.tar');
    const cli = (args: string[]) => execa(process.execPath, [CLI, '--socket', fx.config.socket, ...args]);
    await dropCaches();
    const exportMs = await timeMs(() => cli(['export', 'src', file]));
    await call(fx, 'VolumeDriver.Create', { Name: 'dst', Opts: { size: '1G' } });
    await dropCaches();
    const importMs = await timeMs(() => cli(['import', 'dst', file]));
    // The baselines, on the same (mounted) volumes: tar alone, no seal, no socket.
    await call(fx, 'VolumeDriver.Mount', { Name: 'src', ID: A });
    const plainTar = join(root, 'plain.tar');
    await dropCaches();
    const tarCreateMs = await timeMs(() => execa('tar', ['--create', '--file', plainTar, '--directory', source, '.']));
    await call(fx, 'VolumeDriver.Create', { Name: 'dst2', Opts: { size: '1G' } });
    const target = String((await call(fx, 'VolumeDriver.Mount', { Name: 'dst2', ID: A }))['Mountpoint']);
    await dropCaches();
    const tarExtractMs = await timeMs(async () => {
      await execa('tar', ['--extract', '--file', plainTar, '--directory', target]);
      await execa('sync', ['-f', target]);
    });
    const rate = (ms: number) => (mib / ms) * 1000 * 1.048576;
    return { exportMBps: rate(exportMs), importMBps: rate(importMs), tarCreateMBps: rate(tarCreateMs), tarExtractMBps: rate(tarExtractMs) };
  } finally {
    await fx.close();
  }
}
