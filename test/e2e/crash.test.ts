import test from 'ava';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { TEST_IMAGE } from '../helpers/dockerd.js';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { leftOnHost, loopsUnder, mountsUnder, nothingLeft, volumeFiles } from '../helpers/host.js';
import { STATE_FILE_NAME } from '../../src/state/layout.js';
import { releaseCause } from '../helpers/release-cause.js';
import { CHECK_MS, hasLiveStatus, LIVE_STATUS_MS, outlive, RECOVERY_MS, RELEASED_MS, waitFor } from '../helpers/wait.js';
import { runDetached } from '../helpers/containers.js';

// What users of every volume plugin report: volumes stuck "in use" after a
// crash or a power loss, volumes forgotten when the state file is lost, and a
// full disk. Each against a real dockerd and the plugin as its own process.

usePluginAndDockerd('crash', { CUSTOM_LEASE_GRACE_MS: '1000' });

const docker = (args: string[]) => dockerd.docker(args);
const lines = async (container: string, file: string) => Number((await docker(['exec', container, 'sh', '-c', `wc -l < ${file}`])).stdout);
const dataEntries = () => volumeFiles(join(plugin.stateDir, 'volumes'));

test.serial(
  'power loss: a --restart=always container comes back with its data; after rm -f its volume is removable and nothing is left',
  async (t) => {
    await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', 'pl']);
    await docker([
      'run',
      '-d',
      '--name',
      'always',
      '--restart=always',
      '--network',
      'none',
      '-v',
      'pl:/d',
      TEST_IMAGE,
      'sh',
      '-c',
      'date >> /d/boots; sync; exec sleep 600',
    ]);
    // Past the lease grace period (CUSTOM_LEASE_GRACE_MS=1000 above): the old mount ID is now only evidence.
    await outlive(Date.now(), 1000);

    // The power goes: daemon, containerd, shims, the container and the plugin die; mounts and loop devices are gone.
    await dockerd.powerLoss();
    await plugin.kill('SIGKILL');
    for (const target of (await mountsUnder(plugin.root)).reverse()) await execa('umount', ['-l', target]);
    for (const loop of await loopsUnder(plugin.root)) await execa('losetup', ['-d', loop.split(' ')[0]!]);

    await plugin.start();
    await dockerd.start();
    // dockerd restarts it at start; its Mount waits for the volume's recovery (a few tools, each under the command timeout).
    const running = await waitFor(
      'the daemon to restart the container',
      async () => (await dockerd.docker(['inspect', '-f', '{{.State.Running}}', 'always'], { reject: false })).stdout,
      (state) => state === 'true',
      RECOVERY_MS + CHECK_MS,
    );
    t.is(running, 'true', 'the container was restarted by the daemon');
    // Running comes before its shell appends the date.
    t.is(
      await waitFor(
        'the restarted container to write',
        () => lines('always', '/d/boots'),
        (n) => n >= 2,
        CHECK_MS,
      ),
      2,
      'its data survived and it wrote again',
    );

    await docker(['rm', '-f', 'always']);
    const removed = await dockerd.docker(['volume', 'rm', 'pl'], { reject: false });
    t.is(removed.exitCode, 0, removed.stderr);
    t.deepEqual(await mountsUnder(plugin.root), []);
    t.deepEqual(await loopsUnder(plugin.root), []);
    t.deepEqual(await dataEntries(), []);
    const released = /released stale mount leases/;
    t.regex(
      await waitFor(
        'the log of the released leases',
        () => plugin.logs(),
        (logs) => released.test(logs),
        CHECK_MS,
      ),
      released,
    );
  },
);

test.serial(
  'the state file deleted while a container writes: the restarted plugin rebuilds it, keeps the volume mounted, and everything goes on',
  async (t) => {
    await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=320M', '-o', 'fs=xfs', 'lost']);
    await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', 'idle']);
    const c = await runDetached(dockerd, ['lost:/d'], 'while true; do echo x >> /d/log; sleep 0.05; done');
    await rm(join(plugin.stateDir, STATE_FILE_NAME));
    await plugin.kill('SIGKILL');
    await plugin.start();
    // `mounted` is live status (the mount itself, read within Get's 2 s).
    const inspected = await waitFor(
      'live status of both volumes',
      async () => JSON.parse((await docker(['volume', 'inspect', 'lost', 'idle'])).stdout) as Array<{ Status: Record<string, unknown> }>,
      (volumes) => volumes.length === 2 && volumes.every((volume) => hasLiveStatus(volume.Status)),
      LIVE_STATUS_MS,
      { every: 500 },
    );
    t.like(inspected[0]?.Status, { type: 'plain', fs: 'xfs', size: '320 MiB', mounted: true });
    t.like(inspected[1]?.Status, { size: '32 MiB', mounted: false });
    const rebuilt = /rebuilt volumes missing from state.json from their volume.json/;
    t.regex(
      await waitFor(
        'the log of the rebuilt volumes',
        () => plugin.logs(),
        (logs) => rebuilt.test(logs),
        CHECK_MS,
      ),
      rebuilt,
    );
    const before = await lines(c, '/d/log');
    const after = await waitFor(
      'the container to write on',
      () => lines(c, '/d/log'),
      (n) => n > before,
      CHECK_MS,
    );
    t.true(after > before, 'the container kept writing: its mount was not released');
    t.is((await mountsUnder(plugin.root)).length, 1);

    await docker(['stop', '-t', '0', c]);
    const left = await waitFor('the volume released after its container stopped', () => leftOnHost(plugin.root), nothingLeft, RELEASED_MS);
    t.deepEqual(left.mounts, [], 'its Unmount (an ID the plugin lost) still released the volume');
    t.not(releaseCause(plugin.logs(), 'lost'), 'periodic check alone', 'the Unmount released it, or kept it for a lingering container');
    t.deepEqual(left.loops, []);
    await docker(['rm', c]);
    await docker(['volume', 'rm', 'lost', 'idle']);
    t.deepEqual(await dataEntries(), []);
  },
);

test.serial('a full disk at a state write: Create and Mount fail with an Err and leave nothing behind; freed, all works', async (t) => {
  // The state file on a tiny filesystem of its own; the images elsewhere, so only the state write fails.
  const tiny = join(plugin.root, 'tiny');
  const image = join(plugin.root, 'tiny.img');
  await mkdir(tiny, { recursive: true });
  await execa('truncate', ['-s', '8M', image]);
  await execa('mkfs.ext4', ['-q', '-F', '-m', '0', '-b', '4096', image]);
  await execa('mount', ['-o', 'loop', image, tiny]);
  t.teardown(() => execa('umount', ['-l', tiny], { reject: false }));
  await plugin.kill('SIGTERM');
  const env = {
    CUSTOM_STATE_DIR: tiny,
    CUSTOM_DATA_DIR: join(plugin.stateDir, 'volumes'),
    CUSTOM_MOUNT_DIR: plugin.mountDir,
    CUSTOM_KEY_DIR: join(plugin.stateDir, 'keys'),
  };
  await plugin.start(env);
  await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', 'before-full']);
  await execa('dd', ['if=/dev/zero', `of=${join(tiny, 'filler')}`, 'bs=4k'], { reject: false });
  await execa('sync');

  const create = await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', 'on-full'], { reject: false });
  t.not(create.exitCode, 0);
  t.regex(
    create.stderr,
    /volume "on-full": could not record the volume: the plugin's state could not be saved \(.*(No space left on device|ENOSPC)/,
  );
  t.deepEqual(await dataEntries(), [(await import('../../src/state/volume-id.js')).volumeId('before-full')]);
  const mount = await dockerd.docker(['run', '--rm', '--network', 'none', '-v', 'before-full:/d', TEST_IMAGE, 'true'], { reject: false });
  t.not(mount.exitCode, 0);
  t.regex(mount.stderr, /could not record the mount: the plugin's state could not be saved/);
  t.deepEqual(await mountsUnder(plugin.mountDir), [], 'the failed Mount was unmounted again');
  t.deepEqual(await loopsUnder(join(plugin.stateDir, 'volumes')), []);

  await rm(join(tiny, 'filler'));
  await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', 'on-full']);
  t.is(
    (await docker(['run', '--rm', '--network', 'none', '-v', 'before-full:/d', TEST_IMAGE, 'sh', '-c', 'echo ok > /d/f; cat /d/f'])).stdout,
    'ok',
  );
  await docker(['volume', 'rm', 'on-full', 'before-full']);
  t.deepEqual(await dataEntries(), []);
  await plugin.kill('SIGTERM');
  await plugin.start();
  await writeFile(join(tiny, 'done'), '');
});
