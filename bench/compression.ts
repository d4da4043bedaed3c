import { mkdir, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeTextCorpus } from '../test/helpers/corpus.js';
import { startTestPlugin } from '../test/helpers/plugin.js';
import { measureCompression } from '../src/system/compsize.js';
import { timeMs } from './stats.js';

export interface CopyResult {
  readonly writeMBps: number;
  readonly readMBps: number;
  /** Stored bytes / logical bytes (1 when nothing compresses). */
  readonly storedRatio: number;
}

const CORPUS_MIB = 512;

async function dropCaches(): Promise<void> {
  await execa('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
}

async function readAll(file: string): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) void chunk;
}

/** Buffered copy of the corpus in (with sync), cold read back, and compsize on btrfs. */
export async function copyInAndOut(corpus: string, dir: string, btrfs: boolean): Promise<CopyResult> {
  const target = join(dir, 'corpus.txt');
  await dropCaches();
  const writeMs = await timeMs(async () => {
    await execa('cp', [corpus, target]);
    await execa('sync', ['-f', target]);
  });
  await dropCaches();
  const readMs = await timeMs(() => readAll(target));
  const usage = btrfs ? await measureCompression(dir, 60_000) : undefined;
  const bytes = CORPUS_MIB * 1024 ** 2;
  return {
    writeMBps: bytes / 1e6 / (writeMs / 1000),
    readMBps: bytes / 1e6 / (readMs / 1000),
    storedRatio: usage ? usage.storedBytes / usage.logicalBytes : 1,
  };
}

export async function makeCorpus(root: string): Promise<string> {
  const corpus = join(root, 'corpus.txt');
  await writeTextCorpus(corpus, CORPUS_MIB * 1024 ** 2);
  return corpus;
}

export async function bareBtrfs(root: string, corpus: string, compression: string): Promise<CopyResult> {
  const image = join(root, 'btrfs.img');
  const mnt = join(root, 'btrfs');
  await mkdir(mnt, { recursive: true });
  await execa('truncate', ['-s', '2G', image]);
  await execa('mkfs.btrfs', ['-q', '-f', '-K', image]);
  const { stdout: loop } = await execa('losetup', ['-f', '--show', '--direct-io=on', image]);
  await execa('mount', ['-o', `compress=${compression}`, loop, mnt]);
  try {
    return await copyInAndOut(corpus, mnt, true);
  } finally {
    await execa('umount', [mnt]);
    await execa('losetup', ['-d', loop]);
    await execa('rm', ['-f', image]);
  }
}

export async function volumeCopy(corpus: string, opts: Record<string, string>): Promise<CopyResult> {
  const fx = await startTestPlugin('bench-copy');
  try {
    await fx.call('VolumeDriver.Create', { Name: 'c', Opts: { size: '2G', ...opts } });
    const mount = await fx.call('VolumeDriver.Mount', { Name: 'c', ID: 'bench' });
    const mountpoint = String(mount.body['Mountpoint']);
    const result = await copyInAndOut(corpus, mountpoint, opts['type'] === 'compressed');
    await fx.call('VolumeDriver.Unmount', { Name: 'c', ID: 'bench' });
    await fx.call('VolumeDriver.Remove', { Name: 'c' });
    return result;
  } finally {
    await fx.close();
  }
}
