import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { startGlusterPool, type GlusterPool, type PoolPlugin } from '../helpers/gluster-pool.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { scrubHost } from '../helpers/host.js';
import { volumeId } from '../../src/state/volume-id.js';
import { managedScript, requireBundle } from '../helpers/managed-plugin.js';
import { CATALOGUE_MS, waitFor } from '../helpers/wait.js';
import { runOnce } from '../helpers/containers.js';

// The managed plugin, installed from a local registry, serving a replicated
// volume: its rootfs carries the GlusterFS client (mount.glusterfs and all it
// runs). This machine joins a three-host pool of network namespaces as a
// Docker host of its own (10.77.0.100); a plugin on pool host A creates the
// volume, the managed plugin lists it and mounts it for a container.
const NAME = 'customgl';
const ID = 'r'.repeat(64);

let pool: GlusterPool;
let a: PoolPlugin;
let dockerd: Dockerd;
let registry: Registry;
let state: string;

test.before(async () => {
  requireBundle(['usr', 'sbin', 'glusterfs']);
  pool = await startGlusterPool(3);
  a = await pool.startPlugin(pool.hosts[0]!);
  state = await makeTempDir('managed-gluster-state');
  await mkdir(`${state}-kek`, { mode: 0o700 }); // the kek mount's source must exist
  dockerd = await startDockerd('managed-gluster');
  registry = await startRegistry();
});
test.after.always(async () => {
  if (dockerd) {
    await dockerd.docker(['plugin', 'rm', '-f', NAME], { reject: false });
    await dockerd.stop();
  }
  await registry?.stop();
  await pool?.stop();
  if (state) {
    await scrubHost(state);
    await removeTempDir(state);
    await rm(`${state}-kek`, { recursive: true, force: true });
  }
});

test.serial('installed from the registry, the managed plugin mounts a replicated volume of the pool for a container', async (t) => {
  t.is((await a.call('VolumeDriver.Create', { Name: 'shared', Opts: { type: 'replicated', size: '64M' } })).body['Err'], '');
  const onA = String((await a.call('VolumeDriver.Mount', { Name: 'shared', ID })).body['Mountpoint']);
  await writeFile(join(onA, 'hello'), 'from-host-a\n');
  t.is((await a.call('VolumeDriver.Unmount', { Name: 'shared', ID })).body['Err'], '');
  // Host A's plugin is a legacy plugin this dockerd would also find: it goes, the volume stays in the pool.
  await a.stop();
  const brickDir = join(pool.hosts[0]!.brickRoot, 'cv_pool', 'volumes', volumeId('shared'));

  const self = await pool.connectHost();
  const [hostA] = pool.hosts;
  await managedScript(dockerd, 'push', { name: NAME, registry: registry.address });
  const peers = [`${self}:/nonexistent`, ...pool.hosts.map((h) => `${h.address}:${h.brickRoot}`)].join(',');
  await dockerd.docker([
    'plugin',
    'install',
    '--grant-all-permissions',
    '--alias',
    `${NAME}:latest`,
    `${registry.address}/${NAME}:latest`,
    `state.source=${state}`,
    `kek.source=${state}-kek`,
    `glusterd.source=${join(hostA!.dir, 'run')}`,
    `CUSTOM_GLUSTER_HOST=${self}`,
    `CUSTOM_GLUSTER_PEERS=${peers}`,
    'CUSTOM_LOG_LEVEL=debug',
  ]);

  // Its first List mounts the pool and reads the catalogue; until that read ends, it answers from its own (empty) state.
  const list = async () => (await dockerd.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}'])).stdout;
  const listed = await waitFor('the managed plugin to list "shared"', list, (out) => out.includes('shared'), CATALOGUE_MS, {
    every: 1000,
  }).catch(async (error: unknown) => {
    t.log(error instanceof Error ? error.message : String(error));
    return list();
  });
  if (!listed.includes('shared')) {
    const log = await readFile(join(dockerd.root, 'dockerd.log'), 'utf8');
    t.log(
      log
        .split('\n')
        .filter((line) => line.includes('plugin='))
        .slice(-30)
        .join('\n'),
    );
    const { stdout: logs } = await execa('sh', ['-c', `tail -n 40 ${dockerd.root}/data/plugins/*/rootfs/var/log/glusterfs/run-*.log`], {
      reject: false,
    });
    t.log(logs);
  }
  t.regex(listed, new RegExp(`${NAME}(:latest)? shared`), 'the managed plugin lists the pool volume');
  const stdout = await runOnce(dockerd, ['shared:/d'], 'cat /d/hello; echo from-managed > /d/back; df -k /d | tail -1');
  t.regex(stdout, /^from-host-a\n/);
  t.regex(stdout, /\s65536\s/, 'the quota is the size the container sees');
  t.is(await readFile(join(brickDir, '_data', 'back'), 'utf8'), 'from-managed\n', "what the container wrote is on host A's brick");
  t.regex(
    await hostA!.gluster(['volume', 'get', 'cv_pool', 'auth.allow']),
    /10\.77\.0\.100/,
    "the managed plugin's host was added to the pool's allow list",
  );
  await dockerd.docker(['volume', 'rm', 'shared']);
  t.false(existsSync(brickDir), 'removed through the managed plugin: gone from the bricks');
});
