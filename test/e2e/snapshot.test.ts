import test from 'ava';
import { writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { runCli } from '../helpers/cli.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { removeContainer, runDetached, runOnce } from '../helpers/containers.js';
import { callSocket } from '../helpers/plugin.js';
import { CHECK_MS, waitFor } from '../helpers/wait.js';
import { composeProject } from '../helpers/compose.js';

// Snapshots and clones through the real plugin process and a real dockerd:
// taken while a container writes, restored once it stopped, cloned by the
// CLI, by -o from= and from compose; every copy independent of its source.

usePluginAndDockerd('snapshot');

const cli = (args: string[]) => runCli(['--socket', plugin.socket, ...args], { timeout: 300_000 });
const create = (name: string, options: string[]) => dockerd.docker(['volume', 'create', '-d', plugin.driver, ...options, name]);
// 8 MiB of random bytes and its checksum: what a snapshot must bring back.
const WRITE_V1 =
  'head -c 8388608 /dev/urandom > /d/blob && sha256sum /d/blob | cut -d" " -f1 > /d/blob.sum && echo v1 > /d/version && sync';
const READ = 'cat /d/version; sha256sum /d/blob | cut -d" " -f1; cat /d/blob.sum';

const CASES: Array<[string, string[]]> = [
  ['ext4', ['-o', 'size=64M']],
  ['xfs', ['-o', 'size=320M', '-o', 'fs=xfs']],
  ['compressed', ['-o', 'size=160M', '-o', 'type=compressed']],
];

for (const [label, options] of CASES) {
  test.serial(`${label}: a snapshot taken while a container writes is restored once it stopped; the old bytes come back`, async (t) => {
    const volume = `snap-${label}`;
    await create(volume, options);
    await runOnce(dockerd, [`${volume}:/d`], WRITE_V1);
    const c = await runDetached(dockerd, [`${volume}:/d`], 'i=0; while true; do i=$((i+1)); echo $i > /d/n; sleep 0.02; done');
    t.teardown(() => removeContainer(dockerd, c));
    const taken = await cli(['--json', 'snapshot', volume, 'before']);
    t.is(taken.exitCode, 0, taken.stderr);
    t.like(JSON.parse(taken.stdout), { name: 'before', consistency: 'frozen', method: 'copy' });
    // Writes go on after the snapshot (the filesystem was thawed).
    const n = await dockerd.docker(['exec', c, 'cat', '/d/n']);
    const later = await waitFor(
      'the container to write on',
      async () => (await dockerd.docker(['exec', c, 'cat', '/d/n'])).stdout,
      (value) => value !== n.stdout,
      CHECK_MS,
    );
    t.not(later, n.stdout, 'the container writes on');
    await dockerd.docker(['exec', c, 'sh', '-c', 'echo v2 > /d/version; head -c 1048576 /dev/urandom > /d/blob']);

    const refused = await cli(['restore', volume, 'before']);
    t.is(refused.exitCode, 1);
    t.regex(refused.stderr, new RegExp(`volume "${volume}": is mounted by 1 container; a restore replaces the data under them.*Stop them`));
    t.is((await runOnce(dockerd, [`${volume}:/d`], 'cat /d/version')).trim(), 'v2', 'nothing restored');

    await removeContainer(dockerd, c);
    const restored = await cli(['restore', volume, 'before']);
    t.is(restored.exitCode, 0, restored.stderr);
    const [version, sum, recorded] = (await runOnce(dockerd, [`${volume}:/d`], READ)).trim().split('\n');
    t.is(version, 'v1');
    t.is(sum, recorded, 'the 8 MiB written before the snapshot are back, byte for byte');

    const listed = await cli(['--json', 'snapshots', volume]);
    t.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ name: string }>).map((s) => s.name),
      ['before'],
    );
    t.is((await cli(['snapshot', 'rm', volume, 'before'])).exitCode, 0);
    t.deepEqual(JSON.parse((await cli(['--json', 'snapshots', volume])).stdout), []);
    await dockerd.docker(['volume', 'rm', volume]);
    t.deepEqual(await mountsUnder(plugin.root), []);
    t.deepEqual(await loopsUnder(plugin.root), []);
  });
}

test.serial(
  'a clone is independent of its source, both mounted at once (ext4 and btrfs get new UUIDs, xfs mounts nouuid); -o from=SRC@SNAP',
  async (t) => {
    for (const [label, options] of CASES) {
      const source = `origin-${label}`;
      await create(source, options);
      await runOnce(dockerd, [`${source}:/d`], WRITE_V1);
      t.is((await cli(['snapshot', source, 's1'])).exitCode, 0);
      await runOnce(dockerd, [`${source}:/d`], 'echo v2 > /d/version');
      // Cloned while a container has the source mounted and writes to it.
      const writer = await runDetached(dockerd, [`${source}:/d`], 'while true; do date > /d/clock; sleep 0.02; done');
      const cloned = await cli(['clone', source, `copy-${label}`]);
      t.is(cloned.exitCode, 0, cloned.stderr);
      t.is(cloned.stdout, `copy-${label}: created from ${source}`);
      await create(`past-${label}`, ['-o', `from=${source}@s1`]);
      await removeContainer(dockerd, writer);

      const both = await runOnce(
        dockerd,
        [`${source}:/a`, `copy-${label}:/b`, `past-${label}:/c`],
        'echo changed > /b/version; rm /b/blob; cat /a/version /b/version /c/version; ls /a/blob; sha256sum /c/blob | cut -d" " -f1; cat /c/blob.sum',
      );
      const [a, b, c, kept, sum, recorded] = both.trim().split('\n');
      t.deepEqual([a, b, c, kept], ['v2', 'changed', 'v1', '/a/blob'], `${label}: the copies are their own`);
      t.is(sum, recorded, `${label}: the clone of the snapshot holds its bytes`);
      const inspect = JSON.parse((await dockerd.docker(['volume', 'inspect', '-f', '{{json .Status}}', `copy-${label}`])).stdout) as Record<
        string,
        unknown
      >;
      const original = JSON.parse((await dockerd.docker(['volume', 'inspect', '-f', '{{json .Status}}', source])).stdout) as Record<
        string,
        unknown
      >;
      t.is(inspect['type'], original['type']);
      t.is(inspect['sizeBytes'], original['sizeBytes']);
      // Removing the source leaves the copies whole.
      await dockerd.docker(['volume', 'rm', source]);
      t.is((await runOnce(dockerd, [`copy-${label}:/b`], 'cat /b/version')).trim(), 'changed');
      await dockerd.docker(['volume', 'rm', `copy-${label}`, `past-${label}`]);
    }
    t.deepEqual(await mountsUnder(plugin.root), []);
    t.deepEqual(await loopsUnder(plugin.root), []);
  },
);

test.serial('a clone with Progress: NDJSON lines of bytes copied, then the answer as the last line', async (t) => {
  await create('big', ['-o', 'size=512M']);
  await runOnce(dockerd, ['big:/d'], 'head -c 200000000 /dev/urandom > /d/blob');
  const reply = await callSocket(plugin.socket, 'Custom.Clone', { Name: 'big', Target: 'big-copy', Progress: true });
  const lines = reply.raw
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(lines.at(-1), { Err: '' });
  const steps = lines.slice(0, -1);
  t.true(steps.length >= 1, reply.raw);
  const final = steps.at(-1)!;
  t.is(final['CopiedBytes'], final['TotalBytes'], 'the last step is the whole copy');
  t.true(Number(final['TotalBytes']) > 190_000_000);
  t.true(
    steps.every((step, i) => i === 0 || Number(step['CopiedBytes']) >= Number(steps[i - 1]!['CopiedBytes'])),
    'it only grows',
  );
  const refused = await callSocket(plugin.socket, 'Custom.Clone', { Name: 'big', Target: 'big-copy', Progress: true });
  t.deepEqual(JSON.parse(refused.raw.trim().split('\n').at(-1)!), {
    Err: 'volume "big-copy": already exists; pick another name for the copy, or remove it first',
  });
  await dockerd.docker(['volume', 'rm', 'big', 'big-copy']);
});

test.serial('compose: a service volume made with driver_opts from: another volume', async (t) => {
  await create('seed', ['-o', 'size=64M']);
  await runOnce(dockerd, ['seed:/d'], 'echo seeded > /d/f');
  const compose = await composeProject(dockerd, join(plugin.root, 'compose-from'), 'fromseed', {
    command: 'cat /d/f && echo more >> /d/f',
    mounts: ['work:/d'],
    driver: plugin.driver,
    volumes: { work: { from: 'seed' } },
  });
  const up = await compose(['up', '--no-color']);
  t.is(up.exitCode, 0, up.stderr);
  t.regex(up.stdout, /seeded/);
  t.is((await runOnce(dockerd, ['seed:/d'], 'cat /d/f')).trim(), 'seeded', 'the source is untouched');
  t.is((await compose(['down', '-v'])).exitCode, 0);
  await dockerd.docker(['volume', 'rm', 'seed']);
});

test.serial('bad input: clear errors naming the volume and the fix, nothing left behind', async (t) => {
  await create('kept', ['-o', 'size=64M']);
  const bad = await cli(['snapshot', 'kept', '../escape']);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /volume "kept": snapshot name "..\/escape" is not valid/);
  t.regex(
    (await cli(['restore', 'kept', 'nosuch'])).stderr,
    /volume "kept": could not restore snapshot nosuch .*has no snapshot named "nosuch"/,
  );
  t.regex((await cli(['snapshot', 'nosuch'])).stderr, /volume "nosuch": no such volume/);
  t.is((await cli(['snapshot', 'kept', 'one'])).exitCode, 0);
  t.regex((await cli(['snapshot', 'kept', 'one'])).stderr, /a snapshot named one exists already/);
  const noSource = await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'from=nosuch', 'orphan'], { reject: false });
  t.regex(noSource.stderr, /volume "orphan": from=nosuch: no such volume on this host/);
  const extra = await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'from=kept', '-o', 'size=1G', 'sized'], {
    reject: false,
  });
  t.regex(
    extra.stderr,
    /volume "sized": with from=kept the new volume takes the source's type, size and options, so -o size cannot be given/,
  );
  const noSnap = await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'from=kept@nosuch', 'ghost'], { reject: false });
  t.regex(noSnap.stderr, /volume "ghost": could not be copied from kept: has no snapshot named "nosuch"/);
  t.regex((await cli(['clone', 'kept', 'kept'])).stderr, /volume "kept": from= names the volume itself/);
  await create('other', ['-o', 'size=64M']);
  t.regex((await cli(['clone', 'kept', 'other'])).stderr, /volume "other": already exists; pick another name for the copy/);
  await dockerd.docker(['volume', 'rm', 'other']);
  // Nothing of the refused volumes is on disk.
  const left = await readdir(join(plugin.stateDir, 'volumes'));
  t.deepEqual(
    left.filter((entry) => /^(orphan|sized|ghost|other)-/.test(entry)),
    [],
  );
  t.is((await cli(['snapshot', 'rm', 'kept', 'one'])).exitCode, 0);
  await dockerd.docker(['volume', 'rm', 'kept']);
  t.deepEqual(await loopsUnder(plugin.root), []);
});

test.serial('a plugin killed with a filesystem frozen for a snapshot thaws it at its next start', async (t) => {
  await create('frozen', ['-o', 'size=64M']);
  const c = await runDetached(dockerd, ['frozen:/d'], 'sleep 600');
  t.teardown(() => removeContainer(dockerd, c));
  const mountRoot = (await mountsUnder(plugin.mountDir))[0];
  t.truthy(mountRoot);
  // What a SIGKILL between the freeze and the thaw leaves: the marker, and the filesystem frozen.
  const dir = join(
    plugin.stateDir,
    'volumes',
    (await readdir(join(plugin.stateDir, 'volumes'))).find((entry) => !entry.startsWith('.'))!,
  );
  await writeFile(join(dir, '.frozen'), mountRoot!);
  await execa('fsfreeze', ['--freeze', mountRoot!]);
  // Whatever happens below: a filesystem left frozen blocks its writers until the host reboots.
  t.teardown(() => execa('fsfreeze', ['--unfreeze', mountRoot!], { reject: false }).then(() => undefined));
  const blocked = dockerd.docker(['exec', c, 'sh', '-c', 'echo after > /d/f'], { reject: false });
  await plugin.kill('SIGKILL');
  await plugin.start();
  t.is((await blocked).exitCode, 0, 'the write blocked by the freeze went through');
  t.is((await runOnce(dockerd, ['frozen:/x'], 'cat /x/f')).trim(), 'after');
  await removeContainer(dockerd, c);
  await dockerd.docker(['volume', 'rm', 'frozen']);
  t.deepEqual(await loopsUnder(plugin.root), []);
});
