import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { startTestPlugin, type PluginFixture } from '../helpers/plugin.js';
import { loopsUnder } from '../helpers/host.js';
import { ourMappings } from '../helpers/luks.js';
import { volumeId } from '../../src/volumes/names.js';

// Runs inside a guest with a stock Debian kernel (dm-crypt); see test/vm.
// A /dev/mapper name is not proof of ownership: a mapping is the volume's when
// it sits on the volume's loop device and came from the volume's LUKS header.
const A = 'a'.repeat(64);
const enc = { type: 'encrypted', size: '64M' };

async function mappingExists(name: string): Promise<boolean> {
  return (await execa('dmsetup', ['info', name], { reject: false })).exitCode === 0;
}

/** The name the plugin gives the volume's mapping: mount once and look. */
async function learnMappingName(fx: PluginFixture, name: string): Promise<string> {
  const before = new Set(await ourMappings());
  await fx.call('VolumeDriver.Mount', { Name: name, ID: A });
  const opened = (await ourMappings()).filter((entry) => !before.has(entry));
  await fx.call('VolumeDriver.Unmount', { Name: name, ID: A });
  if (opened.length !== 1 || opened[0] === undefined) throw new Error(`expected one new mapping, saw ${opened.join(', ')}`);
  return opened[0];
}

/** Someone else's LUKS volume, open under `name` on its own loop device. */
async function foreignLuks(root: string, name: string): Promise<{ device: string; remove: () => Promise<void> }> {
  const image = join(root, `foreign-${randomBytes(4).toString('hex')}.img`);
  const key = randomBytes(64);
  await execa('truncate', ['-s', '32M', image]);
  await execa(
    'cryptsetup',
    ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', image],
    { input: key },
  );
  const device = (await execa('losetup', ['--find', '--show', image])).stdout.trim();
  await execa('cryptsetup', ['open', '--type', 'luks2', '--key-file=-', device, name], { input: key });
  return {
    device,
    async remove() {
      await execa('cryptsetup', ['close', name], { reject: false });
      await execa('losetup', ['--detach', device], { reject: false });
    },
  };
}

test.serial("a mapping squatting the volume's name on another device is neither used nor closed; Mount says why", async (t) => {
  const fx = await startTestPlugin('map-squat');
  t.teardown(() => fx.close());
  t.is((await fx.call('VolumeDriver.Create', { Name: 'v', Opts: enc })).body['Err'], '');
  const name = await learnMappingName(fx, 'v');
  const foreign = await foreignLuks(fx.root, name);
  t.teardown(() => foreign.remove());
  const res = await fx.call('VolumeDriver.Mount', { Name: 'v', ID: A });
  t.regex(
    String(res.body['Err']),
    new RegExp(
      `^volume "v": could not be mounted: a device-mapper mapping named ${name} already exists on loop\\d+, not on this volume's loop device; .*cryptsetup close ${name}`,
    ),
  );
  t.true(await mappingExists(name), 'the foreign mapping is still open');
  t.deepEqual(
    (await loopsUnder(fx.root)).map((entry) => entry.split(' ')[0]),
    [foreign.device],
    "the volume's loop device was undone",
  );
  await foreign.remove();
  t.is((await fx.call('VolumeDriver.Mount', { Name: 'v', ID: A })).body['Err'], '', 'mounts once the name is free');
  await fx.call('VolumeDriver.Unmount', { Name: 'v', ID: A });
  await fx.call('VolumeDriver.Remove', { Name: 'v' });
});

test.serial("a foreign mapping on the volume's loop device is refused and left alone", async (t) => {
  const fx = await startTestPlugin('map-peek');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'v', Opts: enc });
  const image = join(fx.config.dataDir, volumeId('v'), 'disk.img');
  const device = (await execa('losetup', ['--find', '--show', '--direct-io=on', image])).stdout.trim();
  const sectors = (await execa('blockdev', ['--getsz', device])).stdout.trim();
  const peek = `peek-${process.pid}`;
  await execa('dmsetup', ['create', peek, '--table', `0 ${sectors} linear ${device} 0`]);
  t.teardown(async () => {
    await execa('dmsetup', ['remove', peek], { reject: false });
  });
  const res = await fx.call('VolumeDriver.Mount', { Name: 'v', ID: A });
  t.regex(
    String(res.body['Err']),
    new RegExp(
      `${device} \\(this volume's loop device\\) is held by the device-mapper mapping ${peek}, which was not opened from this volume's LUKS header`,
    ),
  );
  t.true(await mappingExists(peek));
  t.deepEqual(await ourMappings(), [], 'nothing opened beside it');
  await execa('dmsetup', ['remove', peek]);
  t.is((await fx.call('VolumeDriver.Mount', { Name: 'v', ID: A })).body['Err'], '');
  await fx.call('VolumeDriver.Unmount', { Name: 'v', ID: A });
  t.deepEqual(await loopsUnder(fx.root), []);
  await fx.call('VolumeDriver.Remove', { Name: 'v' });
});

test.serial("the volume's own mapping under another name (renamed by an upgrade) is reused, then closed", async (t) => {
  const fx = await startTestPlugin('map-renamed');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'r', Opts: enc });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'r', ID: A })).body['Mountpoint']);
  await writeFile(join(mountpoint, 'f'), 'kept across the rename');
  const [name] = await ourMappings();
  t.truthy(name);
  // The plugin stops; the filesystem goes, the mapping and loop device stay,
  // under a name this release would not choose.
  await fx.plugin.stop();
  await execa('umount', [join(mountpoint, '..')]);
  const renamed = `custom-renamed-${process.pid}`;
  await execa('dmsetup', ['rename', name!, renamed]);
  t.teardown(async () => {
    await execa('cryptsetup', ['close', renamed], { reject: false });
  });
  await fx.restart();
  t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'kept across the rename');
  t.deepEqual(await ourMappings(), [renamed], 'reused, not opened twice');
  await fx.call('VolumeDriver.Unmount', { Name: 'r', ID: A });
  t.deepEqual(await ourMappings(), [], 'closed under the name it had');
  t.deepEqual(await loopsUnder(fx.root), []);
  await fx.call('VolumeDriver.Remove', { Name: 'r' });
});

// Each state directory has its own instance tag (src/state/instance-tag.ts):
// without it both would want custom-<id>, and the second Mount is refused.
test.serial('two plugin instances (two state directories) mount a volume of the same name side by side', async (t) => {
  const one = await startTestPlugin('map-one');
  t.teardown(() => one.close());
  const two = await startTestPlugin('map-two');
  t.teardown(() => two.close());
  const mounted: string[] = [];
  for (const [fx, text] of [
    [one, 'one'],
    [two, 'two'],
  ] as const) {
    t.is((await fx.call('VolumeDriver.Create', { Name: 'shared', Opts: enc })).body['Err'], '');
    const res = await fx.call('VolumeDriver.Mount', { Name: 'shared', ID: A });
    t.is(res.body['Err'], '', `instance ${text}`);
    await writeFile(join(String(res.body['Mountpoint']), 'owner'), text);
    mounted.push(String(res.body['Mountpoint']));
  }
  const names = await ourMappings();
  t.is(names.length, 2, names.join(', '));
  t.is(await readFile(join(mounted[0]!, 'owner'), 'utf8'), 'one');
  t.is(await readFile(join(mounted[1]!, 'owner'), 'utf8'), 'two');
  for (const fx of [one, two]) {
    await fx.call('VolumeDriver.Unmount', { Name: 'shared', ID: A });
    await fx.call('VolumeDriver.Remove', { Name: 'shared' });
  }
  t.deepEqual(await ourMappings(), []);
});
