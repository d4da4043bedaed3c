import test from 'ava';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { startDockerd, TEST_IMAGE, type Dockerd } from '../helpers/dockerd.js';
import { startGlusterPool, type GlusterPool, type PoolPlugin } from '../helpers/gluster-pool.js';
import { mountsUnder } from '../helpers/host.js';
import { runDetached, runOnce } from '../helpers/containers.js';
import { volumeId } from '../../src/state/volume-id.js';
import { CATALOGUE_MS, CHECK_MS, hasLiveStatus, isEmpty, LIVE_STATUS_MS, PEER_GONE_MS, SWEEP_MS, waitFor } from '../helpers/wait.js';

// Three hosts (network namespaces) forming one GlusterFS pool; a plugin on
// host A serves a real dockerd, plugins on B and C are called directly.
let pool: GlusterPool;
let dockerd: Dockerd;
let a: PoolPlugin;
let b: PoolPlugin;
let c: PoolPlugin;
const ID = 'e'.repeat(64);

test.before(async () => {
  pool = await startGlusterPool(3);
  a = await pool.startPlugin(pool.hosts[0]!);
  b = await pool.startPlugin(pool.hosts[1]!);
  c = await pool.startPlugin(pool.hosts[2]!);
  dockerd = await startDockerd('replicated');
});
test.after.always(async () => {
  await dockerd?.stop();
  await pool?.stop();
});

type Status = Record<string, unknown>;

/** What `custom-volume doctor` says of GlusterFS leftovers on this host. */
const replicatedFindings = async (plugin: PoolPlugin): Promise<string[]> =>
  (((await plugin.call('Custom.Doctor', {})).body['Doctor'] as { findings: Array<{ what: string }> }).findings ?? [])
    .map((finding) => finding.what)
    .filter((what) => what.startsWith('replicated: '));
const statusOn = async (plugin: PoolPlugin, name: string): Promise<Status> =>
  ((await plugin.call('VolumeDriver.Get', { Name: name })).body['Volume'] as Record<string, Status> | undefined)?.['Status'] ?? {};

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** sha256 of every file of a brick, by path, leaving out Gluster's own .glusterfs. */
async function brickDigest(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.name === '.glusterfs') continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile())
        result[relative(dir, path)] = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
    }
  };
  await walk(dir);
  return result;
}

test.serial('global scope; A creates a replica-3 volume, a container writes; B lists, inspects, mounts and reads it', async (t) => {
  t.deepEqual((await a.call('VolumeDriver.Capabilities', {})).body, { Capabilities: { Scope: 'global' } });
  await dockerd.docker(['volume', 'create', '-d', a.driver, '-o', 'type=replicated', '-o', 'size=200M', 'shared']);
  await runOnce(dockerd, ['shared:/d'], 'echo from-host-a > /d/hello; df -k /d | tail -1');
  // B's first List mounts the pool and reads the catalogue; until that read ends, B answers from its own state.
  const listed = await waitFor(
    'host B to list "shared"',
    async () => ((await b.call('VolumeDriver.List', {})).body['Volumes'] as Array<{ Name: string }> | undefined) ?? [],
    (volumes) => volumes.some((v) => v.Name === 'shared'),
    CATALOGUE_MS,
    { every: 500 },
  );
  t.true(
    listed.some((v) => v.Name === 'shared'),
    'host B lists the volume host A made',
  );
  const status = await waitFor('live status of "shared" on B', () => statusOn(b, 'shared'), hasLiveStatus, LIVE_STATUS_MS, { every: 500 });
  t.like(status, {
    type: 'replicated',
    fs: 'glusterfs',
    replicas: 3,
    arbiter: false,
    bricksOnline: 3,
    size: '200 MiB',
    glusterVolume: 'cv_pool',
    directory: `/volumes/${volumeId('shared')}`,
  });
  t.regex(String(status['bricks']), /10\.77\.0\.1:.*cv_pool online, 10\.77\.0\.2:.* online, 10\.77\.0\.3:.* online/);
  const mountpoint = String((await b.call('VolumeDriver.Mount', { Name: 'shared', ID })).body['Mountpoint']);
  t.is(await readFile(join(mountpoint, 'hello'), 'utf8'), 'from-host-a\n');
  const mounted = await waitFor('live status of "shared" mounted on B', () => statusOn(b, 'shared'), hasLiveStatus, LIVE_STATUS_MS, {
    every: 500,
  });
  t.is(Number(mounted['capacityBytes']), 200 * 1024 ** 2, 'the directory quota is the size df shows');

  // Mounted on B: A's Remove is refused and names B; nothing is lost.
  const refused = await dockerd.docker(['volume', 'rm', 'shared']).catch((error: unknown) => error as Error);
  t.regex(
    String(refused instanceof Error ? refused.message : refused),
    /is mounted on other hosts \(10\.77\.0\.2\); stop the containers using it there first/,
  );
  t.is(await readFile(join(mountpoint, 'hello'), 'utf8'), 'from-host-a\n');
  t.is((await b.call('VolumeDriver.Unmount', { Name: 'shared', ID })).body['Err'], '');
});

test.serial('only the pool peers may mount: auth.allow lists them, and a host outside the pool cannot mount the pool', async (t) => {
  t.regex(await pool.hosts[0]!.gluster(['volume', 'get', 'cv_pool', 'auth.allow']), /auth\.allow\s+10\.77\.0\.1,10\.77\.0\.2,10\.77\.0\.3/);
  const stranger = await pool.addStranger();
  const target = join(pool.root, 'stranger-mount');
  await mkdir(target);
  const { execa } = await import('execa');
  const attempt = await execa('nsenter', [`--net=/run/netns/${stranger}`, 'mount', '-t', 'glusterfs', '10.77.0.1:/cv_pool', target], {
    reject: false,
    timeout: 60_000,
  });
  // mount.glusterfs may exit 0 and let its client die on the refusal: what counts is a readable mount.
  const readable = async () => {
    const listed = await execa('ls', [target], { reject: false, timeout: 20_000 });
    const mounted = (await mountsUnder(pool.root)).includes(target);
    if (mounted) await execa('umount', ['-l', target], { reject: false });
    return mounted && listed.exitCode === 0 && listed.stdout.includes('volumes');
  };
  t.false(await readable(), `a stranger mounted the pool (mount said ${attempt.exitCode}: ${attempt.stderr})`);
  // The control: from a peer's network the same mount works.
  await execa('nsenter', [`--net=/run/netns/${pool.hosts[1]!.netns}`, 'mount', '-t', 'glusterfs', '10.77.0.1:/cv_pool', target], {
    reject: false,
    timeout: 60_000,
  });
  t.true(await readable(), 'a peer mounts the pool');
});

test.serial('host C dies while a container writes: writes go on; C comes back, heal completes, bricks are identical', async (t) => {
  const writer = await runDetached(
    dockerd,
    ['shared:/d'],
    'i=0; while true; i=$((i+1)); do echo "line $i" >> /d/log; [ $((i % 20)) -eq 0 ] && echo $i > /d/count-$((i / 20 % 5)); sleep 0.02; done',
  );
  const lines = async () => Number((await dockerd.docker(['exec', writer, 'sh', '-c', 'wc -l < /d/log'])).stdout);
  await waitFor('the writer to write', lines, (n) => n > 0, CHECK_MS, { every: 500 });
  const hostC = pool.hosts[2]!;
  await hostC.kill();
  const during = await lines();
  // A killed brick's sockets close at once; a client gives up on a silent one after GlusterFS's ping timeout.
  const after = await waitFor('writes to go on with host C down', lines, (n) => n > during, PEER_GONE_MS, { every: 500 });
  t.true(after > during, 'writes continue with one host down');
  const down = await waitFor(
    "A's live status to count C's brick offline",
    () => statusOn(a, 'shared'),
    (s) => hasLiveStatus(s) && s['bricksOnline'] === 2,
    PEER_GONE_MS,
    { every: 500 },
  );
  t.like(down, { bricksOnline: 2 });
  await hostC.startGlusterd();
  // GlusterFS's own restart, no bound of the plugin's: glusterd starts C's brick at once and the peers reconnect (the test's 60 s).
  const back = await waitFor(
    "A's live status to count C's brick online again",
    () => statusOn(a, 'shared'),
    (s) => hasLiveStatus(s) && s['bricksOnline'] === 3,
    60_000,
    { every: 500 },
  );
  await dockerd.docker(['stop', '-t', '0', writer]);
  await dockerd.docker(['rm', writer]);
  const name = String(back['glusterVolume']);
  const directory = String(back['directory']);
  // The heal is GlusterFS's (the self-heal daemon, nudged here): the test's 60 s.
  const pending = await waitFor(
    'self-heal to complete (healPending 0)',
    async () => {
      await pool.hosts[0]!.gluster(['volume', 'heal', name]).catch(() => undefined); // can fail once right after a restart
      return (await statusOn(a, 'shared'))['healPending'];
    },
    (value) => value === 0,
    60_000,
    { every: 1000 },
  );
  t.is(pending, 0, 'self-heal completed');
  const digests = await Promise.all(pool.hosts.map((host) => brickDigest(join(host.brickRoot, name, directory))));
  t.true(Object.keys(digests[0]!).length >= 2);
  t.deepEqual(digests[1], digests[0]);
  t.deepEqual(digests[2], digests[0], 'the brick of the host that died caught up');
});

test.serial('a hung peer does not hang the plugin: Get and List answer within seconds', async (t) => {
  const hostC = pool.hosts[2]!;
  const { execa } = await import('execa');
  const pids = (await execa('ip', ['netns', 'pids', hostC.netns])).stdout.split('\n').filter(Boolean);
  for (const pid of pids) await execa('kill', ['-STOP', pid], { reject: false });
  try {
    const started = Date.now();
    const list = await b.call('VolumeDriver.List', {});
    const get = await b.call('VolumeDriver.Get', { Name: 'shared' });
    const elapsed = Date.now() - started;
    t.true(elapsed < 8000, `List + Get took ${elapsed} ms with a frozen peer`);
    t.true(((list.body['Volumes'] as Array<{ Name: string }>) ?? []).some((v) => v.Name === 'shared'));
    t.is(get.body['Err'], '', 'Get still finds the volume (the daemon would drop it otherwise)');
  } finally {
    for (const pid of pids) await execa('kill', ['-CONT', pid], { reject: false });
  }
});

test.serial('remove on A leaves no directory on any brick, no mount but the pools, no record on any host', async (t) => {
  // A live status field: Get gives live status up to 2 s, which a loaded pool right after a heal may miss.
  const directory = String(
    (await waitFor('live status of "shared" on A', () => statusOn(a, 'shared'), hasLiveStatus, LIVE_STATUS_MS, { every: 500 }))[
      'directory'
    ],
  );
  await dockerd.docker(['volume', 'rm', 'shared']);
  for (const host of pool.hosts) {
    t.deepEqual(await readdir(join(host.brickRoot, 'cv_pool', 'volumes')), [], `volumes/ on host ${host.name}`);
    for (const entry of await readdir(join(host.brickRoot, 'cv_pool', '.trash'))) {
      t.deepEqual(await readdir(join(host.brickRoot, 'cv_pool', '.trash', entry)), [], `.trash/${entry} on host ${host.name}`);
    }
  }
  t.is(directory.startsWith('/volumes/'), true);
  // Each host answers List from its catalogue: the volume leaves it once a read begun after the remove has ended.
  for (const [index, plugin] of [a, b, c].entries()) {
    const volumes = await waitFor(
      `host ${pool.hosts[index]!.name}'s List to drop "shared"`,
      async () => ((await plugin.call('VolumeDriver.List', {})).body['Volumes'] as Array<{ Name: string }> | undefined) ?? [],
      (listed) => !listed.some((v) => v.Name === 'shared'),
      CATALOGUE_MS,
      { every: 500 },
    );
    t.false(volumes.some((v) => v.Name === 'shared'));
  }
  const gone = await waitFor(
    'host B\'s Get to find no "shared"',
    async () => String((await b.call('VolumeDriver.Get', { Name: 'shared' })).body['Err']),
    (err) => /no such volume/.test(err),
    CATALOGUE_MS,
    { every: 500 },
  );
  t.regex(gone, /no such volume/);
  const left = (await mountsUnder(pool.root)).filter((target) => !/\/pools\/cv_pool$|\/brickfs$/.test(target));
  t.deepEqual(left, [], 'only the pool mounts and the brick filesystem stay');
});

test.serial(
  'what an interrupted create or remove leaves in the pool, and a dead mount marker, are swept; a live volume is untouched',
  async (t) => {
    const [hostA] = pool.hosts;
    // A volume that stays, mounted on B: its marker is live.
    t.is((await a.call('VolumeDriver.Create', { Name: 'live', Opts: { type: 'replicated', size: '32M' } })).body['Err'], '');
    const liveMount = String((await b.call('VolumeDriver.Mount', { Name: 'live', ID })).body['Mountpoint']);
    await writeFile(join(liveMount, 'f'), 'live\n');
    // Leftovers as a crash would leave them, made through a plain client of the pool.
    const root = join(pool.root, 'leftovers');
    await mkdir(root);
    const { execa } = await import('execa');
    await execa('nsenter', [`--net=/run/netns/${hostA!.netns}`, 'mount', '-t', 'glusterfs', `${hostA!.address}:/cv_pool`, root]);
    const uuidOf = async (index: number) => /UUID:\s*(\S+)/.exec(await pool.hosts[index]!.gluster(['system::', 'uuid', 'get']))![1]!;
    try {
      const uuidA = await uuidOf(0);
      const staged = `${uuidA}/gone-0123456789abcdef.0badf00d`;
      await mkdir(join(root, '.creating', staged, '_data'), { recursive: true });
      await hostA!.gluster(['volume', 'quota', 'cv_pool', 'limit-usage', `/.creating/${staged}`, '8MB']);
      await mkdir(join(root, '.trash', 'old-0123456789abcdef.deadbeef', '_data'), { recursive: true });
      await writeFile(join(root, '.trash', 'old-0123456789abcdef.deadbeef', '_data', 'f'), 'x');
      // A marker of host C on "live", as if C died with it mounted and then came back.
      const uuidC = await uuidOf(2);
      await writeFile(join(root, 'volumes', volumeId('live'), 'hosts', uuidC), '{"host":"10.77.0.3"}\n');
      // Doctor names what the sweep will delete (an old create, nothing in flight), and deletes nothing.
      const past = new Date(Date.now() - 3_600_000);
      await utimes(join(root, '.creating', staged), past, past);
      const findings = await replicatedFindings(a);
      t.true(
        findings.some((what) =>
          what.endsWith(`an interrupted create left ${join(pool.hosts[0]!.dir, 'pools', 'cv_pool', '.creating', staged)}`),
        ),
        findings.join('\n'),
      );
      t.true(await exists(join(root, '.creating', staged)), 'doctor deletes nothing');
      const left = await waitFor(
        'the sweeps of A and C',
        async () => {
          for (const plugin of [a, b, c]) await plugin.call('VolumeDriver.List', {}); // a List starts a sweep (at most one per 10 s)
          return [
            ...(await readdir(join(root, '.creating', uuidA))).map((e) => `.creating/${uuidA}/${e}`),
            ...(await readdir(join(root, '.trash', uuidA))).map((e) => `.trash/${uuidA}/${e}`),
            ...(await readdir(join(root, 'volumes', volumeId('live'), 'hosts'))).filter((e) => e === uuidC),
          ];
        },
        isEmpty,
        SWEEP_MS,
        { every: 1000 },
      );
      t.deepEqual(left, [], 'swept');
      t.deepEqual(await replicatedFindings(a), [], 'doctor finds nothing left once swept');
      t.notRegex(await hostA!.gluster(['volume', 'quota', 'cv_pool', 'list']), /gone-0123456789abcdef/, 'the quota limit went too');
      t.is(await readFile(join(liveMount, 'f'), 'utf8'), 'live\n');
      t.is((await readdir(join(root, 'volumes', volumeId('live'), 'hosts'))).length, 1, "B's live marker stays");
    } finally {
      await execa('umount', [root], { reject: false });
    }
    t.is((await b.call('VolumeDriver.Unmount', { Name: 'live', ID })).body['Err'], '');
    t.is((await a.call('VolumeDriver.Remove', { Name: 'live' })).body['Err'], '');
  },
);

test.serial(
  'a volume of the old layout (a GlusterFS volume of its own) is listed, mounted, guarded and removed; its bricks are swept by UUID',
  async (t) => {
    const id = volumeId('old');
    const name = `cv_${id}`;
    const [hostA] = pool.hosts;
    await hostA!.gluster(['volume', 'create', name, 'replica', '3', ...pool.hosts.map((h) => `${h.address}:${join(h.brickRoot, id)}`)]);
    const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    await hostA!.gluster(['volume', 'set', name, 'user.custom-volume.name', encode('old')]);
    await hostA!.gluster([
      'volume',
      'set',
      name,
      'user.custom-volume.spec',
      encode(JSON.stringify({ type: 'replicated', replicas: 3, arbiter: false })),
    ]);
    await hostA!.gluster(['volume', 'set', name, 'user.custom-volume.created', '2026-11-01T00:00:00.000Z']);
    await hostA!.gluster(['volume', 'start', name]);
    const listed = async (plugin: PoolPlugin) =>
      ((await plugin.call('VolumeDriver.List', {})).body['Volumes'] as Array<{ Name: string }>).some((v) => v.Name === 'old');
    // The catalogue is read at most every 2 s: B may answer from its last read for that long.
    t.true(
      await waitFor('host B to list "old"', () => listed(b), Boolean, CATALOGUE_MS, { every: 500 }),
      'host B lists the old-layout volume',
    );
    t.like(await waitFor('live status of "old" on B', () => statusOn(b, 'old'), hasLiveStatus, LIVE_STATUS_MS, { every: 500 }), {
      glusterVolume: name,
      bricksOnline: 3,
    });
    const mountpoint = String((await b.call('VolumeDriver.Mount', { Name: 'old', ID })).body['Mountpoint']);
    await writeFile(join(mountpoint, 'f'), 'old data\n');
    // Every host's sweep gives an old volume without access control the peers' list.
    const allow = await waitFor(
      'a sweep to set auth.allow on the old volume',
      async () => {
        await b.call('VolumeDriver.List', {}); // a List starts a sweep (at most one per 10 s)
        return hostA!.gluster(['volume', 'get', name, 'auth.allow']);
      },
      (text) => /10\.77\.0\.1,10\.77\.0\.2,10\.77\.0\.3/.test(text),
      SWEEP_MS,
      { every: 1000 },
    );
    t.regex(allow, /auth\.allow\s+10\.77\.0\.1,10\.77\.0\.2,10\.77\.0\.3/);
    t.regex(
      String((await a.call('VolumeDriver.Remove', { Name: 'old' })).body['Err']),
      /is mounted on other hosts \(1 client of GlusterFS volume cv_/,
    );
    t.is((await b.call('VolumeDriver.Unmount', { Name: 'old', ID })).body['Err'], '');
    t.is((await a.call('VolumeDriver.Remove', { Name: 'old' })).body['Err'], '');
    t.notRegex(await hostA!.gluster(['volume', 'list']), new RegExp(name));
    // Before C sweeps: doctor on C names its brick of the removed volume (made old: the sweep waits 3 s here).
    const brickC = join(pool.hosts[2]!.brickRoot, id);
    const past = new Date(Date.now() - 3_600_000);
    await utimes(brickC, past, past);
    t.true(
      (await replicatedFindings(c)).includes(
        `replicated: brick directory ${brickC} belongs to no GlusterFS volume and no volume of this host`,
      ),
    );
    const left = await waitFor(
      'the hosts to sweep the bricks of the old volume',
      async () => {
        for (const plugin of [b, c]) await plugin.call('VolumeDriver.List', {}); // each host sweeps its own bricks
        return Promise.all(pool.hosts.map(async (host) => (await readdir(host.brickRoot)).filter((entry) => entry === id)));
      },
      (entries) => entries.every(isEmpty),
      SWEEP_MS,
      { every: 1000 },
    );
    t.deepEqual(left, [[], [], []], 'old-layout brick directories left');
    for (const host of pool.hosts) t.true((await readdir(host.brickRoot)).includes('cv_pool'), 'the pool bricks are never swept');
    t.deepEqual(await replicatedFindings(c), [], "doctor on C: nothing left once C's sweep ran");
  },
);

test.serial('single-host default: a pool of three bricks on one host; create, write, read back, remove, retain', async (t) => {
  const alone = await pool.startPlugin(pool.hosts[0]!, { alone: true });
  const bricksAlone = join(pool.hosts[0]!.dir, 'bricks-alone');
  t.deepEqual((await alone.call('VolumeDriver.Capabilities', {})).body, { Capabilities: { Scope: 'local' } });
  t.is((await alone.call('VolumeDriver.Create', { Name: 'solo', Opts: { type: 'replicated' } })).body['Err'], '');
  const mountpoint = String((await alone.call('VolumeDriver.Mount', { Name: 'solo', ID })).body['Mountpoint']);
  await dockerd.docker(['run', '--rm', '--network', 'none', '-v', `${mountpoint}:/d`, TEST_IMAGE, 'sh', '-c', 'echo solo > /d/f']);
  const status = await waitFor('live status of "solo"', () => statusOn(alone, 'solo'), hasLiveStatus, LIVE_STATUS_MS, { every: 500 });
  t.like(status, { replicas: 3, bricksOnline: 3, size: 'unlimited', glusterVolume: 'cv_solo' });
  const bricks = (await readdir(bricksAlone)).sort();
  t.deepEqual(bricks, ['cv_solo-b1', 'cv_solo-b2', 'cv_solo-b3']);
  const id = volumeId('solo');
  for (const brick of bricks) t.is(await readFile(join(bricksAlone, brick, 'volumes', id, '_data', 'f'), 'utf8'), 'solo\n');
  await alone.call('VolumeDriver.Unmount', { Name: 'solo', ID });
  t.is((await alone.call('VolumeDriver.Remove', { Name: 'solo' })).body['Err'], '');
  for (const brick of bricks) t.deepEqual(await readdir(join(bricksAlone, brick, 'volumes')), []);

  // retain=true keeps the data in .retained/ of the pool; the name is free again.
  await alone.call('VolumeDriver.Create', { Name: 'kept', Opts: { type: 'replicated', retain: 'true' } });
  const keptMount = String((await alone.call('VolumeDriver.Mount', { Name: 'kept', ID })).body['Mountpoint']);
  await dockerd.docker(['run', '--rm', '--network', 'none', '-v', `${keptMount}:/d`, TEST_IMAGE, 'sh', '-c', 'echo precious > /d/f']);
  await alone.call('VolumeDriver.Unmount', { Name: 'kept', ID });
  t.is((await alone.call('VolumeDriver.Remove', { Name: 'kept' })).body['Err'], '');
  t.is((await alone.call('VolumeDriver.Create', { Name: 'kept', Opts: { type: 'replicated' } })).body['Err'], '');
  for (const brick of bricks) {
    const [retained] = await readdir(join(bricksAlone, brick, '.retained'));
    t.is(await readFile(join(bricksAlone, brick, '.retained', retained!, '_data', 'f'), 'utf8'), 'precious\n');
    t.deepEqual(await readdir(join(bricksAlone, brick, 'volumes', volumeId('kept'), '_data')), [], 'the new volume starts empty');
  }
  t.is((await alone.call('VolumeDriver.Remove', { Name: 'kept' })).body['Err'], '');
  await alone.stop();
  t.deepEqual(
    (await mountsUnder(pool.root)).filter((target) => target.includes('alone')),
    [],
    'a stopped plugin leaves no mount of its pool',
  );
});

test.serial('without a reachable pool a replicated Create fails at once with a clear Err', async (t) => {
  const hostB = pool.hosts[1]!;
  await hostB.kill();
  const started = Date.now();
  const res = await b.call('VolumeDriver.Create', { Name: 'nopool', Opts: { type: 'replicated' } });
  t.regex(
    String(res.body['Err']),
    /^volume "nopool": replicated volumes need a reachable GlusterFS pool \(glusterd on this host\): gluster pool list: .*(Connection failed|daemon)/,
  );
  t.true(Date.now() - started < 5000);
  await hostB.startGlusterd();
});
