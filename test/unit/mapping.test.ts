import test from 'ava';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compactUuid, luksUuidOfMapping, mappingDevices, mappingNamed, mappingsOn, type Mapping } from '../../src/system/device-mapper.js';
import { MAX_MAPPER_NAME, mapperName, mapperPath } from '../../src/backings/mapper-name.js';
import { loadInstanceTag } from '../../src/state/instance-tag.js';
import { ownMappingsOn, ownOpenMapping, type MappingTools } from '../../src/backings/mapping-owner.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

const UUID = '2f3c1e0a-9b7d-4c55-8e21-0123456789ab';
const DM_UUID = `CRYPT-LUKS2-2f3c1e0a9b7d4c558e210123456789ab-custom-data-0123456789abcdef`;

test("the LUKS UUID is read from a dm-crypt mapping's dm uuid, whatever the name after it", (t) => {
  t.is(luksUuidOfMapping(DM_UUID), compactUuid(UUID));
  t.is(luksUuidOfMapping('CRYPT-LUKS2-2F3C1E0A9B7D4C558E210123456789AB-renamed-later'), compactUuid(UUID));
  t.is(luksUuidOfMapping('CRYPT-LUKS1-2f3c1e0a9b7d4c558e210123456789ab-old'), compactUuid(UUID));
  for (const other of [
    '',
    'LVM-abc',
    'CRYPT-PLAIN-custom-x',
    'CRYPT-LUKS2-2f3c1e0a-custom-x',
    'CRYPT-LUKS2-2f3c1e0a9b7d4c558e210123456789ab',
  ]) {
    t.is(luksUuidOfMapping(other), undefined, other);
  }
  t.is(compactUuid('2F3C1E0A-9B7D-4C55-8E21-0123456789AB'), '2f3c1e0a9b7d4c558e210123456789ab');
});

test('holders listings keep only device-mapper devices', (t) => {
  t.deepEqual(mappingDevices(['dm-3', 'md0', 'dm-12', 'dm-', 'dm-1x']), ['dm-12', 'dm-3']);
  t.deepEqual(mappingDevices([]), []);
});

test("mapper names carry the instance tag, stay under the dm limit and keep the id's hash", async (t) => {
  const id = 'data-0123456789abcdef';
  t.is(mapperName(id), `custom-${id}`, 'no instance: the legacy name');
  t.is(mapperPath(id), `/dev/mapper/custom-${id}`);
  const one = await makeTempDir('instance-a');
  const two = await makeTempDir('instance-b');
  t.teardown(async () => {
    await removeTempDir(one);
    await removeTempDir(two);
  });
  const instance = await loadInstanceTag(one);
  t.regex(instance, /^[0-9a-f]{8}$/);
  t.is(await loadInstanceTag(one), instance, 'kept in the state directory: stable across restarts');
  t.not(await loadInstanceTag(two), instance, 'two state directories (two managed plugins both seeing /data), two tags');
  t.is(mapperName(id, instance), `custom-${instance}-${id}`);
  t.is(mapperPath(id, instance), `/dev/mapper/custom-${instance}-${id}`);
  const long = `${'x'.repeat(200)}-0123456789abcdef`;
  t.is(mapperName(long, instance).length, MAX_MAPPER_NAME);
  t.true(mapperName(long, instance).endsWith('-0123456789abcdef'));
  t.throws(() => mapperName(id, '../x'), { message: /letters and digits/ });
});

// A sysfs tree as the kernel lays it out, in a temp directory.
async function fakeSys(
  t: { teardown: (fn: () => Promise<void>) => void },
  mappings: Array<{ dm: string; name: string; uuid: string; on: string[] }>,
): Promise<string> {
  const root = await makeTempDir('sysfs');
  t.teardown(() => removeTempDir(root));
  await mkdir(join(root, 'block', 'loop7', 'holders'), { recursive: true });
  await mkdir(join(root, 'block', 'sda', 'holders'), { recursive: true });
  for (const mapping of mappings) {
    await mkdir(join(root, 'block', mapping.dm, 'dm'), { recursive: true });
    await mkdir(join(root, 'block', mapping.dm, 'slaves'), { recursive: true });
    await writeFile(join(root, 'block', mapping.dm, 'dm', 'name'), `${mapping.name}\n`);
    await writeFile(join(root, 'block', mapping.dm, 'dm', 'uuid'), `${mapping.uuid}\n`);
    for (const device of mapping.on) {
      await mkdir(join(root, 'block', device, 'holders'), { recursive: true });
      await symlink(join('..', '..', mapping.dm), join(root, 'block', device, 'holders', mapping.dm));
      await symlink(join('..', '..', device), join(root, 'block', mapping.dm, 'slaves', device));
    }
  }
  return root;
}

test('mappings are found by name and by the device they sit on, from sysfs', async (t) => {
  const sys = await fakeSys(t, [
    { dm: 'dm-0', name: 'root_crypt', uuid: 'CRYPT-LUKS2-ffffffffffffffffffffffffffffffff-root_crypt', on: ['sda'] },
    { dm: 'dm-4', name: 'custom-data-0123456789abcdef', uuid: DM_UUID, on: ['loop3'] },
  ]);
  t.deepEqual(await mappingNamed('custom-data-0123456789abcdef', sys), {
    name: 'custom-data-0123456789abcdef',
    uuid: DM_UUID,
    backingDevices: ['loop3'],
  });
  t.is(await mappingNamed('custom-nothing', sys), undefined);
  t.deepEqual(
    (await mappingsOn('/dev/loop3', sys)).map((m) => m.name),
    ['custom-data-0123456789abcdef'],
  );
  t.deepEqual(await mappingsOn('/dev/loop7', sys), [], 'a loop device nothing sits on');
  t.deepEqual(await mappingsOn('/dev/loop99', sys), [], 'a device sysfs does not know');
});

function fakeTools(mappings: Mapping[], headers: Record<string, string>): MappingTools & { uuidCalls: number } {
  const tools = {
    uuidCalls: 0,
    async luksUUID(device: string) {
      tools.uuidCalls += 1;
      const uuid = headers[device];
      if (!uuid) throw new Error(`${device}: not a LUKS device`);
      return uuid;
    },
    mappingNamed: async (name: string) => mappings.find((m) => m.name === name),
    mappingsOn: async (device: string) => mappings.filter((m) => m.backingDevices.includes(device.replace('/dev/', ''))),
  };
  return tools;
}

const ours = { name: 'custom-data-0123456789abcdef', uuid: DM_UUID, backingDevices: ['loop3'] };
const NAME = 'custom-abcd1234-data-0123456789abcdef';

test('nothing open and the name free: open anew, without asking cryptsetup', async (t) => {
  const tools = fakeTools([], { '/dev/loop3': UUID });
  t.is(await ownOpenMapping(tools, '/dev/loop3', NAME), undefined);
  t.is(tools.uuidCalls, 0);
});

test("this volume's mapping under another (legacy) name is reused", async (t) => {
  const tools = fakeTools([ours], { '/dev/loop3': UUID });
  t.is(await ownOpenMapping(tools, '/dev/loop3', NAME), ours.name);
});

test('a mapping on our loop device from another LUKS header is refused', async (t) => {
  const tools = fakeTools([{ ...ours, uuid: 'CRYPT-LUKS2-00000000000000000000000000000000-custom-data-0123456789abcdef' }], {
    '/dev/loop3': UUID,
  });
  await t.throwsAsync(ownOpenMapping(tools, '/dev/loop3', ours.name), {
    message:
      /\/dev\/loop3 \(this volume's loop device\) is held by the device-mapper mapping custom-data-0123456789abcdef, which was not opened from this volume's LUKS header/,
  });
});

test('a non-crypt mapping on our loop device is refused', async (t) => {
  const tools = fakeTools([{ name: 'peek', uuid: '', backingDevices: ['loop3'] }], { '/dev/loop3': UUID });
  await t.throwsAsync(ownOpenMapping(tools, '/dev/loop3', NAME), { message: /held by the device-mapper mapping peek/ });
});

test('our name taken by a mapping on another device is refused, not reused', async (t) => {
  const theirs = { name: NAME, uuid: `CRYPT-LUKS2-11111111111111111111111111111111-${NAME}`, backingDevices: ['loop9'] };
  const tools = fakeTools([theirs], { '/dev/loop3': UUID, '/dev/loop9': '11111111-1111-1111-1111-111111111111' });
  await t.throwsAsync(ownOpenMapping(tools, '/dev/loop3', NAME), {
    message: new RegExp(
      `a device-mapper mapping named ${NAME} already exists on loop9, not on this volume's loop device; .* neither uses nor closes it\\. If it is left over, close it \\(cryptsetup close ${NAME}\\)`,
    ),
  });
});

test("closing finds only this volume's mappings on its loop devices", async (t) => {
  const foreign = { name: 'peek', uuid: '', backingDevices: ['loop3'] };
  const elsewhere = { name: 'other', uuid: DM_UUID.replace('custom-data', 'other'), backingDevices: ['loop5'] };
  const tools = fakeTools([ours, foreign, elsewhere], { '/dev/loop3': UUID, '/dev/loop5': UUID });
  t.deepEqual(await ownMappingsOn(tools, ['/dev/loop3']), [ours.name]);
  t.deepEqual(await ownMappingsOn(tools, []), []);
});
