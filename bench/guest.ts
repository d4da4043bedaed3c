// The encrypted-volume benchmark. Runs inside the QEMU guest (make bench does
// that: this host's kernel has no dm-crypt); under TCG emulation the absolute
// numbers are far below real hardware, so read the ratios.
import { execa } from 'execa';
import { runFio, type FioResult } from './fio.js';
import { startTestPlugin, type PluginFixture } from '../test/helpers/plugin.js';
import { fmt, percentile, ratio, table, timeMs } from './stats.js';

async function volumeFio(fx: PluginFixture, name: string, opts: Record<string, string>): Promise<FioResult> {
  await fx.call('VolumeDriver.Create', { Name: name, Opts: opts });
  const mount = await fx.call('VolumeDriver.Mount', { Name: name, ID: 'bench' });
  const result = await runFio(String(mount.body['Mountpoint']), 256);
  await fx.call('VolumeDriver.Unmount', { Name: name, ID: 'bench' });
  await fx.call('VolumeDriver.Remove', { Name: name });
  return result;
}

async function createMountMs(fx: PluginFixture, opts: Record<string, string>, rounds: number): Promise<{ create: number; mount: number }> {
  const creates: number[] = [];
  const mounts: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const name = `lat-${opts['type']}-${i}`;
    creates.push(await timeMs(() => fx.call('VolumeDriver.Create', { Name: name, Opts: opts })));
    mounts.push(await timeMs(() => fx.call('VolumeDriver.Mount', { Name: name, ID: 'x' })));
    await fx.call('VolumeDriver.Unmount', { Name: name, ID: 'x' });
    await fx.call('VolumeDriver.Remove', { Name: name });
  }
  return { create: percentile(creates, 50), mount: percentile(mounts, 50) };
}

// `cryptsetup benchmark` measures the kernel cipher in memory (no disk): the
// ceiling for any dm-crypt volume on this CPU.
async function cipherCeiling(): Promise<{ encMBps: number; decMBps: number }> {
  const { stdout } = await execa('cryptsetup', ['benchmark', '--cipher', 'aes-xts-plain64', '--key-size', '512'], { timeout: 120_000 });
  const match = /aes-xts\s+512b\s+([\d.]+)\s+MiB\/s\s+([\d.]+)\s+MiB\/s/.exec(stdout);
  if (!match) throw new Error(`cannot read cryptsetup benchmark output:\n${stdout}`);
  return { encMBps: Number(match[1]) * 1.048576, decMBps: Number(match[2]) * 1.048576 };
}

async function main(): Promise<void> {
  const { stdout: kernel } = await execa('uname', ['-r']);
  console.log(`encrypted volumes, in a QEMU guest (kernel ${kernel}; EMULATED, absolute numbers are not this hardware's)…`);
  const ceiling = await cipherCeiling();
  const fx = await startTestPlugin('bench-guest');
  try {
    const plain = await volumeFio(fx, 'plain', { size: '1G' });
    const encrypted = await volumeFio(fx, 'encrypted', { type: 'encrypted', size: '1G' });
    console.log(
      `\n${table(
        [
          'volume (emulated)',
          'seq write MB/s',
          'vs plain',
          'vs cipher ceiling',
          'seq read MB/s',
          'vs plain',
          'vs cipher ceiling',
          '4k rand write IOPS',
          'vs plain',
        ],
        [
          [
            'aes-xts-512 in memory (cryptsetup benchmark)',
            fmt(ceiling.encMBps, 0),
            '',
            '1.00x',
            fmt(ceiling.decMBps, 0),
            '',
            '1.00x',
            '',
            '',
          ],
          [
            'plain ext4',
            fmt(plain.seqWriteMBps, 0),
            '1.00x',
            ratio(plain.seqWriteMBps, ceiling.encMBps),
            fmt(plain.seqReadMBps, 0),
            '1.00x',
            ratio(plain.seqReadMBps, ceiling.decMBps),
            fmt(plain.randWrite4kIops, 0),
            '1.00x',
          ],
          [
            'encrypted ext4 (LUKS2 aes-xts-plain64)',
            fmt(encrypted.seqWriteMBps, 0),
            ratio(encrypted.seqWriteMBps, plain.seqWriteMBps),
            ratio(encrypted.seqWriteMBps, ceiling.encMBps),
            fmt(encrypted.seqReadMBps, 0),
            ratio(encrypted.seqReadMBps, plain.seqReadMBps),
            ratio(encrypted.seqReadMBps, ceiling.decMBps),
            fmt(encrypted.randWrite4kIops, 0),
            ratio(encrypted.randWrite4kIops, plain.randWrite4kIops),
          ],
        ],
      )}`,
    );
    const plainLat = await createMountMs(fx, { type: 'plain', size: '1G' }, 5);
    const encLat = await createMountMs(fx, { type: 'encrypted', size: '1G' }, 5);
    console.log(
      `\n${table(
        ['latency, median of 5 (emulated)', 'Create ms', 'vs plain', 'first Mount ms', 'vs plain'],
        [
          ['plain 1G', fmt(plainLat.create), '1.00x', fmt(plainLat.mount), '1.00x'],
          [
            'encrypted 1G (generated key, pbkdf2 1000)',
            fmt(encLat.create),
            ratio(encLat.create, plainLat.create),
            fmt(encLat.mount),
            ratio(encLat.mount, plainLat.mount),
          ],
        ],
      )}`,
    );
  } finally {
    await fx.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
