import { execa } from 'execa';

export interface FioResult {
  readonly seqWriteMBps: number;
  readonly seqReadMBps: number;
  readonly randWrite4kIops: number;
}

interface FioJson {
  jobs: Array<{ read: { bw_bytes: number; iops: number }; write: { bw_bytes: number; iops: number } }>;
}

async function fio(dir: string, name: string, args: string[]): Promise<FioJson['jobs'][number]> {
  const { stdout } = await execa(
    'fio',
    [`--name=${name}`, `--directory=${dir}`, '--direct=1', '--ioengine=libaio', '--output-format=json', '--group_reporting', ...args],
    { timeout: 300_000 },
  );
  const job = (JSON.parse(stdout) as FioJson).jobs[0];
  if (!job) throw new Error(`fio ${name}: no result`);
  return job;
}

/** Sequential 1 MiB write and read (QD16) and 4 KiB random write (QD1), all O_DIRECT. */
export async function runFio(dir: string, sizeMiB = 512): Promise<FioResult> {
  const size = `--size=${sizeMiB}M`;
  const write = await fio(dir, 'seqwrite', ['--rw=write', '--bs=1M', '--iodepth=16', size, '--end_fsync=1']);
  const read = await fio(dir, 'seqwrite', ['--rw=read', '--bs=1M', '--iodepth=16', size]);
  const rand = await fio(dir, 'randwrite', ['--rw=randwrite', '--bs=4k', '--iodepth=1', '--size=128M', '--time_based', '--runtime=5']);
  await execa('rm', ['-f', `${dir}/seqwrite.0.0`, `${dir}/randwrite.0.0`]);
  return {
    seqWriteMBps: write.write.bw_bytes / 1e6,
    seqReadMBps: read.read.bw_bytes / 1e6,
    randWrite4kIops: rand.write.iops,
  };
}
