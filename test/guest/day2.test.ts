import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startPlugin } from '../../src/plugin.js';
import { capturingLogger, startTestPlugin, type PluginFixture } from '../helpers/plugin.js';
import { loopsUnder } from '../helpers/host.js';
import { fileContains, ourMappings } from '../helpers/luks.js';
import { CHECK_MS, waitFor } from '../helpers/wait.js';

// Runs inside a guest with a stock Debian kernel (dm-crypt); see test/vm.
// Day-2 operations on encrypted volumes through the real plugin: snapshots
// that stay encrypted, a clone with its own key, export to a plain volume,
// and rekey while mounted.

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
const A = 'a'.repeat(64);
const SECRET = Buffer.from('plaintext-marker-7d1c5e0b');

const keyFile = async (fx: PluginFixture, name: string) => {
  const id = (await readdir(fx.config.dataDir)).find((entry) => entry.startsWith(`${name}-`))!;
  return { id, key: join(fx.config.keyDir, `${id}.key`), image: join(fx.config.dataDir, id, 'disk.img'), dir: join(fx.config.dataDir, id) };
};
/** Does `key` open the LUKS header in `header`? (No mapping is made.) */
const opens = async (header: string, key: Buffer) =>
  (await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', header], { input: key, reject: false })).exitCode === 0;
const mount = async (fx: PluginFixture, name: string) =>
  String((await fx.call('VolumeDriver.Mount', { Name: name, ID: A })).body['Mountpoint']);
const unmount = (fx: PluginFixture, name: string) => fx.call('VolumeDriver.Unmount', { Name: name, ID: A });
const ok = async (fx: PluginFixture, method: string, body: Record<string, unknown>) => {
  const reply = await fx.call(method, body);
  if (reply.body['Err'] !== '') throw new Error(`${method}: ${String(reply.body['Err'])}`);
  return reply.body;
};

test.serial('encrypted: a snapshot taken while mounted stays encrypted and restores the old bytes', async (t) => {
  const fx = await startTestPlugin('day2-snap');
  t.teardown(() => fx.close());
  await ok(fx, 'VolumeDriver.Create', { Name: 'vault', Opts: { type: 'encrypted', size: '64M' } });
  const mountpoint = await mount(fx, 'vault');
  await writeFile(join(mountpoint, 'f'), Buffer.concat([SECRET, Buffer.from(' v1')]));
  const taken = (await ok(fx, 'Custom.Snapshot', { Name: 'vault', Snapshot: 'one' }))['Snapshot'] as Record<string, unknown>;
  t.like(taken, { name: 'one', consistency: 'frozen' });
  await writeFile(join(mountpoint, 'f'), 'v2');
  const { dir } = await keyFile(fx, 'vault');
  const snapshot = join(dir, 'snapshots', 'one.img');
  t.is((await execa('cryptsetup', ['isLuks', snapshot], { reject: false })).exitCode, 0, 'the snapshot is a LUKS image');
  t.false(await fileContains(snapshot, SECRET), 'no plaintext in the snapshot');
  t.regex(String((await fx.call('Custom.Restore', { Name: 'vault', Snapshot: 'one' })).body['Err']), /is mounted by 1 container/);
  await unmount(fx, 'vault');
  await ok(fx, 'Custom.Restore', { Name: 'vault', Snapshot: 'one' });
  t.is(await readFile(join(await mount(fx, 'vault'), 'f'), 'utf8'), `${SECRET.toString()} v1`);
  await unmount(fx, 'vault');
  await ok(fx, 'VolumeDriver.Remove', { Name: 'vault' });
  t.deepEqual(await ourMappings(), []);
  t.deepEqual(await loopsUnder(fx.root), []);
});

test.serial('encrypted btrfs: a clone mounts beside its source, has its own key, and is independent', async (t) => {
  const fx = await startTestPlugin('day2-clone');
  t.teardown(() => fx.close());
  await ok(fx, 'VolumeDriver.Create', { Name: 'src', Opts: { type: 'encrypted', compression: 'zstd', size: '160M' } });
  const source = await mount(fx, 'src');
  await writeFile(join(source, 'f'), 'original');
  await ok(fx, 'Custom.Clone', { Name: 'src', Target: 'copy' });
  const copy = await mount(fx, 'copy');
  t.is(await readFile(join(copy, 'f'), 'utf8'), 'original');
  await writeFile(join(copy, 'f'), 'changed');
  t.is(await readFile(join(source, 'f'), 'utf8'), 'original');
  const src = await keyFile(fx, 'src');
  const cloned = await keyFile(fx, 'copy');
  const [srcKey, copyKey] = await Promise.all([readFile(src.key), readFile(cloned.key)]);
  t.false(srcKey.equals(copyKey), 'a key of its own');
  t.false(await opens(cloned.image, srcKey), "the source's key does not open the clone");
  t.true(await opens(cloned.image, copyKey));
  const uuid = async (image: string) => (await execa('cryptsetup', ['luksUUID', image])).stdout;
  t.not(await uuid(cloned.image), await uuid(src.image));
  await unmount(fx, 'copy');
  await unmount(fx, 'src');
  await ok(fx, 'VolumeDriver.Remove', { Name: 'src' });
  t.is(await readFile(join(await mount(fx, 'copy'), 'f'), 'utf8'), 'changed');
  await unmount(fx, 'copy');
  await ok(fx, 'VolumeDriver.Remove', { Name: 'copy' });
  t.deepEqual(await ourMappings(), []);
});

test.serial('encrypted → plain: export needs --plaintext; the files arrive with identical checksums', async (t) => {
  const fx = await startTestPlugin('day2-export');
  t.teardown(() => fx.close());
  await ok(fx, 'VolumeDriver.Create', { Name: 'secret', Opts: { type: 'encrypted', size: '64M' } });
  await ok(fx, 'VolumeDriver.Create', { Name: 'open', Opts: { size: '64M' } });
  const data = Buffer.alloc(3 * 1024 * 1024, 7);
  await writeFile(join(await mount(fx, 'secret'), 'blob'), data);
  await unmount(fx, 'secret');
  const cli = (args: string[]) => execa(process.execPath, [CLI, '--socket', fx.config.socket, ...args], { reject: false });
  const file = join(fx.root, 'secret.tar');
  const refused = await cli(['export', 'secret', file]);
  t.is(refused.exitCode, 1);
  t.regex(refused.stderr, /volume "secret": is encrypted, and an export is its files in plain text .*--plaintext/);
  t.deepEqual(await ourMappings(), [], 'refused before anything was opened');
  t.is((await cli(['export', '--plaintext', 'secret', file])).exitCode, 0);
  const imported = await cli(['import', 'open', file]);
  t.is(imported.exitCode, 0, imported.stderr);
  const copy = await readFile(join(await mount(fx, 'open'), 'blob'));
  t.is(createHash('sha256').update(copy).digest('hex'), createHash('sha256').update(data).digest('hex'));
  await unmount(fx, 'open');
  await ok(fx, 'VolumeDriver.Remove', { Name: 'secret' });
  await ok(fx, 'VolumeDriver.Remove', { Name: 'open' });
  t.deepEqual(await ourMappings(), []);
});

test.serial(
  'rekey while mounted: the old key opens neither the volume nor its snapshot, the new one does, the data is intact',
  async (t) => {
    const fx = await startTestPlugin('day2-rekey');
    t.teardown(() => fx.close());
    await ok(fx, 'VolumeDriver.Create', { Name: 'rotating', Opts: { type: 'encrypted', size: '64M' } });
    const mountpoint = await mount(fx, 'rotating');
    await writeFile(join(mountpoint, 'f'), 'kept');
    await ok(fx, 'Custom.Snapshot', { Name: 'rotating', Snapshot: 'before' });
    const { key, image, dir } = await keyFile(fx, 'rotating');
    const snapshot = join(dir, 'snapshots', 'before.img');
    const oldKey = await readFile(key);
    await ok(fx, 'Custom.Rekey', { Name: 'rotating' });
    const newKey = await readFile(key);
    t.false(newKey.equals(oldKey));
    t.false(await opens(image, oldKey), 'the old key opens nothing');
    t.false(await opens(snapshot, oldKey), "nor the snapshot's copy of the header");
    t.true(await opens(image, newKey));
    t.true(await opens(snapshot, newKey));
    await writeFile(join(mountpoint, 'g'), 'written after the rekey');
    t.deepEqual((await readdir(fx.config.keyDir)).sort(), [(await keyFile(fx, 'rotating')).id + '.key'], 'no staged key files left');
    await unmount(fx, 'rotating');
    const again = await mount(fx, 'rotating');
    t.is(await readFile(join(again, 'f'), 'utf8'), 'kept');
    t.is(await readFile(join(again, 'g'), 'utf8'), 'written after the rekey');
    await unmount(fx, 'rotating');
    await ok(fx, 'Custom.Restore', { Name: 'rotating', Snapshot: 'before' });
    t.is(await readFile(join(await mount(fx, 'rotating'), 'f'), 'utf8'), 'kept', 'the snapshot opens with the new key');
    await unmount(fx, 'rotating');
    t.regex(String((await fx.call('Custom.Rekey', { Name: 'nosuch' })).body['Err']), /volume "nosuch": no such volume/);
    await ok(fx, 'VolumeDriver.Create', { Name: 'clear', Opts: { size: '64M' } });
    t.regex(
      String((await fx.call('Custom.Rekey', { Name: 'clear' })).body['Err']),
      /volume "clear": is type=plain: it has no key to rotate/,
    );
    await ok(fx, 'VolumeDriver.Remove', { Name: 'rotating' });
    await ok(fx, 'VolumeDriver.Remove', { Name: 'clear' });
    t.deepEqual(await ourMappings(), []);
  },
);

test.serial(
  'reseal: a KEK rotated while volumes exist; afterwards the new KEK alone opens them and the old one opens nothing',
  async (t) => {
    const kekDir = join(process.env['CUSTOM_TEST_TMP'] ?? '/var/tmp', `reseal-${process.pid}`);
    await execa('mkdir', ['-p', kekDir]);
    const [oldKek, newKek] = [join(kekDir, 'old'), join(kekDir, 'new')];
    await writeFile(oldKek, randomBytes(32), { mode: 0o400 });
    await writeFile(newKek, randomBytes(32), { mode: 0o400 });
    // A volume made before any KEK: its key is stored unsealed.
    const fx = await startTestPlugin('day2-reseal');
    t.teardown(async () => {
      await fx.close();
      await execa('rm', ['-rf', kekDir]);
    });
    await ok(fx, 'VolumeDriver.Create', { Name: 'early', Opts: { type: 'encrypted', size: '64M' } });
    let logs = () => '';
    const restart = async (config: Partial<PluginFixture['config']>) => {
      await fx.plugin.stop();
      const logger = capturingLogger();
      logs = logger.text;
      fx.plugin = await startPlugin({ ...fx.config, ...config }, logger.log);
      await fx.plugin.recovered;
    };
    // The start-up log counts keys by how they are sealed, never showing one.
    // Logged before `recovered` resolves (restart awaits it); the in-process logger holds it at once.
    const counted = async () => {
      const text = await waitFor('the start-up log of the volume keys', logs, (all) => /"msg":"volume keys"/.test(all), CHECK_MS);
      return (JSON.parse(text.split('\n').find((line) => line.includes('"msg":"volume keys"'))!) as { keys: unknown }).keys;
    };
    await restart({ kekFile: oldKek });
    t.like(await counted(), { current: 0, previous: 0, unsealed: 1, unreadable: 0 });
    const unsealed = (await ok(fx, 'Custom.Doctor', {}))['Doctor'] as { findings: Array<{ volume?: string; what: string }> };
    t.truthy(unsealed.findings.find((f) => f.volume === 'early' && /stored unsealed although a KEK is configured/.test(f.what)));
    await ok(fx, 'VolumeDriver.Create', { Name: 'sealed', Opts: { type: 'encrypted', size: '64M' } });
    await writeFile(join(await mount(fx, 'sealed'), 'f'), 'kept across the rotation');
    await unmount(fx, 'sealed');
    await restart({ kekFile: newKek, kekPreviousFile: oldKek });
    t.like(await counted(), { current: 0, previous: 1, unsealed: 1, unreadable: 0 });
    t.regex(logs(), /some keys are not sealed under CUSTOM_KEK_FILE/);
    const doctor = (await ok(fx, 'Custom.Doctor', {}))['Doctor'] as { findings: Array<{ volume?: string; what: string }> };
    t.truthy(doctor.findings.find((f) => f.volume === 'sealed' && /sealed with the previous KEK/.test(f.what)));
    const report = (await ok(fx, 'Custom.Reseal', {}))['Reseal'] as {
      resealed: { previous: string[]; unsealed: string[] };
      current: number;
    };
    t.deepEqual(report.resealed, { previous: ['sealed'], unsealed: ['early'] });
    await restart({ kekFile: newKek }); // each restart starts from the first config: no previous KEK now
    t.like(await counted(), { current: 2, previous: 0, unsealed: 0, unreadable: 0 });
    const clean = (await ok(fx, 'Custom.Doctor', {}))['Doctor'] as { findings: Array<{ volume?: string }> };
    t.deepEqual(
      clean.findings.filter((f) => f.volume === 'early' || f.volume === 'sealed'),
      [],
      'reseal fixed both',
    );
    t.is(await readFile(join(await mount(fx, 'sealed'), 'f'), 'utf8'), 'kept across the rotation');
    await unmount(fx, 'sealed');
    await restart({ kekFile: oldKek });
    t.regex(String((await fx.call('VolumeDriver.Mount', { Name: 'sealed', ID: A })).body['Err']), /the sealed key does not open/);
    t.deepEqual(await ourMappings(), []);
    await restart({ kekFile: newKek });
    await ok(fx, 'VolumeDriver.Remove', { Name: 'sealed' });
    await ok(fx, 'VolumeDriver.Remove', { Name: 'early' });
  },
);
