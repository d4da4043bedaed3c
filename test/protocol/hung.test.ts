import test from 'ava';
import { dirname } from 'node:path';
import { capturingLogger, startTestPlugin } from '../helpers/plugin.js';
import { mountHungFuse, processState } from '../helpers/hung-fuse.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { CHECK_MS, hasLiveStatus, LIVE_STATUS_MS, waitFor } from '../helpers/wait.js';
import { runCli } from '../helpers/cli.js';

// A volume whose storage stops answering: a FUSE filesystem that reads every
// request and never answers is stacked on the volume's mount root, as a dead
// GlusterFS or sshfs client would leave it. `umount` then sleeps in the
// kernel, unkillable. The plugin must answer, mark the volume busy, refuse
// its requests at once, keep serving the others, and check the volume again
// once the process ends.

const ID = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const TIMEOUT_MS = 1500;
/** runTool's deadline: the timeout, execa's 2 s to SIGKILL, 1 s to go. */
const HUNG_AFTER_MS = TIMEOUT_MS + 3000;

const errOf = (body: Record<string, unknown>) => String(body['Err']);

test('a step stuck in the kernel answers an Err naming it, marks the volume busy, and the plugin checks it again once the process ends', async (t) => {
  const logger = capturingLogger();
  const fx = await startTestPlugin('hung', undefined, { commandTimeoutMs: TIMEOUT_MS, leaseGraceMs: 100 }, logger.log);
  let release = async () => {};
  t.teardown(async () => {
    await release();
    await fx.close();
  });
  t.is(errOf((await fx.call('VolumeDriver.Create', { Name: 'stuck', Opts: { size: '32M' } })).body), '');
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'stuck', ID })).body['Mountpoint']);
  const mountRoot = dirname(mountpoint);
  const mounted = async () => (await mountsUnder(fx.root)).includes(mountRoot);
  const fuse = await mountHungFuse(mountRoot);
  release = () => fuse.release();

  // The Unmount's umount hangs: the request is answered after the deadline, not never.
  let started = Date.now();
  const unmounted = errOf((await fx.call('VolumeDriver.Unmount', { Name: 'stuck', ID })).body);
  const tookMs = Date.now() - started;
  t.regex(
    unmounted,
    /^volume "stuck": could not be unmounted: umount did not end within 4\.5 s and could not be killed \(pid (\d+) sleeps in the kernel, waiting on storage that does not answer\); the volume is marked busy until that process ends\. Fix: bring back the storage/,
  );
  t.true(tookMs >= HUNG_AFTER_MS - 100 && tookMs < HUNG_AFTER_MS + 3000, `answered after ${tookMs} ms`);
  const pid = Number(/pid (\d+)/.exec(unmounted)![1]);
  t.is(await processState(pid), 'D', 'the umount sleeps in the kernel');

  // Every later request for it is refused at once, naming what is stuck.
  for (const [method, body] of [
    ['VolumeDriver.Mount', { Name: 'stuck', ID }],
    ['VolumeDriver.Unmount', { Name: 'stuck', ID }],
    ['VolumeDriver.Remove', { Name: 'stuck' }],
    ['Custom.Snapshot', { Name: 'stuck' }],
  ] as const) {
    started = Date.now();
    const err = errOf((await fx.call(method, body)).body);
    t.regex(
      err,
      /^volume "stuck": is busy: could not be unmounted: umount did not end within 4\.5 s .* \(stuck since \S+\); nothing else is done to it/,
      method,
    );
    t.true(Date.now() - started < 1000, `${method} answered at once`);
  }
  // Get and List answer from state, without asking the storage.
  started = Date.now();
  const status = ((await fx.call('VolumeDriver.Get', { Name: 'stuck' })).body['Volume'] as { Status: Record<string, unknown> }).Status;
  t.regex(String(status['busy']), /^could not be unmounted: umount did not end/);
  t.true(((await fx.call('VolumeDriver.List', {})).body['Volumes'] as Array<{ Name: string }>).some((v) => v.Name === 'stuck'));
  t.true(Date.now() - started < 1000, 'Get and List answer at once');
  // Doctor names it.
  const findings = ((await fx.call('Custom.Doctor', {})).body['Doctor'] as { findings: Array<{ volume?: string; what: string }> }).findings;
  t.true(findings.some((f) => f.volume === 'stuck' && f.what.startsWith('is busy: could not be unmounted')));

  // custom-volume doctor answers too: its disk report (node-disk-info's df, which this mount hangs) is given up after 10 s.
  started = Date.now();
  const cli = await runCli(['--socket', fx.config.socket, '--json', 'doctor'], { timeout: 60_000 });
  t.is(cli.exitCode, 1, cli.stderr);
  const report = JSON.parse(cli.stdout) as { disks: unknown; findings: Array<{ volume?: string }> };
  t.is(report.disks, 'df did not answer within 10 s (a hung network or FUSE mount?)');
  t.true(report.findings.some((f) => f.volume === 'stuck'));
  t.true(Date.now() - started < 20_000, `doctor answered after ${Date.now() - started} ms`);

  // The plugin is not wedged: another volume goes through its whole life meanwhile.
  t.is(errOf((await fx.call('VolumeDriver.Create', { Name: 'other', Opts: { size: '32M' } })).body), '');
  t.is(errOf((await fx.call('VolumeDriver.Mount', { Name: 'other', ID: OTHER })).body), '');
  t.is(errOf((await fx.call('VolumeDriver.Unmount', { Name: 'other', ID: OTHER })).body), '');
  t.is(errOf((await fx.call('VolumeDriver.Remove', { Name: 'other' })).body), '');

  // The storage comes back (the FUSE connection is aborted): the umount ends,
  // the mark goes, and the plugin checks the volume again: no lease, no user, so it is released.
  // (release() waits up to 10 s for the server; the check runs a few tools under runTool's deadline, then logs.)
  await fuse.release();
  const rechecked = /checked again after its stuck process ended/;
  const after = await waitFor(
    'the stuck umount to end, the mark to go and the volume to be checked again',
    async () => ({
      busy: ((await fx.call('VolumeDriver.Get', { Name: 'stuck' })).body['Volume'] as { Status: Record<string, unknown> }).Status['busy'],
      mounted: await mounted(),
      logged: rechecked.test(logger.text()),
    }),
    (seen) => seen.busy === undefined && !seen.mounted && seen.logged,
    3 * HUNG_AFTER_MS + CHECK_MS,
  );
  t.is(after.busy, undefined, 'no longer busy');
  t.is(await processState(pid), undefined, 'the umount ended');
  t.false(after.mounted, 'checked again and released');
  t.regex(logger.text(), rechecked);

  // Usable again, and removed without leftovers.
  t.is(errOf((await fx.call('VolumeDriver.Mount', { Name: 'stuck', ID })).body), '');
  t.is(errOf((await fx.call('VolumeDriver.Unmount', { Name: 'stuck', ID })).body), '');
  t.is(errOf((await fx.call('VolumeDriver.Remove', { Name: 'stuck' })).body), '');
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});

test('a live status read that gets stuck: Get answers without it, and the volume is marked busy (every stuck read waited for) until they end', async (t) => {
  const fx = await startTestPlugin('hung-status', undefined, { commandTimeoutMs: TIMEOUT_MS });
  let release = async () => {};
  t.teardown(async () => {
    await release();
    await fx.close();
  });
  const get = async () => {
    const started = Date.now();
    const status = ((await fx.call('VolumeDriver.Get', { Name: 'slow' })).body['Volume'] as { Status: Record<string, unknown> }).Status;
    return { status, ms: Date.now() - started };
  };
  t.is(errOf((await fx.call('VolumeDriver.Create', { Name: 'slow', Opts: { size: '32M' } })).body), '');
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'slow', ID })).body['Mountpoint']);
  t.like((await get()).status, { mounted: true });
  const fuse = await mountHungFuse(dirname(mountpoint));
  release = () => fuse.release();

  const first = await get();
  t.true(first.ms < 3000, `Get answered after ${first.ms} ms`);
  t.is(first.status['statusError'], 'live status unavailable; see the plugin log');
  const second = await get();
  t.true(second.ms < 3000, `and again after ${second.ms} ms`);
  t.is(second.status['statusError'], 'live status unavailable; see the plugin log');

  // Once the read outlives its deadline (runTool's: HUNG_AFTER_MS), the volume is marked busy.
  const busy = (await waitFor('the volume to be marked busy', get, ({ status }) => status['busy'] !== undefined, HUNG_AFTER_MS + CHECK_MS))
    .status['busy'];
  t.regex(String(busy), /^reading its live status: stat did not end within 4\.5 s and could not be killed \(pid \d+ sleeps in the kernel/);
  t.regex(
    errOf((await fx.call('VolumeDriver.Mount', { Name: 'slow', ID: OTHER })).body),
    /^volume "slow": is busy: reading its live status/,
  );

  // The storage comes back: the mark goes, the volume is still leased and stays mounted, and goes as usual.
  // (The mark goes once every stuck read ended; then a Get reads live status again, within its 2 s.)
  await fuse.release();
  const after = (
    await waitFor(
      'the mark to go and a Get to read live status',
      get,
      ({ status }) => hasLiveStatus(status),
      HUNG_AFTER_MS + LIVE_STATUS_MS,
    )
  ).status;
  t.is(after['busy'], undefined);
  t.like(after, { mounted: true, leases: 1 });
  t.is(typeof after['usedBytes'], 'number', 'the live status reads again');
  t.is(errOf((await fx.call('VolumeDriver.Unmount', { Name: 'slow', ID })).body), '');
  t.is(errOf((await fx.call('VolumeDriver.Remove', { Name: 'slow' })).body), '');
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});
