import test, { type ExecutionContext } from 'ava';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSystemTools, type GlusterBrick, type GlusterVolume } from '../../src/system/index.js';
import { mergedAllowList, peerAddresses } from '../../src/backings/replicated/access.js';
import { isLegacyBrickName, legacyVolumeId, poolVolumeName, type PoolKind } from '../../src/backings/replicated/names.js';
import { GlusterPools, type PoolLayout } from '../../src/backings/replicated/pool.js';
import type { PoolVolumes } from '../../src/backings/replicated/pool-volumes.js';
import { GlusterSweeper } from '../../src/backings/replicated/sweeper.js';
import { UsageSnapshot, type SeenBindMount } from '../../src/volumes/usage.js';
import { FakeGluster, volume, type CreateStep } from '../helpers/fake-gluster.js';
import { age, OTHER, SELF, sweepLayout } from '../helpers/pool-scene.js';
import { testTempDir } from '../helpers/temp.js';

// The pool's and the sweeper's own logic, over a fake gluster CLI that
// records what it is asked and real directories under the OS temp dir.

const refuse =
  (message: string): CreateStep =>
  () => {
    throw new Error(message);
  };

const PEERS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const MUTATIONS = ['volumeCreate', 'volumeSet', 'volumeStart', 'quotaEnable'];

interface PoolRig {
  readonly gluster: FakeGluster;
  readonly pools: GlusterPools;
  readonly brickRoot: string;
}

async function poolRig(
  t: ExecutionContext,
  peerHosts: readonly string[],
  gluster = new FakeGluster(),
  poolName = 'cv_pool',
  tls = false,
): Promise<PoolRig> {
  const root = await testTempDir(t, 'replicated-pool');
  const brickRoot = join(root, 'bricks');
  const layout: PoolLayout = {
    host: peerHosts[0]!,
    peers: peerHosts.map((host) => ({ host, brickRoot })),
    brickRoot,
    poolMountDir: join(root, 'pools'),
    poolName,
    tls,
    tlsDir: '/usr/lib/ssl',
  };
  return { gluster, pools: new GlusterPools(createSystemTools(5000), gluster.asTools(), layout), brickRoot };
}

// names.ts

test('legacy brick names are a volume id, alone or with a single-host suffix -b1…3', (t) => {
  t.true(isLegacyBrickName('myvol-0123456789abcdef'));
  t.true(isLegacyBrickName('myvol-0123456789abcdef-b2'));
  t.true(isLegacyBrickName('my_data-vol-0123456789abcdef-b1'));
  t.true(isLegacyBrickName('myvol-0123456789abcdef-b3'));
});

test('pool bricks, GlusterFS and filesystem entries and other names are not legacy bricks', (t) => {
  for (const name of [
    'cv_pool',
    'cv_pool-b1',
    'cv_pool_arbiter',
    'cv_pool_arbiter-b3',
    '.glusterfs',
    'lost+found',
    'random',
    'x-0123456789abcdeg',
    'x-0123456789ABCDEF',
    'x-0123456789abcde',
    'myvol-0123456789abcdef-b4',
    '-0123456789abcdef',
    '../x-0123456789abcdef',
  ]) {
    t.false(isLegacyBrickName(name), name);
  }
});

test('a legacy GlusterFS volume name gives back its volume id; pool and other names give none', (t) => {
  t.is(legacyVolumeId('cv_x-0123456789abcdef'), 'x-0123456789abcdef');
  t.is(legacyVolumeId('cv_pool'), undefined);
  t.is(legacyVolumeId('cv_pool_arbiter'), undefined);
  t.is(legacyVolumeId('x-0123456789abcdef'), undefined);
  t.is(legacyVolumeId('someone-elses'), undefined);
});

// access.ts

test('an unset or "*" allow list becomes the peers', (t) => {
  t.is(mergedAllowList(undefined, ['10.0.0.1', '10.0.0.2']), '10.0.0.1,10.0.0.2');
  t.is(mergedAllowList('*', ['10.0.0.1', '10.0.0.2']), '10.0.0.1,10.0.0.2');
  t.is(mergedAllowList(' * ', ['10.0.0.1']), '10.0.0.1');
});

test('an allow list that already has every peer needs no change', (t) => {
  t.is(mergedAllowList('10.0.0.1,10.0.0.2', ['10.0.0.1', '10.0.0.2']), undefined);
  t.is(mergedAllowList('10.0.0.2, 10.0.0.1', ['10.0.0.1', '10.0.0.2']), undefined);
  t.is(mergedAllowList('192.168.*,10.0.0.1', ['10.0.0.1']), undefined);
});

test("an operator's allow list is kept and only gains the peers it lacks, never narrowed", (t) => {
  t.is(mergedAllowList('192.168.*', ['10.0.0.1']), '192.168.*,10.0.0.1');
  t.is(mergedAllowList('10.0.0.1,172.16.0.9', ['10.0.0.1', '10.0.0.2']), '10.0.0.1,172.16.0.9,10.0.0.2');
});

test('peer addresses are sorted, IP literals taken as they are', async (t) => {
  t.deepEqual(await peerAddresses(['10.0.0.2', '10.0.0.1']), ['10.0.0.1', '10.0.0.2']);
  t.deepEqual(await peerAddresses(['10.0.0.1', '10.0.0.1', 'fd00::1']), ['10.0.0.1', 'fd00::1']);
});

test('a peer name is resolved to its addresses', async (t) => {
  const addresses = await peerAddresses(['localhost']);
  t.true(addresses.includes('127.0.0.1'), addresses.join(','));
  t.true(
    addresses.every((address) => address === '127.0.0.1' || address === '::1'),
    addresses.join(','),
  );
});

test('a peer name that does not resolve is an error naming the host and CUSTOM_GLUSTER_PEERS', async (t) => {
  const error = await t.throwsAsync(peerAddresses(['10.0.0.1', 'no-such-host.invalid']));
  t.regex(error.message, /no-such-host\.invalid/);
  t.regex(error.message, /CUSTOM_GLUSTER_PEERS/);
});

// pool.ts

test('a single host makes the pool unforced from three bricks of its own, then allows the peers, starts it and turns quota on', async (t) => {
  const { gluster, pools, brickRoot } = await poolRig(t, ['10.0.0.1']);
  const info = await pools.ensure('replica');
  t.deepEqual(gluster.callsTo('volumeCreate'), [
    ['cv_pool', 3, false, [1, 2, 3].map((i) => ({ host: '10.0.0.1', path: join(brickRoot, `cv_pool-b${i}`) })), false],
  ]);
  t.deepEqual(gluster.callsTo('volumeSet'), [['cv_pool', 'auth.allow', '10.0.0.1']]);
  t.deepEqual(gluster.callsTo('volumeStart'), [['cv_pool']]);
  t.deepEqual(gluster.callsTo('quotaEnable'), [['cv_pool']]);
  t.is(info.name, 'cv_pool');
  t.deepEqual(await readdir(brickRoot), [], 'the brick root is made; GlusterFS makes the bricks');
});

test('the arbiter pool is made as replica 3 arbiter 1 under its own name', async (t) => {
  const { gluster, pools } = await poolRig(t, PEERS);
  await pools.ensure('arbiter');
  const [create] = gluster.callsTo('volumeCreate');
  t.is(create?.[0], 'cv_pool_arbiter');
  t.is(create?.[2], true);
  t.deepEqual(
    (create?.[3] as GlusterBrick[]).map((brick) => brick.host),
    PEERS,
  );
  t.deepEqual(gluster.callsTo('volumeSet'), [['cv_pool_arbiter', 'auth.allow', PEERS.join(',')]]);
});

test('a configured pool name names both pool volumes and their bricks', async (t) => {
  const { gluster, pools, brickRoot } = await poolRig(t, ['10.0.0.1'], new FakeGluster(), 'team_pool');
  t.is(pools.nameOf('replica'), 'team_pool');
  t.is(pools.nameOf('arbiter'), 'team_pool_arbiter');
  await pools.ensure('replica');
  await pools.ensure('arbiter');
  t.deepEqual(
    gluster.callsTo('volumeCreate').map((args) => [args[0], (args[3] as GlusterBrick[]).map((b) => b.path)]),
    [
      ['team_pool', [1, 2, 3].map((i) => join(brickRoot, `team_pool-b${i}`))],
      ['team_pool_arbiter', [1, 2, 3].map((i) => join(brickRoot, `team_pool_arbiter-b${i}`))],
    ],
  );
  t.deepEqual([...gluster.volumes.keys()], ['team_pool', 'team_pool_arbiter']);
});

test('a missing pool listed as no volumes (not a refusal) is created too', async (t) => {
  const gluster = new FakeGluster();
  gluster.missing = 'empty';
  const { pools } = await poolRig(t, ['10.0.0.1'], gluster);
  t.is(await pools.existing('replica'), undefined);
  await pools.ensure('replica');
  t.is(gluster.callsTo('volumeCreate').length, 1);
  t.true(gluster.volumes.get('cv_pool')?.started);
});

for (const [why, refusal] of [
  [
    'three bricks on the same server',
    'volume create: cv_pool: failed: Multiple bricks of a replicate volume are present on the same server. This setup is not optimal.',
  ],
  [
    'bricks in the root partition',
    'volume create: cv_pool: failed: The brick 10.0.0.1:/b/cv_pool-b1 is being created in the root partition. It is recommended that you don’t use the system’s root partition for storage backend.',
  ],
] as const) {
  test(`on a single host, GlusterFS refusing ${why} is retried once with force`, async (t) => {
    const gluster = new FakeGluster();
    gluster.createSteps = [refuse(refusal)];
    const { pools } = await poolRig(t, ['10.0.0.1'], gluster);
    await pools.ensure('replica');
    t.deepEqual(
      gluster.callsTo('volumeCreate').map((args) => args[4]),
      [false, true],
    );
    t.true(gluster.volumes.get('cv_pool')?.started);
  });
}

test('on a single host any other refusal is not forced and ensure rejects with it', async (t) => {
  const gluster = new FakeGluster();
  gluster.createSteps = [refuse('volume create: cv_pool: failed: Brick may be containing or be contained by an existing brick')];
  const { pools } = await poolRig(t, ['10.0.0.1'], gluster);
  const error = await t.throwsAsync(pools.ensure('replica'));
  t.regex(error.message, /cv_pool/);
  t.regex(error.message, /Brick may be containing or be contained by an existing brick/);
  t.notRegex(error.message, /filesystem of its own/);
  t.deepEqual(
    gluster.callsTo('volumeCreate').map((args) => args[4]),
    [false],
  );
  t.deepEqual(gluster.callsTo('volumeSet'), []);
  t.deepEqual(gluster.callsTo('volumeStart'), []);
});

test('with peers a root-partition refusal is never forced, and the error says to give bricks a filesystem of their own', async (t) => {
  const gluster = new FakeGluster();
  gluster.createSteps = [refuse('volume create: cv_pool: failed: The brick 10.0.0.1:/b/cv_pool is being created in the root partition.')];
  const { pools } = await poolRig(t, PEERS, gluster);
  const error = await t.throwsAsync(pools.ensure('replica'));
  t.regex(error.message, /root partition/);
  t.regex(error.message, /filesystem of its own/);
  t.is(gluster.callsTo('volumeCreate').length, 1);
  t.false(gluster.volumes.has('cv_pool'));
});

test('with peers a same-server refusal is not forced either', async (t) => {
  const gluster = new FakeGluster();
  gluster.createSteps = [refuse('volume create: cv_pool: failed: Multiple bricks of a replicate volume are present on the same server.')];
  const { pools } = await poolRig(t, PEERS, gluster);
  await t.throwsAsync(pools.ensure('replica'), { message: /same server/ });
  t.deepEqual(
    gluster.callsTo('volumeCreate').map((args) => args[4]),
    [false],
  );
});

test('with peers the pool has one brick on each of the first three peers', async (t) => {
  const { gluster, pools, brickRoot } = await poolRig(t, [...PEERS, '10.0.0.4']);
  await pools.ensure('replica');
  t.deepEqual(gluster.callsTo('volumeCreate')[0]?.[3], [
    { host: '10.0.0.1', path: join(brickRoot, 'cv_pool') },
    { host: '10.0.0.2', path: join(brickRoot, 'cv_pool') },
    { host: '10.0.0.3', path: join(brickRoot, 'cv_pool') },
  ]);
  t.deepEqual(gluster.callsTo('volumeSet'), [['cv_pool', 'auth.allow', [...PEERS, '10.0.0.4'].join(',')]]);
});

test('a pool another host created meanwhile ("already exists") is not an error and is still prepared', async (t) => {
  const gluster = new FakeGluster();
  gluster.createSteps = [
    (name, fake) => {
      fake.add(volume(name, { started: true }));
      throw new Error(`volume create: ${name}: failed: Volume ${name} already exists`);
    },
  ];
  const { pools } = await poolRig(t, PEERS, gluster);
  const info = await pools.ensure('replica');
  t.is(info.name, 'cv_pool');
  t.is(gluster.callsTo('volumeCreate').length, 1);
  t.deepEqual(gluster.callsTo('volumeSet'), [['cv_pool', 'auth.allow', PEERS.join(',')]]);
  t.deepEqual(gluster.callsTo('volumeStart'), [], 'it is started already');
  t.deepEqual(gluster.callsTo('quotaEnable'), [['cv_pool']]);
});

test('a pool that is started, allowed to the peers and has quota changes nothing', async (t) => {
  const ready = volume('cv_pool', {
    started: true,
    options: { 'auth.allow': PEERS.join(','), 'features.quota-deem-statfs': 'on' },
  });
  const { gluster, pools } = await poolRig(t, PEERS, new FakeGluster([ready]));
  t.deepEqual(await pools.ensure('replica'), ready);
  t.deepEqual(
    gluster.calls.filter((call) => MUTATIONS.includes(call.method)),
    [],
  );
});

test("an existing pool with an operator's allow list only gains the peers, and a stopped one is started", async (t) => {
  const existing = volume('cv_pool', { options: { 'auth.allow': '192.168.*,10.0.0.2' } });
  const { gluster, pools } = await poolRig(t, PEERS, new FakeGluster([existing]));
  await pools.ensure('replica');
  t.deepEqual(gluster.callsTo('volumeCreate'), []);
  t.deepEqual(gluster.callsTo('volumeSet'), [['cv_pool', 'auth.allow', '192.168.*,10.0.0.2,10.0.0.1,10.0.0.3']]);
  t.deepEqual(gluster.callsTo('volumeStart'), [['cv_pool']]);
  t.deepEqual(gluster.callsTo('quotaEnable'), [['cv_pool']]);
});

test('ensure prepares a pool once per process, and tries again after a failure', async (t) => {
  const gluster = new FakeGluster();
  gluster.createSteps = [refuse('volume create: cv_pool: failed: Host 10.0.0.2 is not in Peer Cluster state')];
  const { pools } = await poolRig(t, PEERS, gluster);
  await t.throwsAsync(pools.ensure('replica'), { message: /not in Peer Cluster state/ });
  const [first, second] = [pools.ensure('replica'), pools.ensure('replica')];
  t.is(first, second);
  await first;
  await pools.ensure('replica');
  t.is(gluster.callsTo('volumeCreate').length, 2);
  t.is(gluster.callsTo('volumeStart').length, 1);
});

test('a volume info failure other than "does not exist" is not taken for a missing pool', async (t) => {
  const gluster = new FakeGluster();
  gluster.infoError = new Error('gluster volume info: Connection failed. Please check if gluster daemon is operational.');
  const { pools } = await poolRig(t, PEERS, gluster);
  await t.throwsAsync(pools.ensure('replica'), { message: /Connection failed/ });
  t.deepEqual(gluster.callsTo('volumeCreate'), []);
});

// sweeper.ts

interface SweepRig {
  readonly gluster: FakeGluster;
  readonly sweeper: GlusterSweeper;
  readonly brickRoot: string;
  /** Makes directories (with a file inside) in the brick root. */
  readonly make: (...names: string[]) => Promise<void>;
  readonly left: () => Promise<string[]>;
}

async function sweepRig(
  t: ExecutionContext,
  volumes: readonly GlusterVolume[],
  sweepAgeMs = 1,
  known: readonly string[] = [],
): Promise<SweepRig> {
  const layout = await sweepLayout(t, PEERS, sweepAgeMs);
  const { brickRoot } = layout;
  const gluster = new FakeGluster(volumes);
  const pools = {
    allowedAddresses: async () => ['10.0.0.1'],
    nameOf: (kind: PoolKind) => poolVolumeName('cv_pool', kind),
    mounted: async () => {
      throw new Error('no pool volume in these tests');
    },
  } as unknown as GlusterPools;
  const poolVolumes = {} as unknown as PoolVolumes;
  const sweeper = new GlusterSweeper(
    createSystemTools(5000),
    gluster.asTools(),
    pools,
    poolVolumes,
    layout,
    async () => SELF,
    () => new Set(known),
  );
  return {
    gluster,
    sweeper,
    brickRoot,
    make: async (...names) => {
      for (const name of names) {
        await mkdir(join(brickRoot, name));
        await writeFile(join(brickRoot, name, 'data'), 'x');
      }
    },
    left: async () => (await readdir(brickRoot)).sort(),
  };
}

const brick = (root: string, entry: string, hostUuid: string, host = '10.0.0.1'): GlusterBrick => ({
  host,
  path: join(root, entry),
  hostUuid,
});

test('legacy bricks of this host that no volume uses are removed; used ones (by UUID, or named under this host) and names not ours stay', async (t) => {
  const rig = await sweepRig(t, []);
  const root = rig.brickRoot;
  rig.gluster.add(
    volume('cv_b-0123456789abcdef', { bricks: [brick(root, 'b-0123456789abcdef', SELF)], options: { 'auth.allow': '10.0.0.1' } }),
  );
  // Named under this host's name but with another UUID (a host replaced under its name): still referenced, kept.
  rig.gluster.add(
    volume('cv_c-0123456789abcdef', { bricks: [brick(root, 'c-0123456789abcdef', OTHER)], options: { 'auth.allow': '10.0.0.1' } }),
  );
  // The same path on another host's glusterd: not ours to keep.
  rig.gluster.add(
    volume('cv_f-0123456789abcdef', {
      bricks: [brick(root, 'f-0123456789abcdef', OTHER, '10.0.0.9')],
      options: { 'auth.allow': '10.0.0.1' },
    }),
  );
  // Ours whatever the host is called in volume info.
  rig.gluster.add(
    volume('cv_e-0123456789abcdef', {
      bricks: [brick(root, 'e-0123456789abcdef-b1', SELF, 'node-1.example')],
      options: { 'auth.allow': '10.0.0.1' },
    }),
  );
  await rig.make(
    'a-0123456789abcdef',
    'b-0123456789abcdef',
    'c-0123456789abcdef',
    'd-0123456789abcdef-b2',
    'e-0123456789abcdef-b1',
    'f-0123456789abcdef',
    'cv_pool',
    'cv_pool-b1',
    'cv_pool_arbiter-b3',
    'notours',
    'lost+found',
    '.glusterfs',
  );
  await age();
  await rig.sweeper.sweep();
  t.deepEqual(await rig.left(), [
    '.glusterfs',
    'b-0123456789abcdef',
    'c-0123456789abcdef',
    'cv_pool',
    'cv_pool-b1',
    'cv_pool_arbiter-b3',
    'e-0123456789abcdef-b1',
    'lost+found',
    'notours',
  ]);
  t.deepEqual(rig.gluster.callsTo('volumeSet'), [], 'the legacy volumes have an allow list already');
});

test('when GlusterFS cannot list its volumes nothing is removed and the sweep still resolves', async (t) => {
  const rig = await sweepRig(t, []);
  rig.gluster.infoError = new Error('gluster volume info: Connection failed. Please check if gluster daemon is operational.');
  await rig.make('a-0123456789abcdef', 'b-0123456789abcdef-b1');
  await age();
  await t.notThrowsAsync(rig.sweeper.sweep());
  t.deepEqual(await rig.left(), ['a-0123456789abcdef', 'b-0123456789abcdef-b1']);
  t.deepEqual(rig.gluster.callsTo('volumeSet'), []);
});

test('legacy bricks but no GlusterFS volumes at all (glusterd lost its state) removes nothing', async (t) => {
  const rig = await sweepRig(t, []);
  await rig.make('a-0123456789abcdef', 'b-0123456789abcdef-b1');
  await age();
  await rig.sweeper.sweep();
  t.deepEqual(await rig.left(), ['a-0123456789abcdef', 'b-0123456789abcdef-b1']);
});

test('an unused legacy brick younger than the sweep age is left alone', async (t) => {
  const rig = await sweepRig(t, [volume('someone-elses', { bricks: [{ host: 'h', path: '/x', hostUuid: OTHER }] })], 60_000);
  await rig.make('a-0123456789abcdef');
  await age();
  await rig.sweeper.sweep();
  t.deepEqual(await rig.left(), ['a-0123456789abcdef']);
});

test('a missing brick root is no error', async (t) => {
  const rig = await sweepRig(t, [volume('someone-elses')]);
  await rm(rig.brickRoot, { recursive: true });
  await t.notThrowsAsync(rig.sweeper.sweep());
});

test('legacy volumes without an allow list get the peers on the first sweep; volumes not ours are not touched', async (t) => {
  const rig = await sweepRig(t, [
    volume('cv_x-0123456789abcdef'),
    volume('cv_y-0123456789abcdef', { options: { 'auth.allow': '*' } }),
    volume('cv_z-0123456789abcdef', { options: { 'auth.allow': '10.0.0.1' } }),
    volume('cv_w-0123456789abcdef', { options: { 'auth.allow': '192.168.*' } }),
    volume('someone-elses'),
    volume('cv_notanid'),
  ]);
  await rig.sweeper.sweep();
  t.deepEqual(rig.gluster.callsTo('volumeSet'), [
    ['cv_x-0123456789abcdef', 'auth.allow', '10.0.0.1'],
    ['cv_y-0123456789abcdef', 'auth.allow', '10.0.0.1'],
    ['cv_w-0123456789abcdef', 'auth.allow', '192.168.*,10.0.0.1'],
  ]);
});

test('a sweep asked for again within 10 s does nothing', async (t) => {
  const rig = await sweepRig(t, [volume('cv_x-0123456789abcdef')]);
  await rig.sweeper.sweep();
  await rig.make('a-0123456789abcdef');
  await age();
  await rig.sweeper.sweep();
  t.is(rig.gluster.callsTo('volumeInfo').length, 1);
  t.deepEqual(await rig.left(), ['a-0123456789abcdef']);
});

// usage.ts

const POOL_MOUNTS: SeenBindMount[] = [
  { majMin: '0:50', source: 'vm:/cv_pool', root: '/volumes/a-1/_data' },
  { majMin: '0:50', source: 'vm:/cv_pool', root: '/volumes/a-1' },
  { majMin: '0:50', source: 'vm:/cv_pool', root: '/volumes/b-2/_data' },
  { majMin: '0:50', source: 'vm:/cv_pool', root: '/volumes/a-10/_data' },
];

test("in a shared filesystem only bind mounts strictly inside the volume's directory are its users", (t) => {
  const usage = new UsageSnapshot(POOL_MOUNTS);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [], subtree: '/volumes/a-1' }), 1);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [], subtree: '/volumes/b-2' }), 1);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [], subtree: '/volumes/a-10' }), 1);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [], subtree: '/volumes/c-3' }), 0);
  t.is(usage.usersOf({ majMins: ['0:51'], sources: [], subtree: '/volumes/a-1' }), 0);
});

test('without a subtree every bind mount of the device counts, as before', (t) => {
  const usage = new UsageSnapshot([...POOL_MOUNTS, { majMin: '0:51', source: '/dev/loop1' }]);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [] }), 4);
  t.is(usage.usersOf({ majMins: ['0:50', '0:51'], sources: ['/dev/loop1'] }), 5);
});

test('a mount without a known root is never inside a subtree', (t) => {
  const usage = new UsageSnapshot([{ majMin: '0:50', source: 'vm:/cv_pool' }]);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [], subtree: '/volumes/a-1' }), 0);
  t.is(usage.usersOf({ majMins: ['0:50'], sources: [] }), 1);
});

test('a legacy brick whose volume this host still knows is kept even when GlusterFS no longer lists it (glusterd lost its state)', async (t) => {
  const rig = await sweepRig(t, [volume('someone-elses', { bricks: [] })], 1, ['k-0123456789abcdef']);
  await rig.make('k-0123456789abcdef', 'k-0123456789abcdef-b2', 'u-0123456789abcdef');
  await age();
  await rig.sweeper.sweep();
  t.deepEqual(await rig.left(), ['k-0123456789abcdef', 'k-0123456789abcdef-b2']);
});

test('volume info without brick owners (no hostUuid) judges nothing: no brick is swept', async (t) => {
  const rig = await sweepRig(t, []);
  rig.gluster.add(volume('cv_b-0123456789abcdef', { bricks: [{ host: '10.0.0.1', path: join(rig.brickRoot, 'b-0123456789abcdef') }] }));
  await rig.make('a-0123456789abcdef');
  await age();
  await rig.sweeper.sweep();
  t.deepEqual(await rig.left(), ['a-0123456789abcdef']);
});

test('with TLS a new pool gets client.ssl and server.ssl before it first starts', async (t) => {
  const { gluster, pools } = await poolRig(t, PEERS, new FakeGluster(), 'cv_pool', true);
  await pools.ensure('replica');
  t.deepEqual(
    gluster.calls.filter((call) => ['volumeSet', 'volumeStart'].includes(call.method)).map((call) => [call.method, ...call.args]),
    [
      ['volumeSet', 'cv_pool', 'auth.allow', PEERS.join(',')],
      ['volumeSet', 'cv_pool', 'client.ssl', 'on'],
      ['volumeSet', 'cv_pool', 'server.ssl', 'on'],
      ['volumeStart', 'cv_pool'],
    ],
  );
});

test('with TLS a running pool without it is refused with the commands that turn it on; nothing is changed', async (t) => {
  const running = volume('cv_pool', { started: true, options: { 'auth.allow': PEERS.join(','), 'features.quota-deem-statfs': 'on' } });
  const { gluster, pools } = await poolRig(t, PEERS, new FakeGluster([running]), 'cv_pool', true);
  await t.throwsAsync(pools.ensure('replica'), {
    message:
      /CUSTOM_GLUSTER_TLS=1 but GlusterFS volume cv_pool runs without TLS; .*gluster volume stop cv_pool; gluster volume set cv_pool client\.ssl on; gluster volume set cv_pool server\.ssl on; gluster volume start cv_pool/,
  });
  t.deepEqual(
    gluster.calls.filter((call) => MUTATIONS.includes(call.method)),
    [],
  );
});
