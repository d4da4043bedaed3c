import test, { type ExecutionContext } from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { startDockerd, TEST_IMAGE, type Dockerd } from '../helpers/dockerd.js';
import { startPluginProcess, type PluginProcess } from '../helpers/plugin-process.js';
import { killManagedPlugin, managedScript, propagatedMount, requireBundle } from '../helpers/managed-plugin.js';
import { loopsUnder, mountsUnder, scrubHost, volumeFiles } from '../helpers/host.js';
import { ourMappings } from '../helpers/luks.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { CHECK_MS, hasLiveStatus, isEmpty, LIVE_STATUS_MS, RELEASED_MS, waitFor } from '../helpers/wait.js';
import { composeProject } from '../helpers/compose.js';
import { runDetached } from '../helpers/containers.js';

// Runs inside a guest with a stock Debian kernel (dm-crypt); see test/vm.
// Encrypted and encrypted+compressed volumes through a real dockerd (vfs
// storage, data root on the guest's scratch ext4, busybox imported offline),
// served once by the legacy plugin (a process on the daemon's plugin socket)
// and once by the managed plugin (made from plugin-rootfs as `make plugin`
// does), with nothing set for the guest: a user's defaults.
const MANAGED = 'customguest';

interface Served {
  readonly driver: string;
  /** The host directory holding the plugin's state, keys and images. */
  readonly stateDir: string;
  /** Where the plugin's mounts appear on the host. */
  mountRoot(): Promise<string>;
  /** A volume's Mountpoint (as the plugin gave it to the daemon) as seen from the host. */
  hostView(mountpoint: string): Promise<string>;
  /** SIGKILLs the plugin and has it running again: by hand (legacy) or by the daemon (managed). */
  killAndRestart(): Promise<void>;
}

let dockerd: Dockerd;
let legacy: PluginProcess;
let managedState: string;
let managedReady: Promise<void> = Promise.resolve();
let managedFailure: unknown;
let managedCreateMs = 0;
const served = new Map<string, Served>();

test.before(async () => {
  requireBundle(['usr', 'sbin', 'cryptsetup']);
  dockerd = await startDockerd('guest', { logLevel: 'info' });
  legacy = await startPluginProcess('guest');
  served.set('legacy', {
    driver: legacy.driver,
    stateDir: legacy.stateDir,
    mountRoot: () => Promise.resolve(legacy.mountDir),
    hostView: (mountpoint) => Promise.resolve(mountpoint),
    async killAndRestart() {
      await legacy.kill('SIGKILL');
      await legacy.start();
    },
  });
  managedState = await makeTempDir('guest-managed-state');
  // Made while the legacy plugin's tests run (about 2 min emulated: dockerd
  // gzips and unpacks the 180 MB rootfs); staged on the scratch disk, as the
  // guest's /var/tmp is RAM.
  const started = Date.now();
  managedReady = managedScript(dockerd, 'create', { name: MANAGED, state: managedState, stageDir: managedState }).then(
    () => {
      managedCreateMs = Date.now() - started;
      served.set('managed', {
        driver: MANAGED,
        stateDir: managedState,
        mountRoot: () => propagatedMount(dockerd, MANAGED),
        hostView: async (mountpoint) => join(await propagatedMount(dockerd, MANAGED), relative('/mnt/volumes', mountpoint)),
        async killAndRestart() {
          await killManagedPlugin(dockerd);
        },
      });
    },
    async (error: unknown) => {
      const log = await readFile(dockerd.log, 'utf8').catch(() => '');
      managedFailure = `${String(error)}\n${log.split('\n').slice(-40).join('\n')}`;
    },
  );
});
test.after.always(async () => {
  await managedReady;
  try {
    if (dockerd) {
      await dockerd.docker(['plugin', 'rm', '-f', MANAGED], { reject: false });
      await dockerd.stop();
    }
  } finally {
    try {
      await legacy?.stop();
    } finally {
      if (managedState) {
        await scrubHost(managedState);
        await removeTempDir(managedState);
      }
    }
  }
});

async function plugin(label: string): Promise<Served> {
  if (label === 'managed') await managedReady;
  const found = served.get(label);
  if (!found) throw new Error(`the ${label} plugin did not start: ${String(managedFailure)}`);
  return found;
}
const run = (args: string[]) => dockerd.docker(['run', '--rm', '--network', 'none', ...args]);
const statusOf = async (volume: string) =>
  (JSON.parse((await dockerd.docker(['volume', 'inspect', volume])).stdout) as Array<{ Status: Record<string, unknown> }>)[0]!.Status;
// Read from the host, not by `docker exec`: in the guest (no pivot_root
// from its initramfs), exec lands in the guest's rootfs, not the container's.
const linesIn = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').length - 1;

async function nothingLeft(t: ExecutionContext, served: Served): Promise<void> {
  t.deepEqual(await ourMappings(), [], 'no dm-crypt mapping');
  t.deepEqual(await loopsUnder(served.stateDir), [], 'no loop device');
  t.deepEqual(await mountsUnder(await served.mountRoot()), [], 'no mount');
  t.deepEqual(await volumeFiles(join(served.stateDir, 'volumes')), [], 'no volume files');
  t.deepEqual(await readdir(join(served.stateDir, 'keys')).catch(() => []), [], 'no key files');
}

for (const label of ['legacy', 'managed']) {
  test.serial(
    `${label} plugin: compose with driver_opts {type: encrypted} and {type: encrypted, compression: zstd}; data outlives the mapping; down -v leaves nothing`,
    async (t) => {
      const served = await plugin(label);
      if (label === 'managed') t.log(`managed plugin create + enable: ${managedCreateMs} ms`);
      const name = `guest${label}`;
      const app = {
        version: '3.7',
        command: 'echo sealed > /enc/f && seq 1 200000 > /both/n && cat /enc/f && tail -n 1 /both/n',
        mounts: ['enc:/enc', 'both:/both'],
        driver: served.driver,
        volumes: { enc: { type: 'encrypted', size: '64M' }, both: { type: 'encrypted', compression: 'zstd', size: '256M' } },
      };
      const compose = await composeProject(dockerd, join(dockerd.root, `compose-${label}`), name, app, 300_000);
      t.teardown(() => compose(['down', '-v']).then(() => undefined));
      const up = await compose(['up', '--no-color', '--abort-on-container-exit']);
      t.is(up.exitCode, 0, String(up.stderr));
      t.regex(String(up.stdout), /sealed[\s\S]*200000/);
      // The service's container has exited: its Unmounts closed the mappings (or, past the 3 s the last Unmount waits for
      // its mount namespace, the periodic check does).
      t.deepEqual(
        await waitFor('the mappings closed', ourMappings, isEmpty, RELEASED_MS, { every: 500 }),
        [],
        'the mappings closed when the service exited',
      );
      // encrypted, cipher, compression and open are live status: within Get's 2 s, which the emulated guest may miss.
      const live = (volume: string) =>
        waitFor(`live status of ${volume}`, () => statusOf(volume), hasLiveStatus, LIVE_STATUS_MS, { every: 500 });
      t.like(await live(`${name}_enc`), { type: 'encrypted', encrypted: true, cipher: 'aes-xts-plain64', open: false, mounted: false });
      t.like(await live(`${name}_both`), { type: 'encrypted', encrypted: true, fs: 'btrfs', compression: 'zstd', open: false });

      const read = await run(['-v', `${name}_enc:/enc`, '-v', `${name}_both:/both`, TEST_IMAGE, 'sh', '-c', 'cat /enc/f; wc -l < /both/n']);
      t.is(read.stdout, 'sealed\n200000', 'read back through a fresh mapping');

      const down = await compose(['down', '-v']);
      t.is(down.exitCode, 0, String(down.stderr));
      const listed = (await dockerd.docker(['volume', 'ls', '-q'])).stdout.split('\n');
      t.false(listed.includes(`${name}_enc`) || listed.includes(`${name}_both`), 'down -v removed both volumes');
      await nothingLeft(t, served);
    },
  );

  test.serial(
    `${label} plugin: SIGKILLed while a mapping is open, the container keeps writing; after the restart, stopping it closes the mapping`,
    async (t) => {
      const served = await plugin(label);
      const volume = `survivor-${label}`;
      await dockerd.docker(['volume', 'create', '-d', served.driver, '-o', 'type=encrypted', '-o', 'size=64M', volume]);
      const c = await runDetached(dockerd, [`${volume}:/d`], 'while true; do echo x >> /d/log; sleep 0.05; done');
      t.teardown(async () => {
        await dockerd.docker(['rm', '-f', c], { reject: false });
        await dockerd.docker(['volume', 'rm', '-f', volume], { reject: false });
      });
      const log = join(await served.hostView((await dockerd.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', volume])).stdout), 'log');
      // The container's first line: the test's 30 s (the emulated guest starts a container in seconds).
      await waitFor(
        'the container to write',
        () => linesIn(log),
        (n) => n > 0,
        30_000,
      );
      const open = await ourMappings();
      t.is(open.length, 1, `one mapping open: ${open.join(', ')}`);

      const beforeKill = await linesIn(log);
      await served.killAndRestart();
      const before = await waitFor(
        'the container to write on through the restart',
        () => linesIn(log),
        (n) => n > beforeKill,
        CHECK_MS,
      );
      t.true(before > beforeKill, `writes went on through the plugin's kill and restart: ${beforeKill} → ${before}`);
      const after = await waitFor(
        'the container to write on',
        () => linesIn(log),
        (n) => n > before,
        CHECK_MS,
      );
      t.true(after > before && before > 0, `writes went on: ${before} → ${after}`);
      t.deepEqual(await ourMappings(), open, 'the mapping stayed open for the container');
      t.like(await waitFor(`live status of ${volume}`, () => statusOf(volume), hasLiveStatus, LIVE_STATUS_MS, { every: 500 }), {
        open: true,
        mounted: true,
        leases: 1,
      });

      await dockerd.docker(['stop', '-t', '1', c]);
      await dockerd.docker(['rm', c]);
      // The last Unmount waits 3 s for the stopped container's mount namespace; past that the periodic check releases it.
      const left = await waitFor(
        'the volume released after its container stopped',
        async () => ({
          mappings: await ourMappings(),
          loops: await loopsUnder(served.stateDir),
          mounts: await mountsUnder(await served.mountRoot()),
        }),
        ({ mappings, loops, mounts }) => mappings.length === 0 && loops.length === 0 && mounts.length === 0,
        RELEASED_MS,
        { every: 500 },
      );
      t.deepEqual(left.mappings, [], 'stopping the container closed the mapping');
      t.deepEqual(left.loops, [], 'and detached the loop device');
      t.deepEqual(left.mounts, [], 'and unmounted it');
      const read = await run(['-v', `${volume}:/d`, TEST_IMAGE, 'sh', '-c', 'wc -l < /d/log']);
      t.true(Number(read.stdout) >= after, `the data is there: ${read.stdout} lines`);
      await dockerd.docker(['volume', 'rm', volume]);
      await nothingLeft(t, served);
    },
  );
}
