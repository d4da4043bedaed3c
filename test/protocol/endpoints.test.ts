import test from 'ava';
import { stat } from 'node:fs/promises';
import { startTestPlugin, type PluginFixture } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { hasLiveStatus, LIVE_STATUS_MS, waitFor } from '../helpers/wait.js';

// The real server and the real plain backing (loop devices, mkfs, mount) on a
// temp socket; requests are shaped exactly as dockerd 20.10 sends them.

let fx: PluginFixture;
test.before(async () => {
  fx = await startTestPlugin('protocol');
});
test.after.always(async () => {
  await fx?.close();
});

const ID = 'f'.repeat(64);
const small = { size: '32M' };

test.serial('Activate with an empty body implements VolumeDriver', async (t) => {
  const res = await fx.call('Plugin.Activate', '');
  t.is(res.status, 200);
  t.deepEqual(res.body, { Implements: ['VolumeDriver'] });
});

test.serial('Capabilities reports local scope', async (t) => {
  const res = await fx.call('VolumeDriver.Capabilities', {});
  t.deepEqual(res.body, { Capabilities: { Scope: 'local' } });
});

test.serial('the socket is private to root', async (t) => {
  const info = await stat(fx.config.socket);
  t.true(info.isSocket());
  t.is(info.mode & 0o777, 0o600);
});

test.serial('full life cycle: Create (Opts null), Get, List, Path, Mount, Unmount, Remove', async (t) => {
  t.deepEqual((await fx.call('VolumeDriver.Create', { Name: 'life', Opts: null })).body, { Err: '' });
  const get = await fx.call('VolumeDriver.Get', { Name: 'life' });
  const volume = get.body['Volume'] as Record<string, unknown>;
  t.is(volume['Name'], 'life');
  t.is(get.body['Err'], '');
  t.false(Number.isNaN(Date.parse(String(volume['CreatedAt']))));
  t.regex(String(volume['CreatedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  const status = volume['Status'] as Record<string, unknown>;
  t.like(status, { type: 'plain', fs: 'ext4', size: '10 GiB', mounted: false, leases: 0 });

  const list = await fx.call('VolumeDriver.List', {});
  t.deepEqual(list.body['Volumes'], [{ Name: 'life', Mountpoint: volume['Mountpoint'] }]);
  const path = await fx.call('VolumeDriver.Path', { Name: 'life' });
  t.is(path.body['Mountpoint'], volume['Mountpoint']);

  const mount = await fx.call('VolumeDriver.Mount', { Name: 'life', ID });
  t.is(mount.body['Err'], '');
  t.is(mount.body['Mountpoint'], volume['Mountpoint']);
  t.true((await stat(String(mount.body['Mountpoint']))).isDirectory());
  // capacityBytes is live status (df of the mount, within Get's 2 s).
  const mounted = await waitFor(
    'live status of "life"',
    async () => (await fx.call('VolumeDriver.Get', { Name: 'life' })).body['Volume'] as Record<string, Record<string, unknown>>,
    (volume) => hasLiveStatus(volume['Status']),
    LIVE_STATUS_MS,
  );
  t.like(mounted['Status'], { mounted: true, leases: 1 });
  t.true(Number(mounted['Status']?.['capacityBytes']) > 9 * 1024 ** 3);

  t.deepEqual((await fx.call('VolumeDriver.Unmount', { Name: 'life', ID })).body, { Err: '' });
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual(await loopsUnder(fx.root), []);
  t.deepEqual((await fx.call('VolumeDriver.Remove', { Name: 'life' })).body, { Err: '' });
  t.regex(String((await fx.call('VolumeDriver.Get', { Name: 'life' })).body['Err']), /no such volume/);
});

test.serial('a second Create with the same options succeeds; with other options it is refused and the first ones stay', async (t) => {
  t.is((await fx.call('VolumeDriver.Create', { Name: 'twice', Opts: small })).body['Err'], '');
  t.is((await fx.call('VolumeDriver.Create', { Name: 'twice', Opts: { ...small } })).body['Err'], '');
  t.is(
    (await fx.call('VolumeDriver.Create', { Name: 'twice', Opts: { size: '64M' } })).body['Err'],
    'volume "twice": already exists with other options (another create of this name came first); remove it first, or create it with the same options',
  );
  const status = ((await fx.call('VolumeDriver.Get', { Name: 'twice' })).body['Volume'] as Record<string, Record<string, unknown>>)[
    'Status'
  ];
  t.is(status?.['size'], '32 MiB');
  await fx.call('VolumeDriver.Remove', { Name: 'twice' });
});

test.serial('the same ID mounted twice stays mounted until both are unmounted; unknown IDs unmount fine', async (t) => {
  await fx.call('VolumeDriver.Create', { Name: 'lease', Opts: small });
  await fx.call('VolumeDriver.Mount', { Name: 'lease', ID });
  await fx.call('VolumeDriver.Mount', { Name: 'lease', ID });
  t.deepEqual((await fx.call('VolumeDriver.Unmount', { Name: 'lease', ID: 'unknown' })).body, { Err: '' });
  await fx.call('VolumeDriver.Unmount', { Name: 'lease', ID });
  t.is((await mountsUnder(fx.root)).length, 1);
  // No container holds it, but the lease is young: a container may still be starting.
  const inUse = await fx.call('VolumeDriver.Remove', { Name: 'lease' });
  t.is(inUse.body['Err'], 'volume "lease": was mounted less than 30 s ago and a container may still be starting with it; retry in 30 s');
  t.is((await mountsUnder(fx.root)).length, 1);
  await fx.call('VolumeDriver.Unmount', { Name: 'lease', ID });
  t.deepEqual(await mountsUnder(fx.root), []);
  t.deepEqual((await fx.call('VolumeDriver.Remove', { Name: 'lease' })).body, { Err: '' });
});

test.serial('hostile names work and never escape the volume root', async (t) => {
  const names = ['../../etc', 'a b', 'tenant/vol', '__proto__', 'ünï卷', 'x'.repeat(255)];
  for (const Name of names) {
    t.is((await fx.call('VolumeDriver.Create', { Name, Opts: small })).body['Err'], '', Name);
    const mount = await fx.call('VolumeDriver.Mount', { Name, ID });
    t.true(String(mount.body['Mountpoint']).startsWith(`${fx.config.mountDir}/`), Name);
    t.is(String(mount.body['Mountpoint']).split('/').length, fx.config.mountDir.split('/').length + 2, Name);
  }
  const listed = (await fx.call('VolumeDriver.List', {})).body['Volumes'] as Array<{ Name: string }>;
  t.deepEqual(listed.map((v) => v.Name).sort(), [...names].sort());
  for (const Name of names) {
    await fx.call('VolumeDriver.Unmount', { Name, ID });
    t.is((await fx.call('VolumeDriver.Remove', { Name })).body['Err'], '', Name);
  }
  t.deepEqual(await loopsUnder(fx.root), []);
});

const createError = test.macro(async (t, body: unknown, expected: RegExp, status: number = 200) => {
  const res = await fx.call('VolumeDriver.Create', body);
  t.is(res.status, status);
  t.regex(String(res.body['Err']), expected);
  t.deepEqual((await fx.call('VolumeDriver.List', {})).body['Volumes'], []);
});

test.serial('Create: empty name', createError, { Name: '', Opts: null }, /^volume "": the volume name is empty; give the volume a name$/);
test.serial('Create: name over 255 bytes', createError, { Name: 'n'.repeat(256), Opts: null }, /256 bytes long; the limit is 255/);
test.serial(
  'Create: name with a control character',
  createError,
  { Name: 'a\u0000b', Opts: null },
  /^volume "a\\u0000b": the volume name contains the control character U\+0000/,
);
test.serial(
  'Create: name with a lone surrogate',
  createError,
  '{"Name": "x\\ud800", "Opts": null}\n',
  /^volume "x\\ud800": the volume name is not well-formed Unicode/,
);
test.serial(
  'Create: compression=constructor',
  createError,
  { Name: 'bad', Opts: { type: 'compressed', compression: 'constructor' } },
  /^volume "bad": compression="constructor" is not supported; use zstd/,
);
test.serial('Create: size=abc', createError, { Name: 'bad', Opts: { size: 'abc' } }, /^volume "bad": size="abc" is not a size/);
test.serial(
  'Create: size=0',
  createError,
  { Name: 'bad', Opts: { size: '0' } },
  /^volume "bad": size="0" is too small for fs=ext4; the minimum is 16 MiB$/,
);
test.serial(
  'Create: fs=ntfs',
  createError,
  { Name: 'bad', Opts: { fs: 'ntfs' } },
  /^volume "bad": fs="ntfs" is not supported; use one of: ext4, xfs/,
);
test.serial(
  'Create: type=unknown',
  createError,
  { Name: 'bad', Opts: { type: 'unknown' } },
  /^volume "bad": type="unknown" is not supported/,
);
test.serial(
  'Create: unknown option',
  createError,
  { Name: 'bad', Opts: { colour: 'red' } },
  /unknown option "colour"; valid options for type=plain are: type, size, fs, fstype, retain, uid, gid, mode, protect, sparse$/,
);
test.serial('Create: option value not a string', createError, { Name: 'bad', Opts: { size: 5 } }, /option "size" must be a string/, 400);
test.serial('Create: Opts is a list', createError, { Name: 'bad', Opts: ['a'] }, /Opts must be an object/, 400);
test.serial('Create: Name missing', createError, { Opts: null }, /field Name must be a string, got nothing/, 400);
test.serial('Create: Name is a number', createError, { Name: 7 }, /field Name must be a string, got number/, 400);
test.serial('Create: malformed JSON', createError, '{"Name": "x", ', /request body is not valid JSON/, 400);
test.serial('Create: JSON that is not an object', createError, '[1,2]\n', /must be a JSON object/, 400);

test.serial('errors on unknown volumes name the volume', async (t) => {
  for (const method of ['Get', 'Path']) {
    const res = await fx.call(`VolumeDriver.${method}`, { Name: 'ghost' });
    t.is(res.body['Err'], 'volume "ghost": no such volume', method);
  }
  for (const method of ['Mount', 'Unmount']) {
    const res = await fx.call(`VolumeDriver.${method}`, { Name: 'ghost', ID });
    t.is(res.body['Err'], 'volume "ghost": no such volume', method);
  }
});

test.serial('Remove of an unknown volume succeeds (nothing to delete)', async (t) => {
  t.deepEqual((await fx.call('VolumeDriver.Remove', { Name: 'ghost' })).body, { Err: '' });
});

test.serial('Mount without an ID is refused', async (t) => {
  const res = await fx.call('VolumeDriver.Mount', { Name: 'x' });
  t.is(res.status, 400);
  t.regex(String(res.body['Err']), /field ID must be a string/);
});

test.serial('unknown endpoints answer 404 with an Err', async (t) => {
  const res = await fx.call('VolumeDriver.Explode', {});
  t.is(res.status, 404);
  t.regex(String(res.body['Err']), /unknown endpoint/);
});

test.serial('every error answer has a non-empty Err', async (t) => {
  const bodies = ['', 'null', '{}', '{"Name":null}', '"x"'];
  for (const method of ['VolumeDriver.Create', 'VolumeDriver.Get', 'VolumeDriver.Mount', 'VolumeDriver.Remove']) {
    for (const body of bodies) {
      const res = await fx.call(method, body);
      t.true(typeof res.body['Err'] === 'string' && res.body['Err'] !== '', `${method} ${body}: ${res.raw}`);
    }
  }
});
