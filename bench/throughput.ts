import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { runFio, type FioResult } from './fio.js';
import { startTestPlugin } from '../test/helpers/plugin.js';

export async function rawDisk(root: string): Promise<FioResult> {
  const dir = join(root, 'raw');
  await mkdir(dir, { recursive: true });
  return runFio(dir);
}

/** ext4 on a bare loop device (direct I/O), set up by hand: the floor for any loop-backed volume. */
export async function bareLoopExt4(root: string): Promise<FioResult> {
  const image = join(root, 'bare.img');
  const mnt = join(root, 'bare');
  await mkdir(mnt, { recursive: true });
  await execa('truncate', ['-s', '2G', image]);
  await execa('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', image]);
  const { stdout: loop } = await execa('losetup', ['-f', '--show', '--direct-io=on', image]);
  await execa('mount', [loop, mnt]);
  try {
    return await runFio(mnt);
  } finally {
    await execa('umount', [mnt]);
    await execa('losetup', ['-d', loop]);
  }
}

export async function pluginVolume(fs: 'ext4' | 'xfs'): Promise<FioResult> {
  const fx = await startTestPlugin(`bench-${fs}`);
  try {
    await fx.call('VolumeDriver.Create', { Name: 'bench', Opts: { size: '2G', fs } });
    const mount = await fx.call('VolumeDriver.Mount', { Name: 'bench', ID: 'bench' });
    const result = await runFio(String(mount.body['Mountpoint']));
    await fx.call('VolumeDriver.Unmount', { Name: 'bench', ID: 'bench' });
    await fx.call('VolumeDriver.Remove', { Name: 'bench' });
    return result;
  } finally {
    await fx.close();
  }
}
