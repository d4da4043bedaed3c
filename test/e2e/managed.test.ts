import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDockerd, TEST_IMAGE, type Dockerd } from '../helpers/dockerd.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { leftOnHost, loopsUnder, mountsUnder, nothingLeft, scrubHost, volumeFiles } from '../helpers/host.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { callSocket } from '../helpers/plugin.js';
import { CHECK_MS, hasLiveStatus, LIVE_STATUS_MS, outlive, RELEASED_MS, waitFor } from '../helpers/wait.js';
import { CLI, runCli } from '../helpers/cli.js';
import { inspectVolume, runDetached } from '../helpers/containers.js';
import {
  killManagedPlugin,
  managedPluginPids,
  managedScript,
  propagatedMount as propagatedMountOf,
  requireBundle,
} from '../helpers/managed-plugin.js';

// The plugin as users meet it, driven through the same script as make
// plugin/push/install/upgrade: create + enable from plugin-rootfs, push to and
// install from a registry, SIGKILLed and restarted by the daemon, upgraded.
// Needs `make plugin-rootfs` first (make test does it).
const NAME = 'customtest';

let dockerd: Dockerd;
let registry: Registry;
let state: string;
let kek: string;

test.before(async () => {
  requireBundle();
  state = await makeTempDir('managed-state');
  kek = await makeTempDir('managed-kek');
  dockerd = await startDockerd('managed');
  registry = await startRegistry();
});
test.after.always(async () => {
  if (dockerd) {
    for (const id of (await dockerd.docker(['plugin', 'ls', '-q'], { reject: false })).stdout.split('\n').filter(Boolean)) {
      await dockerd.docker(['plugin', 'rm', '-f', id], { reject: false });
    }
    await dockerd.stop();
  }
  await registry?.stop();
  if (state) {
    await scrubHost(state);
    await removeTempDir(state);
  }
  if (kek) {
    await execa('umount', [kek], { reject: false });
    await removeTempDir(kek);
  }
});

const script = (command: string, tag = 'latest') =>
  managedScript(dockerd, command, { name: NAME, tag, registry: registry.address, state, kek });

const cli = (args: string[]) => runCli(['--plugin', NAME, ...args], { env: { DOCKER_HOST: dockerd.host }, timeout: 60_000 });
const run = (args: string[]) => dockerd.docker(['run', '--rm', '--network', 'none', ...args]);
const statusOf = (volume: string) => inspectVolume(dockerd, volume);
const propagatedMount = () => propagatedMountOf(dockerd, NAME);

test.serial('make plugin: create + enable from plugin-rootfs; plain and compressed volumes; data in propagated-mount', async (t) => {
  const started = Date.now();
  t.regex(await script('create'), /enabled/);
  t.log(`create + enable: ${Date.now() - started} ms`);

  await dockerd.docker(['volume', 'create', '-d', NAME, '-o', 'size=64M', 'plainvol']);
  await run(['-v', 'plainvol:/d', TEST_IMAGE, 'sh', '-c', 'echo managed > /d/f']);
  t.is((await run(['-v', 'plainvol:/d', TEST_IMAGE, 'cat', '/d/f'])).stdout, 'managed');
  const plain = await statusOf('plainvol');
  t.like(plain.Status, { type: 'plain', size: '64 MiB', mounted: false });
  t.true(plain.Mountpoint.startsWith('/mnt/volumes/'), plain.Mountpoint);
  t.true(existsSync(join(state, 'state.json')), 'state lives on the settable host mount');
  // -o sparse=false runs fallocate inside the plugin's rootfs.
  await dockerd.docker(['volume', 'create', '-d', NAME, '-o', 'size=32M', '-o', 'sparse=false', 'prealloc']);
  // allocatedBytes is live status (a stat of the image, within Get's 2 s).
  const prealloc = await waitFor(
    'live status of "prealloc"',
    () => statusOf('prealloc'),
    (v) => hasLiveStatus(v.Status),
    LIVE_STATUS_MS,
    { every: 500 },
  );
  t.true(Number(prealloc.Status['allocatedBytes']) >= 32 * 1024 ** 2);
  await dockerd.docker(['volume', 'rm', 'prealloc']);

  await dockerd.docker(['volume', 'create', '-d', NAME, '-o', 'type=compressed', '-o', 'size=256M', 'zvol']);
  const c = await runDetached(dockerd, ['zvol:/d'], 'seq 1 1000000 > /d/n; sync; sleep 600');
  const hostView = join(await propagatedMount(), (await statusOf('zvol')).Mountpoint.slice('/mnt/volumes/'.length));
  // The container's seq, then its sync: read from the host until the last line is there.
  const numbers = await waitFor(
    'the container to write 1000000 lines',
    async () => (await readFile(join(hostView, 'n'), 'utf8')).split('\n'),
    (lines) => lines[999_999] === '1000000',
    CHECK_MS,
    { every: 500 },
  );
  // The ratio is live status: compsize within Get's 2 s (a slow one is served from its last measurement and refreshed).
  const zvol = await waitFor(
    'live status of "zvol" with its ratio',
    () => statusOf('zvol'),
    (v) => hasLiveStatus(v.Status) && typeof v.Status['compressionRatio'] === 'number',
    LIVE_STATUS_MS,
    { every: 500 },
  );
  t.like(zvol.Status, { type: 'compressed', mounted: true, leases: 1 });
  t.true(Number(zvol.Status['compressionRatio']) < 0.5, String(zvol.Status['compressionRatio']));
  t.is(numbers[999_999], '1000000', 'the host sees the data under propagated-mount');
  await dockerd.docker(['rm', '-f', c]);
  const left = await waitFor(
    'the volume released after its container went',
    async () => leftOnHost(await propagatedMount(), state),
    nothingLeft,
    RELEASED_MS,
  );
  t.deepEqual(left.mounts, []);
  t.deepEqual(left.loops, []);
});

test.serial('custom-volume finds the managed plugin by name: ls, protect against docker volume rm, resize', async (t) => {
  const listed = await cli(['--json', 'ls']);
  t.is(listed.exitCode, 0, listed.stderr);
  t.deepEqual((JSON.parse(listed.stdout) as Array<{ name: string }>).map((v) => v.name).sort(), ['plainvol', 'zvol']);
  t.is((await cli(['protect', 'zvol'])).stdout, 'zvol: protected');
  const rm = await dockerd.docker(['volume', 'rm', 'zvol'], { reject: false });
  t.regex(rm.stderr, /volume "zvol": is protected against removal/);
  t.is((await cli(['unprotect', 'zvol'])).exitCode, 0);
  // Grown inside the plugin's rootfs (resize2fs is there).
  t.is((await cli(['resize', 'plainvol', '96M'])).stdout, 'plainvol: 64 MiB → 96 MiB');
  const df = await run(['-v', 'plainvol:/d', TEST_IMAGE, 'sh', '-c', 'df -k /d | tail -1']);
  t.true(Number(df.stdout.trim().split(/\s+/)[1]) > 80 * 1024, df.stdout);
  // Snapshot, clone, export and import with the tools in the plugin's rootfs (cp, fsfreeze, tune2fs, btrfstune, tar).
  await run(['-v', 'plainvol:/d', TEST_IMAGE, 'sh', '-c', 'echo snapped > /d/s']);
  t.is((await cli(['snapshot', 'plainvol', 'one'])).exitCode, 0);
  const cloned = await cli(['clone', 'zvol', 'zcopy']);
  t.is(cloned.exitCode, 0, cloned.stderr);
  const file = join(state, 'plainvol.tar');
  t.is((await cli(['export', 'plainvol', file])).exitCode, 0);
  await dockerd.docker(['volume', 'create', '-d', NAME, '-o', 'type=compressed', '-o', 'size=200M', 'imported']);
  const imported = await cli(['import', 'imported', file]);
  t.is(imported.exitCode, 0, imported.stderr);
  t.is((await run(['-v', 'imported:/d', TEST_IMAGE, 'cat', '/d/s'])).stdout.trim(), 'snapped');
  t.is((await cli(['snapshot', 'rm', 'plainvol', 'one'])).exitCode, 0);
  await dockerd.docker(['volume', 'rm', 'zcopy', 'imported']);
  const gone = await execa(process.execPath, [CLI, '--plugin', 'nosuchplugin', 'ls'], {
    env: { DOCKER_HOST: dockerd.host },
    reject: false,
  });
  t.is(gone.exitCode, 3);
  t.regex(gone.stderr, /no managed plugin named "nosuchplugin"/);
});

test.serial('the KEK comes from its own read-only mount; doctor warns when it shares the state filesystem; no core dumps', async (t) => {
  const kekFindings = async () => {
    const doctor = await cli(['--json', 'doctor']);
    if (doctor.stdout === '') throw new Error(`doctor printed nothing (exit ${doctor.exitCode}): ${doctor.stderr}`);
    return (JSON.parse(doctor.stdout) as { findings: Array<{ what: string }> }).findings.map((f) => f.what).filter((w) => /KEK/.test(w));
  };
  const reconfigure = async (settings: string[]) => {
    await dockerd.docker(['plugin', 'disable', '-f', NAME]);
    await dockerd.docker(['plugin', 'set', NAME, ...settings]);
    await dockerd.docker(['plugin', 'enable', NAME]);
  };
  // The KEK on its own filesystem (a tmpfs here, as one filled at boot would be).
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1M,mode=0700', 'kek', kek]);
  await execa('sh', ['-c', `head -c 32 /dev/urandom > ${kek}/kek && chmod 0400 ${kek}/kek`]);
  await reconfigure([`kek.source=${kek}`, 'CUSTOM_KEK_FILE=/etc/custom-volume/kek']);
  t.deepEqual(await kekFindings(), [], 'apart from the state: nothing to say');
  const [pid] = await managedPluginPids(dockerd);
  t.regex(await readFile(`/proc/${pid}/limits`, 'utf8'), /^Max core file size\s+0\s+0\s+bytes/m, 'the plugin cannot dump core');
  const write = await execa('nsenter', ['-t', String(pid), '-m', 'sh', '-c', 'echo x > /etc/custom-volume/x'], { reject: false });
  t.regex(write.stderr, /Read-only file system/, 'the plugin cannot write where its KEK is');
  // The KEK on the state's filesystem (a directory beside it): doctor warns.
  const beside = join(state, '..', `${NAME}-kek-beside`);
  await execa('mkdir', ['-p', '-m', '0700', beside]);
  await execa('cp', [join(kek, 'kek'), join(beside, 'kek')]);
  try {
    await reconfigure([`kek.source=${beside}`]);
    t.deepEqual(await kekFindings(), ['CUSTOM_KEK_FILE is on the same filesystem as the key store (/data/keys)']);
  } finally {
    await reconfigure([`kek.source=${kek}`]);
    await execa('rm', ['-rf', beside]);
  }
});

test.serial('SIGKILLed, the plugin is restarted by the daemon; containers keep their data; stop unmounts cleanly', async (t) => {
  const c = await runDetached(dockerd, ['plainvol:/d'], 'while true; do echo x >> /d/log; sleep 0.05; done');
  await killManagedPlugin(dockerd, 30_000); // throws unless the daemon restarted it
  const logLines = async () => Number((await dockerd.docker(['exec', c, 'sh', '-c', 'wc -l < /d/log'])).stdout);
  const before = await waitFor('the container to have written', logLines, (n) => n > 0, CHECK_MS);
  const after = await waitFor('the container to write on', logLines, (n) => n > before, CHECK_MS);
  t.true(after > before && before > 0, `writes went on: ${before} → ${after}`);
  await dockerd.docker(['stop', '-t', '1', c]);
  await dockerd.docker(['rm', c]);
  const released = await waitFor(
    'the volume released after its container stopped',
    async () => ({
      status: (await statusOf('plainvol')).Status,
      loops: await loopsUnder(state),
      mounts: await mountsUnder(await propagatedMount()),
    }),
    ({ status, loops, mounts }) => status['mounted'] === false && loops.length === 0 && mounts.length === 0,
    RELEASED_MS,
    { every: 500 },
  );
  t.like(released.status, { mounted: false, leases: 0 });
  t.deepEqual(released.loops, [], 'no leaked loop device');
  t.deepEqual(released.mounts, []);
});

/** The managed plugin's socket as the host sees it (dockerd 20.10 keeps it under /run/docker/plugins/<id>/, whatever its exec root). */
async function pluginSocket(): Promise<string> {
  const id = (await dockerd.docker(['plugin', 'inspect', '-f', '{{.Id}}', NAME])).stdout;
  return join('/run/docker/plugins', id, 'custom.sock');
}

test.serial("leases in the managed plugin: it sees the host's containers (pidhost), and releases a lease no container backs", async (t) => {
  // -f: the plugin has volumes (Docker refuses a plain disable then); they stay.
  await dockerd.docker(['plugin', 'disable', '-f', NAME]);
  await dockerd.docker(['plugin', 'set', NAME, 'CUSTOM_LEASE_GRACE_MS=1000']);
  await dockerd.docker(['plugin', 'enable', NAME]);
  await dockerd.docker(['volume', 'create', '-d', NAME, '-o', 'size=64M', 'leasevol']);
  const c = (await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'leasevol:/d', TEST_IMAGE, 'sleep', '600'])).stdout;
  // A second lease that no container backs: a Mount whose Unmount was lost.
  const socket = await pluginSocket();
  t.is((await callSocket(socket, 'VolumeDriver.Mount', { Name: 'leasevol', ID: 'e'.repeat(64) })).body['Err'], '');
  await outlive(Date.now(), 1000); // the grace period set above: the lease is stale once no container backs it
  const refused = await callSocket(socket, 'VolumeDriver.Remove', { Name: 'leasevol' });
  t.is(refused.body['Err'], 'volume "leasevol": is in use (1 container mount on this host); stop the containers using it first');
  t.like((await statusOf('leasevol')).Status, { mounted: true, leases: 2 });
  // The container stops: its Unmount also releases the lease nobody backs, and the volume is unmounted. (While the
  // stopped container's mount namespace lingers, the host still shows a user: then the periodic check releases it.)
  await dockerd.docker(['stop', '-t', '0', c]);
  const released = await waitFor(
    'the lease nobody backs released and the volume unmounted',
    async () => ({ status: (await statusOf('leasevol')).Status, loops: await loopsUnder(state) }),
    ({ status, loops }) => status['leases'] === 0 && status['mounted'] === false && loops.length === 0,
    RELEASED_MS,
    { every: 500 },
  );
  t.like(released.status, { mounted: false, leases: 0 });
  t.deepEqual(released.loops, []);
  await dockerd.docker(['rm', c]);
  await dockerd.docker(['volume', 'rm', 'leasevol']);
});

test.serial('make push + install: from a local registry, under the same driver name; volumes and data survive', async (t) => {
  t.regex(await script('push', 'v1'), /pushed/);
  t.regex(await script('install', 'v1'), /installed .*custom.*:v1 as customtest:latest/);
  await dockerd.docker(['plugin', 'disable', NAME]);
  await dockerd.docker(['plugin', 'set', NAME, 'CUSTOM_LOG_LEVEL=debug']);
  await dockerd.docker(['plugin', 'enable', NAME]);
  t.regex((await dockerd.docker(['plugin', 'inspect', '-f', '{{.PluginReference}}', NAME])).stdout, /customtest:v1$/);
  const ls = await dockerd.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
  t.regex(ls.stdout, new RegExp(`${NAME}:latest plainvol`));
  t.is((await run(['-v', 'plainvol:/d', TEST_IMAGE, 'cat', '/d/f'])).stdout, 'managed', 'data written by the first install');
});

test.serial('make upgrade: a rebuilt tag replaces the rootfs and keeps every volume and its data', async (t) => {
  await script('push', 'v2');
  t.regex(await script('upgrade', 'v2'), /upgraded/);
  t.regex((await dockerd.docker(['plugin', 'inspect', '-f', '{{.PluginReference}}', NAME])).stdout, /customtest:v2$/);
  const source = await dockerd.docker([
    'plugin',
    'inspect',
    '-f',
    '{{range .Settings.Mounts}}{{if eq .Name "state"}}{{.Source}}{{end}}{{end}}',
    NAME,
  ]);
  t.is(source.stdout, state, 'the state mount survived the upgrade');
  t.like(await statusOf('plainvol'), { Driver: `${NAME}:latest` });
  t.is((await run(['-v', 'plainvol:/d', TEST_IMAGE, 'cat', '/d/f'])).stdout, 'managed');
  t.like((await statusOf('zvol')).Status, { type: 'compressed' });
  const env = await dockerd.docker(['plugin', 'inspect', '-f', '{{json .Settings.Env}}', NAME]);
  t.true(env.stdout.includes('CUSTOM_LOG_LEVEL=debug'), `settable env survived: ${env.stdout}`);
  for (const volume of ['plainvol', 'zvol']) await dockerd.docker(['volume', 'rm', volume]);
  t.deepEqual(await volumeFiles(join(state, 'volumes')), []);
});
