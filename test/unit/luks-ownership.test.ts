import test from 'ava';
import { LuksLayer } from '../../src/backings/luks-layer.js';
import type { SystemTools } from '../../src/system/index.js';
import { UndoStack } from '../../src/backings/undo.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { Mapping } from '../../src/system/device-mapper.js';
import { createSystemTools } from '../../src/system/index.js';
import type { EncryptedSpec, VolumeRecord } from '../../src/state/schema.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// The LUKS layer's decisions with device-mapper played by a table: what it
// opens, reuses, refuses and closes. The real thing runs in the guest suite
// (test/guest/mapping-ownership.test.ts).
const UUID = '2f3c1e0a-9b7d-4c55-8e21-0123456789ab';
const HEX = '2f3c1e0a9b7d4c558e210123456789ab';
const record = { name: 'data', id: 'data-0123456789abcdef', createdAt: '2026-11-25T00:00:00.000Z', leases: {} } as unknown as VolumeRecord;
const spec: EncryptedSpec = {
  type: 'encrypted',
  fs: 'ext4',
  sizeBytes: 64 * 1024 ** 2,
  cipher: 'aes-xts-plain64',
  keySizeBits: 512,
  keySource: 'generated',
};
const INSTANCE = 'abcd1234';
const OUR_NAME = `custom-${INSTANCE}-${record.id}`;

interface FakeHost {
  mappings: Mapping[];
  calls: string[];
}

async function layer(
  t: { teardown: (fn: () => Promise<void>) => void },
  mappings: Mapping[],
): Promise<{ luks: LuksLayer; host: FakeHost }> {
  const keyDir = await makeTempDir('luks-owner');
  t.teardown(() => removeTempDir(keyDir));
  const keys = new KeyStore(keyDir, undefined);
  (await keys.create(record.id)).fill(0);
  const host: FakeHost = { mappings, calls: [] };
  const fake: Partial<SystemTools> = {
    readKeyFile: async () => Buffer.alloc(0),
    luksUUID: async (device: string) => (device === '/dev/loop3' ? UUID : '99999999-9999-9999-9999-999999999999'),
    mappingNamed: async (name: string) => host.mappings.find((m) => m.name === name),
    mappingsOn: async (device: string) => host.mappings.filter((m) => m.backingDevices.includes(device.slice('/dev/'.length))),
    luksOpen: async (device: string, name: string) => {
      host.calls.push(`open ${device} ${name}`);
      host.mappings.push({ name, uuid: `CRYPT-LUKS2-${HEX}-${name}`, backingDevices: [device.slice('/dev/'.length)] });
    },
    luksClose: async (name: string) => {
      host.calls.push(`close ${name}`);
      host.mappings = host.mappings.filter((m) => m.name !== name);
    },
    listLoops: async () => [{ device: '/dev/loop3', backingFile: '/x/disk.img', backingIdentity: '1:2:3' }],
    fileIdentity: async () => '1:2:3',
  };
  const tools = { ...createSystemTools(5000), ...fake } as SystemTools;
  return { luks: new LuksLayer(tools, keys, INSTANCE), host };
}

test('opens under the instance name, closes what it opened', async (t) => {
  const { luks, host } = await layer(t, []);
  t.is(await luks.ensureOpen(record, spec, '/dev/loop3', new UndoStack()), `/dev/mapper/${OUR_NAME}`);
  t.is(luks.devicePath(record), `/dev/mapper/${OUR_NAME}`);
  await luks.close(record);
  t.deepEqual(host.calls, [`open /dev/loop3 ${OUR_NAME}`, `close ${OUR_NAME}`]);
});

test("reuses this volume's mapping under its legacy name and closes it by that name", async (t) => {
  const legacy = `custom-${record.id}`;
  const { luks, host } = await layer(t, [{ name: legacy, uuid: `CRYPT-LUKS2-${HEX}-${legacy}`, backingDevices: ['loop3'] }]);
  t.is(await luks.ensureOpen(record, spec, '/dev/loop3', new UndoStack()), `/dev/mapper/${legacy}`);
  await luks.close(record);
  t.deepEqual(host.calls, [`close ${legacy}`], 'no second open; closed under the name it had');
});

test('refuses a squatter on its name and neither opens nor closes anything', async (t) => {
  const squatter = { name: OUR_NAME, uuid: `CRYPT-LUKS2-${'9'.repeat(32)}-${OUR_NAME}`, backingDevices: ['loop8'] };
  const { luks, host } = await layer(t, [squatter]);
  await t.throwsAsync(luks.ensureOpen(record, spec, '/dev/loop3', new UndoStack()), {
    message: /already exists on loop8, not on this volume's loop device/,
  });
  await t.throwsAsync(luks.open(record, '/dev/loop3', Buffer.alloc(64), new UndoStack()), { message: /already exists on loop8/ });
  await luks.close(record, '/x/disk.img');
  t.deepEqual(host.calls, []);
  t.deepEqual(host.mappings, [squatter]);
});

test('close with the image closes every mapping of this volume on its loop device, and nothing else', async (t) => {
  const renamed = { name: 'renamed', uuid: `CRYPT-LUKS2-${HEX}-custom-old`, backingDevices: ['loop3'] };
  const theirs = { name: OUR_NAME, uuid: `CRYPT-LUKS2-${'9'.repeat(32)}-${OUR_NAME}`, backingDevices: ['loop8'] };
  const { luks, host } = await layer(t, [renamed, theirs]);
  await luks.close(record, '/x/disk.img');
  t.deepEqual(host.calls, ['close renamed']);
});

test('after a restart, close without the image leaves a mapping of our name that cryptsetup did not open under it', async (t) => {
  const renamedInto = { name: OUR_NAME, uuid: `CRYPT-LUKS2-${HEX}-someone-else`, backingDevices: ['loop8'] };
  const { luks, host } = await layer(t, [renamedInto]);
  await luks.close(record);
  t.deepEqual(host.calls, []);
});

test('a failed create unwinds the open it made', async (t) => {
  const { luks, host } = await layer(t, []);
  const undo = new UndoStack();
  await luks.open(record, '/dev/loop3', Buffer.alloc(64), undo);
  await undo.unwind();
  t.deepEqual(host.calls, [`open /dev/loop3 ${OUR_NAME}`, `close ${OUR_NAME}`]);
  t.deepEqual(host.mappings, []);
});
