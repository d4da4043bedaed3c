// `make bench`: measures, in one run on this machine, plain volumes against
// the raw disk, ext4 on a bare loop device and Docker's local driver, and
// prints ratios. Not a test: nothing here passes or fails.
import { makeTempDir, removeTempDir } from '../test/helpers/temp.js';
import { scrubHost } from '../test/helpers/host.js';
import { bareLoopExt4, pluginVolume, rawDisk } from './throughput.js';
import { dockerLatency, stateLatency } from './latency.js';
import { bareBtrfs, makeCorpus, volumeCopy, type CopyResult } from './compression.js';
import { replicatedBench } from './replicated.js';
import { manyVolumes } from './leases.js';
import { day2Copies, day2Transfer } from './day2.js';
import { fmt, ratio, table } from './stats.js';

async function printReplicated(corpus: string): Promise<void> {
  console.log('\nmeasuring replicated volumes (replica 3 over three network-namespace hosts on this machine; same corpus)…');
  const rep = await replicatedBench(corpus);
  const copy = (label: string, r: CopyResult) => [
    label,
    fmt(r.writeMBps, 0),
    ratio(r.writeMBps, rep.bareGluster.writeMBps),
    ratio(r.writeMBps, rep.plain.writeMBps),
    fmt(r.readMBps, 0),
    ratio(r.readMBps, rep.bareGluster.readMBps),
    ratio(r.readMBps, rep.plain.readMBps),
  ];
  console.log(
    `\n${table(
      ['volume', 'write MB/s', 'vs bare GlusterFS', 'vs plain', 'read MB/s', 'vs bare GlusterFS', 'vs plain'],
      [
        copy('custom plain ext4', rep.plain),
        copy('bare GlusterFS replica 3 (mounted directly, no plugin)', rep.bareGluster),
        copy('bare GlusterFS replica 3 with quota on (the pool options)', rep.bareGlusterQuota),
        copy('custom replicated (pool directory, bound)', rep.replicated),
      ],
    )}`,
  );
  const [first] = rep.scale;
  console.log(
    `\n${table(
      [
        'replicated volumes',
        'brick RSS MiB (3 hosts)',
        'MiB per volume',
        'added per volume since 10',
        'Create+Mount median ms',
        'vs plain',
        'List on a peer ms',
      ],
      rep.scale.map((point) => [
        String(point.volumes),
        fmt(point.brickRssMiB, 0),
        fmt(point.brickRssMiB / point.volumes, 2),
        first && point.volumes > first.volumes
          ? `${fmt(((point.brickRssMiB - first.brickRssMiB) * 1024) / (point.volumes - first.volumes), 0)} KiB`
          : '',
        fmt(point.createMountMs),
        ratio(point.createMountMs, rep.plainCreateMountMs),
        fmt(point.listMs),
      ]),
    )}`,
  );
  console.log('(the layout before the pool: three brick processes per volume, about 55 MiB per volume)');
}

async function printDay2(root: string, corpus: string): Promise<void> {
  console.log('\nmeasuring day-2 operations (1 GiB plain ext4 volume holding the 512 MiB corpus)…');
  const copies = await day2Copies(root, corpus);
  console.log(
    `\n${table(
      ['data directory on', 'method', 'snapshot (mounted) ms', 'clone ms'],
      copies.map((c) => [c.host, c.method, fmt(c.snapshotMs, 0), fmt(c.cloneMs, 0)]),
    )}`,
  );
  const t = await day2Transfer(root, corpus);
  console.log(
    `\n${table(
      ['transfer', 'MB/s', 'vs tar alone'],
      [
        ['custom-volume export (to a file)', fmt(t.exportMBps, 0), ratio(t.exportMBps, t.tarCreateMBps)],
        ['tar --create (same files)', fmt(t.tarCreateMBps, 0), '1.00x'],
        ['custom-volume import (from the file)', fmt(t.importMBps, 0), ratio(t.importMBps, t.tarExtractMBps)],
        ['tar --extract + sync (same files)', fmt(t.tarExtractMBps, 0), '1.00x'],
      ],
    )}`,
  );
}

async function main(): Promise<void> {
  const root = await makeTempDir('bench');
  try {
    // BENCH_ONLY=replicated: just that section (it takes ~15 min with 1 000 volumes).
    if (process.env['BENCH_ONLY'] === 'replicated') {
      await printReplicated(await makeCorpus(root));
      return;
    }
    if (process.env['BENCH_ONLY'] === 'day2') {
      await printDay2(root, await makeCorpus(root));
      return;
    }
    console.log('measuring throughput (fio, O_DIRECT, 512 MiB sequential, 5 s 4k random)…');
    const raw = await rawDisk(root);
    const bare = await bareLoopExt4(root);
    const plainExt4 = await pluginVolume('ext4');
    const plainXfs = await pluginVolume('xfs');
    const row = (label: string, r: typeof raw) => [
      label,
      fmt(r.seqWriteMBps, 0),
      ratio(r.seqWriteMBps, raw.seqWriteMBps),
      ratio(r.seqWriteMBps, bare.seqWriteMBps),
      fmt(r.seqReadMBps, 0),
      ratio(r.seqReadMBps, raw.seqReadMBps),
      ratio(r.seqReadMBps, bare.seqReadMBps),
      fmt(r.randWrite4kIops, 0),
      ratio(r.randWrite4kIops, raw.randWrite4kIops),
      ratio(r.randWrite4kIops, bare.randWrite4kIops),
    ];
    console.log(
      `\n${table(
        [
          'storage',
          'seq write MB/s',
          'vs raw',
          'vs bare loop',
          'seq read MB/s',
          'vs raw',
          'vs bare loop',
          '4k rand write IOPS',
          'vs raw',
          'vs bare loop',
        ],
        [
          row('raw disk (host fs)', raw),
          row('ext4 on bare loop', bare),
          row('custom plain ext4', plainExt4),
          row('custom plain xfs', plainXfs),
        ],
      )}`,
    );

    console.log('\nmeasuring compression (512 MiB text-like corpus: cp + sync in, cold read out, compsize)…');
    const corpus = await makeCorpus(root);
    const plainCopy = await volumeCopy(corpus, {});
    const bareZstd = await bareBtrfs(root, corpus, 'zstd:1');
    const zstd1 = await volumeCopy(corpus, { type: 'compressed' });
    const zstd3 = await volumeCopy(corpus, { type: 'compressed', compression: 'zstd:3' });
    const lzo = await volumeCopy(corpus, { type: 'compressed', compression: 'lzo' });
    const copyRow = (label: string, r: CopyResult) => [
      label,
      fmt(r.writeMBps, 0),
      ratio(r.writeMBps, plainCopy.writeMBps),
      ratio(r.writeMBps, bareZstd.writeMBps),
      fmt(r.readMBps, 0),
      ratio(r.readMBps, plainCopy.readMBps),
      ratio(r.readMBps, bareZstd.readMBps),
      fmt(r.storedRatio, 3),
    ];
    console.log(
      `\n${table(
        [
          'storage',
          'write MB/s',
          'vs plain vol',
          'vs bare btrfs zstd',
          'read MB/s',
          'vs plain vol',
          'vs bare btrfs zstd',
          'stored/logical',
        ],
        [
          copyRow('custom plain ext4', plainCopy),
          copyRow('btrfs zstd:1 on bare loop', bareZstd),
          copyRow('custom compressed zstd:1', zstd1),
          copyRow('custom compressed zstd:3', zstd3),
          copyRow('custom compressed lzo', lzo),
        ],
      )}`,
    );

    await printDay2(root, corpus);
    await printReplicated(corpus);

    console.log('\nmeasuring docker latency (median of 8, private dockerd)…');
    const docker = await dockerLatency();
    console.log(
      `\n${table(
        ['driver', 'volume create ms', 'vs local', 'run --rm -v (mount+unmount) ms', 'vs local'],
        [
          ['local', fmt(docker.local.createMs), '1.00x', fmt(docker.local.runMs), '1.00x'],
          [
            'custom plain 1G',
            fmt(docker.custom.createMs),
            ratio(docker.custom.createMs, docker.local.createMs),
            fmt(docker.custom.runMs),
            ratio(docker.custom.runMs, docker.local.runMs),
          ],
        ],
      )}`,
    );

    console.log('\nmeasuring 1 000 real volumes: docker volume create with the capacity check, and stale-lease release at start…');
    const many = await manyVolumes();
    console.log(
      `\n${table(
        ['with 1 000 volumes', 'ms', 'vs'],
        [
          ['docker volume create (local driver)', fmt(many.dockerCreateLocalMs), '1.00x'],
          [
            'docker volume create (custom, capacity check over 1 000 images)',
            fmt(many.dockerCreateMs),
            ratio(many.dockerCreateMs, many.dockerCreateLocalMs),
          ],
          [
            `start-up recovery releasing ${many.released} stale leases (unmount + detach each)`,
            fmt(many.staleReleaseMs),
            `${fmt(many.staleReleaseMs / Math.max(1, many.released), 1)} ms each`,
          ],
        ],
      )}`,
    );

    console.log('\nmeasuring Get/List with 10 000 volumes in state…');
    const state = await stateLatency(root);
    console.log(
      `\n${table(
        ['request (10 000 volumes)', 'median ms', 'vs Activate (no-op)'],
        [
          ['Plugin.Activate', fmt(state.activateMs, 2), '1.00x'],
          ['VolumeDriver.Get', fmt(state.getMs, 2), ratio(state.getMs, state.activateMs)],
          ['VolumeDriver.Get p99', fmt(state.getP99Ms, 2), ratio(state.getP99Ms, state.activateMs)],
          ['VolumeDriver.List', fmt(state.listMs, 2), ratio(state.listMs, state.activateMs)],
        ],
      )}`,
    );
  } finally {
    await scrubHost(root);
    await removeTempDir(root);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
