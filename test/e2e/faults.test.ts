import test, { type ExecutionContext } from 'ava';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TEST_IMAGE } from '../helpers/dockerd.js';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { loopsUnder, mountsUnder, volumeFiles } from '../helpers/host.js';
import { volumeId } from '../../src/state/volume-id.js';
import { callSocket } from '../helpers/plugin.js';
import { CHECK_MS, RECOVERY_MS, waitFor } from '../helpers/wait.js';

// The plugin SIGKILLed at each step of Create, Mount, Unmount and Remove,
// driven by a real dockerd. CUSTOM_TEST_PAUSE_AT makes the plugin stop for
// ever at the named step (a service step, or `tool:<name>` right after that
// host tool returned); the test kills it there and starts it again. Then the
// volume must be fully there or fully gone, usable, removable, and nothing
// may be left behind.

usePluginAndDockerd('faults', { CUSTOM_LEASE_GRACE_MS: '1000' });

const marker = () => join(plugin.stateDir, 'paused-at');
const recoveries = () =>
  plugin
    .logs()
    .split('\n')
    .filter((line) => line.includes('"msg":"recovery finished"')).length;

/** Restarts the plugin to pause at `step`, runs `action` until it gets there, SIGKILLs it, and starts it normally. */
async function killedAt(step: string, action: () => Promise<unknown>): Promise<void> {
  await plugin.kill('SIGTERM');
  await plugin.start({ CUSTOM_TEST_PAUSE_AT: step });
  const pending = action();
  const logTail = { every: 50, detail: () => plugin.logs().slice(-3000) };
  // The request reaches the step through a few tools, each under the command timeout: the bound of a recovery.
  await waitFor(
    `the plugin to pause at ${step}`,
    () => readFile(marker(), 'utf8'),
    (paused) => paused === step,
    RECOVERY_MS,
    logTail,
  );
  await plugin.kill('SIGKILL');
  await rm(marker());
  const before = recoveries();
  await plugin.start();
  await waitFor('recovery', recoveries, (count) => count > before, RECOVERY_MS, logTail);
  await pending;
}

const dataEntries = () => volumeFiles(join(plugin.stateDir, 'volumes'));

const docker = (args: string[]) => dockerd.docker(args, { reject: false });

// Fully there (its directory holds volume.json) or fully gone, then usable
// and removable, and nothing is left.
async function assertWholeAndClean(t: ExecutionContext, name: string): Promise<void> {
  // Right after recovery a loop device or mount may be there only if a lease still needs it.
  const devices = (await loopsUnder(plugin.stateDir)).length + (await mountsUnder(plugin.mountDir)).length;
  if (devices > 0) {
    const get = await callSocket(plugin.socket, 'VolumeDriver.Get', { Name: name });
    const leases = Number((get.body['Volume'] as { Status?: Record<string, unknown> } | undefined)?.Status?.['leases'] ?? 0);
    t.true(leases > 0, `a loop device or mount without a lease after recovery: ${get.raw}`);
  }
  const entries = await dataEntries();
  const id = volumeId(name);
  t.true(entries.length === 0 || (entries.length === 1 && entries[0] === id), `data directory: ${entries.join(', ')}`);
  if (entries.length === 1) t.truthy(await readFile(join(plugin.stateDir, 'volumes', id, 'volume.json'), 'utf8'));
  t.is((await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', name])).exitCode, 0);
  const used = await docker(['run', '--rm', '--network', 'none', '-v', `${name}:/d`, TEST_IMAGE, 'sh', '-c', 'echo ok > /d/f && cat /d/f']);
  t.is(used.stdout, 'ok', used.stderr);
  // A lease recorded for a Mount that Docker saw fail is stale after the grace period (CUSTOM_LEASE_GRACE_MS=1000 above).
  const removed = await waitFor(
    `docker volume rm ${name}`,
    () => docker(['volume', 'rm', name]),
    (result) => result.exitCode === 0,
    1000 + CHECK_MS,
    { every: 300 },
  );
  t.is(removed.exitCode, 0, removed.stderr);
  t.deepEqual(await mountsUnder(plugin.root), []);
  t.deepEqual(await loopsUnder(plugin.root), []);
  t.deepEqual(await dataEntries(), []);
  t.deepEqual(await readdir(join(plugin.stateDir, 'keys')).catch(() => []), []);
}

const createSteps = ['tool:createSparseFile', 'tool:makeFilesystem', 'create.provisioned', 'create.committed', 'create.recorded'];
for (const step of createSteps) {
  test.serial(`killed during Create at ${step}`, async (t) => {
    const name = `c-${step.replace(/[^a-z]/gi, '')}`;
    await killedAt(step, () => docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', name]));
    await assertWholeAndClean(t, name);
  });
}

const mountSteps = ['tool:attachLoop', 'tool:mount', 'mount.activated', 'mount.recorded'];
for (const step of mountSteps) {
  test.serial(`killed during Mount at ${step}`, async (t) => {
    const name = `m-${step.replace(/[^a-z]/gi, '')}`;
    t.is((await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', name])).exitCode, 0);
    await killedAt(step, () => docker(['run', '--rm', '--network', 'none', '-v', `${name}:/d:nocopy`, TEST_IMAGE, 'true']));
    await assertWholeAndClean(t, name);
  });
}

const unmountSteps = ['unmount.recorded', 'tool:unmount', 'tool:detachLoop', 'unmount.done'];
for (const step of unmountSteps) {
  test.serial(`killed during Unmount at ${step}`, async (t) => {
    const name = `u-${step.replace(/[^a-z]/gi, '')}`;
    t.is((await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', name])).exitCode, 0);
    const container = `ctr-${name}`;
    await killedAt(step, async () => {
      await docker(['run', '-d', '--name', container, '--network', 'none', '-v', `${name}:/d:nocopy`, TEST_IMAGE, 'sleep', '600']);
      await docker(['stop', '-t', '0', container]);
    });
    t.is((await docker(['rm', '-f', container])).exitCode, 0);
    await assertWholeAndClean(t, name);
  });
}

const removeSteps = ['remove.deactivated', 'remove.committed', 'remove.forgotten', 'tool:removeTree'];
for (const step of removeSteps) {
  test.serial(`killed during Remove at ${step}`, async (t) => {
    const name = `r-${step.replace(/[^a-z]/gi, '')}`;
    t.is((await docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', name])).exitCode, 0);
    await docker(['run', '--rm', '--network', 'none', '-v', `${name}:/d`, TEST_IMAGE, 'sh', '-c', 'echo data > /d/f']);
    await killedAt(step, () => docker(['volume', 'rm', name]));
    await assertWholeAndClean(t, name);
  });
}
