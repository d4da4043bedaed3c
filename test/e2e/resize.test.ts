import test from 'ava';
import { TEST_IMAGE } from '../helpers/dockerd.js';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { runCli } from '../helpers/cli.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { runDetached } from '../helpers/containers.js';
import { canGrowMountedExt4 } from '../../src/system/grow.js';
import { CHECK_MS, waitFor } from '../helpers/wait.js';

// custom-volume resize through the real plugin process while a container
// writes, with a real dockerd: df in the container shows the new size.

usePluginAndDockerd('resize');

const cli = (args: string[]) => runCli(['--socket', plugin.socket, ...args], { timeout: 120_000 });
const dfKiB = async (container: string) =>
  Number((await dockerd.docker(['exec', container, 'sh', '-c', 'df -k /d | tail -1'])).stdout.trim().split(/\s+/)[1]);
const written = async (container: string) =>
  Number((await dockerd.docker(['exec', container, 'sh', '-c', 'cat /d/n 2>/dev/null || echo 0'])).stdout);

const CASES: Array<[string, string[], number]> = [
  ['xfs', ['-o', 'size=320M', '-o', 'fs=xfs'], 320],
  ['btrfs', ['-o', 'size=160M', '-o', 'fs=btrfs'], 160],
  ['compressed', ['-o', 'size=160M', '-o', 'type=compressed'], 160],
];

for (const [label, options, mib] of CASES) {
  test.serial(`${label}: grown while a container writes; df in the container shows the new size`, async (t) => {
    const volume = `grow-${label}`;
    await dockerd.docker(['volume', 'create', '-d', plugin.driver, ...options, volume]);
    const c = await runDetached(
      dockerd,
      [`${volume}:/d`],
      'i=0; while true; do i=$((i+1)); dd if=/dev/zero of=/d/f$((i % 8)) bs=64k count=4 2>/dev/null; echo $i > /d/n; sleep 0.05; done',
    );
    t.teardown(() => dockerd.docker(['rm', '-f', c], { reject: false }).then(() => undefined));
    const before = await dfKiB(c);
    t.true(before <= mib * 1024, `df before: ${before} KiB`);
    const resized = await cli(['resize', volume, `${mib * 2}M`]);
    t.is(resized.exitCode, 0, resized.stderr);
    t.is(resized.stdout, `${volume}: ${mib} MiB → ${mib * 2} MiB`);
    const after = await dfKiB(c);
    t.true(after > before + mib * 1024 * 0.8, `df ${before} → ${after} KiB`);
    const n1 = await written(c);
    t.true(
      (await waitFor(
        'the container to write on',
        () => written(c),
        (n) => n > n1,
        CHECK_MS,
      )) > n1,
      'the container kept writing',
    );
    const status = JSON.parse((await dockerd.docker(['volume', 'inspect', '-f', '{{json .Status}}', volume])).stdout) as Record<
      string,
      unknown
    >;
    t.like(status, { size: `${mib * 2} MiB`, sizeBytes: mib * 2 * 1024 ** 2 });
    await dockerd.docker(['rm', '-f', c]);
    await dockerd.docker(['volume', 'rm', volume]);
    t.deepEqual(await mountsUnder(plugin.root), []);
  });
}

test.serial(
  'ext4 while a container writes: grown online where the plugin may (CAP_SYS_RESOURCE), else refused untouched; stopped, grown offline',
  async (t) => {
    await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', 'grow-ext4']);
    const c = (
      await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'grow-ext4:/d', TEST_IMAGE, 'sh', '-c', 'echo kept > /d/f; sleep 600'])
    ).stdout;
    t.teardown(() => dockerd.docker(['rm', '-f', c], { reject: false }).then(() => undefined));
    const before = await dfKiB(c);
    const online = await cli(['resize', 'grow-ext4', '128M']);
    if (await canGrowMountedExt4()) {
      t.is(online.exitCode, 0, online.stderr);
      t.true((await dfKiB(c)) > before + 50 * 1024);
    } else {
      t.is(online.exitCode, 1);
      t.regex(
        online.stderr,
        /volume "grow-ext4": could not be grown \(it is as it was\): is mounted, and growing a mounted ext4 needs CAP_SYS_RESOURCE/,
      );
      t.is(await dfKiB(c), before, 'nothing changed');
      await dockerd.docker(['rm', '-f', c]);
      const offline = await cli(['resize', 'grow-ext4', '128M']);
      t.is(offline.exitCode, 0, offline.stderr);
      t.deepEqual(await mountsUnder(plugin.root), [], 'grown offline, left unmounted');
    }
    const df = await dockerd.docker([
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      'grow-ext4:/d',
      TEST_IMAGE,
      'sh',
      '-c',
      'cat /d/f; df -k /d | tail -1',
    ]);
    const [kept, line] = df.stdout.split('\n');
    t.is(kept, 'kept');
    t.true(Number(line!.trim().split(/\s+/)[1]) > 100 * 1024, line);
    await dockerd.docker(['rm', '-f', c]);
    await dockerd.docker(['volume', 'rm', 'grow-ext4']);
  },
);

test.serial('resize refuses to shrink, names bad sizes, and grows an unmounted volume that stays unmounted', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', 'cold']);
  const shrink = await cli(['resize', 'cold', '32M']);
  t.is(shrink.exitCode, 1);
  t.regex(shrink.stderr, /volume "cold": is 64 MiB; shrinking to 32 MiB is refused .*Create a smaller volume and copy the data/);
  const bad = await cli(['resize', 'cold', 'big']);
  t.regex(bad.stderr, /volume "cold": size "big" is not a size/);
  t.is((await cli(['resize', 'nosuch', '1G'])).exitCode, 1);
  t.is((await cli(['resize', 'cold', '64M'])).stdout, 'cold: already 64 MiB');
  const grown = await cli(['--json', 'resize', 'cold', '1G']);
  t.deepEqual(JSON.parse(grown.stdout), { name: 'cold', fromBytes: 64 * 1024 ** 2, toBytes: 1024 ** 3, changed: true });
  t.deepEqual(await mountsUnder(plugin.root), [], 'unmounted again');
  t.deepEqual(await loopsUnder(plugin.root), []);
  const df = await dockerd.docker(['run', '--rm', '--network', 'none', '-v', 'cold:/d', TEST_IMAGE, 'sh', '-c', 'df -k /d | tail -1']);
  t.true(Number(df.stdout.trim().split(/\s+/)[1]) > 900 * 1024, df.stdout);
  await dockerd.docker(['volume', 'rm', 'cold']);
  // 1 GiB to 10 GiB while a container has it mounted: the number for the README.
  for (const fs of ['xfs', 'btrfs']) {
    await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=1G', '-o', `fs=${fs}`, `big-${fs}`]);
    const c = (await dockerd.docker(['run', '-d', '--network', 'none', '-v', `big-${fs}:/d`, TEST_IMAGE, 'sleep', '600'])).stdout;
    const started = Date.now();
    t.is((await cli(['resize', `big-${fs}`, '10G'])).exitCode, 0);
    t.log(`online resize 1 GiB → 10 GiB (${fs}, custom-volume included): ${Date.now() - started} ms`);
    t.true((await dfKiB(c)) > 9 * 1024 ** 2);
    await dockerd.docker(['rm', '-f', c]);
    await dockerd.docker(['volume', 'rm', `big-${fs}`]);
  }
});
