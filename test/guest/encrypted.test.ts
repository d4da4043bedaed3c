import test from 'ava';
import { chmod, link, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { capturingLogger, startTestPlugin, type PluginFixture } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder, volumeFiles } from '../helpers/host.js';
import { fileContains, ourMappings } from '../helpers/luks.js';
import { hasLiveStatus, LIVE_STATUS_MS, waitFor } from '../helpers/wait.js';
import { toolsFailingAt, type ToolName } from '../helpers/faults.js';
import { volumeId } from '../../src/volumes/names.js';
import { STATE_FILE_NAME } from '../../src/state/layout.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// Runs inside a guest with a stock Debian kernel (dm-crypt); see test/vm.
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const enc = (extra: Record<string, string> = {}) => ({ type: 'encrypted', size: '64M', ...extra });
type Status = Record<string, unknown>;

async function status(fx: PluginFixture, name: string): Promise<Status> {
  return ((await fx.call('VolumeDriver.Get', { Name: name })).body['Volume'] as Record<string, Status>)['Status']!;
}

async function nothingLeft(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, fx: PluginFixture): Promise<void> {
  t.deepEqual(await ourMappings(), [], 'no dm-crypt mapping');
  t.deepEqual(await loopsUnder(fx.root), [], 'no loop device');
  t.deepEqual(await mountsUnder(fx.root), [], 'no mount');
  t.deepEqual(await volumeFiles(fx.config.dataDir), [], 'no volume files');
  t.deepEqual(await readdir(fx.config.keyDir).catch(() => []), [], 'no key files');
}

test.serial('round trip: create, mount, write, unmount (closed), remount, read; Status says encrypted', async (t) => {
  const fx = await startTestPlugin('luks-roundtrip');
  t.teardown(() => fx.close());
  t.is((await fx.call('VolumeDriver.Create', { Name: 'secrets', Opts: enc() })).body['Err'], '');
  // encrypted, cipher, keySource and open are live status: within Get's 2 s, which the emulated guest may miss.
  t.like(await waitFor('live status of "secrets"', () => status(fx, 'secrets'), hasLiveStatus, LIVE_STATUS_MS), {
    type: 'encrypted',
    encrypted: true,
    cipher: 'aes-xts-plain64',
    keySizeBits: 512,
    keySource: 'generated',
    luksVersion: 2,
    open: false,
    mounted: false,
  });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'secrets', ID: A })).body['Mountpoint']);
  t.like(await waitFor('live status of "secrets"', () => status(fx, 'secrets'), hasLiveStatus, LIVE_STATUS_MS), {
    open: true,
    mounted: true,
    leases: 1,
  });
  await writeFile(join(mountpoint, 'note'), 'encrypted at rest');
  await fx.call('VolumeDriver.Unmount', { Name: 'secrets', ID: A });
  t.deepEqual(await ourMappings(), [], 'closed on the last unmount');
  t.deepEqual(await loopsUnder(fx.root), []);
  await fx.call('VolumeDriver.Mount', { Name: 'secrets', ID: B });
  t.is(await readFile(join(mountpoint, 'note'), 'utf8'), 'encrypted at rest');
  await fx.call('VolumeDriver.Unmount', { Name: 'secrets', ID: B });
  t.is((await fx.call('VolumeDriver.Remove', { Name: 'secrets' })).body['Err'], '');
  await nothingLeft(t, fx);
});

test.serial('two leases: the mapping stays open until the last one is released', async (t) => {
  const fx = await startTestPlugin('luks-leases');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'shared', Opts: enc() });
  await fx.call('VolumeDriver.Mount', { Name: 'shared', ID: A });
  await fx.call('VolumeDriver.Mount', { Name: 'shared', ID: B });
  await fx.call('VolumeDriver.Unmount', { Name: 'shared', ID: A });
  // Named custom-[<instance>-]<id>: the instance tag depends on the wiring.
  const open = await ourMappings();
  t.is(open.length, 1, open.join(', '));
  t.true(open[0]?.endsWith(`-${volumeId('shared')}`), open[0]);
  t.like(await waitFor('live status of "shared"', () => status(fx, 'shared'), hasLiveStatus, LIVE_STATUS_MS), {
    open: true,
    mounted: true,
    leases: 1,
  });
  await fx.call('VolumeDriver.Unmount', { Name: 'shared', ID: B });
  t.deepEqual(await ourMappings(), []);
  await fx.call('VolumeDriver.Remove', { Name: 'shared' });
});

test.serial('the image holds only ciphertext (a plain volume, as control, shows the marker)', async (t) => {
  const fx = await startTestPlugin('luks-plaintext');
  t.teardown(() => fx.close());
  const marker = Buffer.from(`PLAINTEXT-MARKER-${randomBytes(8).toString('hex')}`);
  for (const [name, opts] of [
    ['cipher', enc()],
    ['control', { size: '64M' }],
  ] as const) {
    await fx.call('VolumeDriver.Create', { Name: name, Opts: opts });
    const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: name, ID: A })).body['Mountpoint']);
    await writeFile(join(mountpoint, 'marker'), Buffer.concat(Array.from({ length: 4096 }, () => marker)));
    await fx.call('VolumeDriver.Unmount', { Name: name, ID: A });
  }
  const image = (name: string) => join(fx.config.dataDir, volumeId(name), 'disk.img');
  t.true(await fileContains(image('control'), marker), 'the check finds plaintext when it is there');
  t.false(await fileContains(image('cipher'), marker), 'plaintext in the encrypted image');
  for (const name of ['cipher', 'control']) await fx.call('VolumeDriver.Remove', { Name: name });
});

test.serial('remove crypto-erases: keyslots gone, key deleted; key files are 0400 in a 0700 dir', async (t) => {
  const fx = await startTestPlugin('luks-erase');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'gone', Opts: enc() });
  const keyFile = join(fx.config.keyDir, `${volumeId('gone')}.key`);
  t.is((await stat(keyFile)).mode & 0o777, 0o400);
  t.is((await stat(fx.config.keyDir)).mode & 0o777, 0o700);
  const key = await readFile(keyFile);
  // A second name for the image keeps its blocks readable after the plugin deletes it.
  const witness = join(fx.root, 'witness.img');
  await link(join(fx.config.dataDir, volumeId('gone'), 'disk.img'), witness);
  // A snapshot carries a copy of the header: it is erased too, before its file goes.
  t.is((await fx.call('Custom.Snapshot', { Name: 'gone', Snapshot: 'snap' })).body['Err'], '');
  const snapshotWitness = join(fx.root, 'witness-snapshot.img');
  await link(join(fx.config.dataDir, volumeId('gone'), 'snapshots', 'snap.img'), snapshotWitness);
  const opens = async (image: string) =>
    (await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', image], { input: key, reject: false })).exitCode === 0;
  t.true(await opens(witness), 'the key opened the volume before remove');
  t.true(await opens(snapshotWitness), 'and its snapshot');
  t.is((await fx.call('VolumeDriver.Remove', { Name: 'gone' })).body['Err'], '');
  t.false(await opens(witness), 'the key still opens the erased volume');
  t.false(await opens(snapshotWitness), "the key still opens the erased volume's snapshot");
  t.notRegex((await execa('cryptsetup', ['luksDump', witness], { reject: false })).stdout, /^\s+\d+: luks2$/m);
  await nothingLeft(t, fx);
});

test.serial('no key bytes in the state file, the logs (debug level) or inspect', async (t) => {
  const logs = capturingLogger();
  const fx = await startTestPlugin('luks-leak', undefined, {}, logs.log);
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'quiet', Opts: enc() });
  await fx.call('VolumeDriver.Mount', { Name: 'quiet', ID: A });
  await fx.call('VolumeDriver.Mount', { Name: 'nonexistent', ID: A });
  const key = await readFile(join(fx.config.keyDir, `${volumeId('quiet')}.key`));
  const stateText = await readFile(join(fx.config.stateDir, STATE_FILE_NAME));
  const logText = Buffer.from(logs.text());
  t.true(logText.includes('VolumeDriver.Mount'), 'the log captured requests');
  for (const form of [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('base64')), key.subarray(0, 16)]) {
    t.false(stateText.includes(form), 'key material in state.json');
    t.false(logText.includes(form), 'key material in the log');
  }
  const inspect = JSON.stringify(await waitFor('live status of "quiet"', () => status(fx, 'quiet'), hasLiveStatus, LIVE_STATUS_MS));
  t.false(inspect.includes(key.toString('hex').slice(0, 32)));
  await fx.call('VolumeDriver.Unmount', { Name: 'quiet', ID: A });
  await fx.call('VolumeDriver.Remove', { Name: 'quiet' });
});

const createFaults: ToolName[] = ['luksFormat', 'luksOpen', 'makeFilesystem', 'luksClose'];
for (const step of createFaults) {
  test.serial(`create failing at ${step} leaves no mapping, loop device, file or key`, async (t) => {
    const fx = await startTestPlugin(`luks-fault-${step}`, toolsFailingAt(step));
    t.teardown(() => fx.close());
    const res = await fx.call('VolumeDriver.Create', { Name: 'broken', Opts: enc() });
    t.regex(String(res.body['Err']), new RegExp(`^volume "broken": could not provision storage: injected failure in ${step}`));
    await nothingLeft(t, fx);
  });
}

const mountFaults: Array<[ToolName, number]> = [
  ['luksOpen', 1],
  ['mount', 1],
];
for (const [step, nth] of mountFaults) {
  test.serial(`mount failing at ${step} leaves no mapping or loop device, and the data`, async (t) => {
    // luksOpen #1 is create's own open; the Mount's open is #2.
    const fx = await startTestPlugin(`luks-mfault-${step}`, toolsFailingAt(step, step === 'luksOpen' ? nth + 1 : nth));
    t.teardown(() => fx.close());
    await fx.call('VolumeDriver.Create', { Name: 'm', Opts: enc() });
    const res = await fx.call('VolumeDriver.Mount', { Name: 'm', ID: A });
    t.regex(String(res.body['Err']), new RegExp(`^volume "m": could not be mounted: injected failure in ${step}`));
    t.deepEqual(await ourMappings(), []);
    t.deepEqual(await loopsUnder(fx.root), []);
    t.deepEqual(await mountsUnder(fx.root), []);
    t.like(await waitFor('live status of "m"', () => status(fx, 'm'), hasLiveStatus, LIVE_STATUS_MS), { leases: 0, open: false });
    await fx.restart();
    t.is((await fx.call('VolumeDriver.Mount', { Name: 'm', ID: A })).body['Err'], '', 'mounts once the fault is gone');
    await fx.call('VolumeDriver.Unmount', { Name: 'm', ID: A });
    await fx.call('VolumeDriver.Remove', { Name: 'm' });
  });
}

test.serial("keyfile: the user's key (argon2id) opens the volume; bad key files are refused", async (t) => {
  const fx = await startTestPlugin('luks-keyfile');
  t.teardown(() => fx.close());
  const keyfile = join(fx.root, 'user.key');
  await writeFile(keyfile, randomBytes(4096), { mode: 0o400 });
  t.is((await fx.call('VolumeDriver.Create', { Name: 'mine', Opts: enc({ keyfile }) })).body['Err'], '');
  t.like(await waitFor('live status of "mine"', () => status(fx, 'mine'), hasLiveStatus, LIVE_STATUS_MS), {
    keySource: 'keyfile',
    keyfile,
  });
  t.regex((await execa('cryptsetup', ['luksDump', join(fx.config.dataDir, volumeId('mine'), 'disk.img')])).stdout, /PBKDF:\s+argon2id/);
  t.deepEqual(await readdir(fx.config.keyDir).catch(() => []), [], 'no copy of the user key in the store');
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'mine', ID: A })).body['Mountpoint']);
  await writeFile(join(mountpoint, 'f'), 'x');
  await fx.call('VolumeDriver.Unmount', { Name: 'mine', ID: A });
  // Rekey leaves the user's key to the user, and says so without the key file's path.
  const rekeyErr = String((await fx.call('Custom.Rekey', { Name: 'mine' })).body['Err']);
  t.regex(rekeyErr, /^volume "mine": .*its key is your own key file \(the keyfile= option; its path is never repeated in an error\)/);
  t.false(rekeyErr.includes('user.key'));
  t.is((await fx.call('VolumeDriver.Remove', { Name: 'mine' })).body['Err'], '');

  const readable = join(fx.root, 'readable.key');
  await writeFile(readable, randomBytes(64));
  await chmod(readable, 0o644);
  // The key file's path is never echoed: it says where a key lives.
  const readableErr = String((await fx.call('VolumeDriver.Create', { Name: 'r', Opts: enc({ keyfile: readable }) })).body['Err']);
  t.regex(
    readableErr,
    /^volume "r": keyfile: the key file given with -o keyfile must be owned by root and not readable by group or others \(chown root, chmod 0400\) \(found: mode 0644\)$/,
  );
  t.false(readableErr.includes('readable.key'));
  const missingErr = String((await fx.call('VolumeDriver.Create', { Name: 'r', Opts: enc({ keyfile: '/nonexistent/k' }) })).body['Err']);
  t.regex(missingErr, /^volume "r": keyfile: the key file given with -o keyfile does not exist on the host; /);
  t.false(missingErr.includes('/nonexistent/k'));
  t.regex(
    String((await fx.call('VolumeDriver.Create', { Name: 'r', Opts: enc({ passphrase: 'hunter2' }) })).body['Err']),
    /option "passphrase" is refused/,
  );
  await nothingLeft(t, fx);
});

test.serial('sealed key store: with a KEK the key file is ciphertext; another KEK cannot mount', async (t) => {
  const kekDir = join(process.env['CUSTOM_TEST_TMP'] ?? '/var/tmp', `kek-${process.pid}`);
  await execa('mkdir', ['-p', kekDir]);
  const kekFile = join(kekDir, 'kek');
  await writeFile(kekFile, randomBytes(32), { mode: 0o400 });
  const fx = await startTestPlugin('luks-kek', undefined, { kekFile });
  t.teardown(async () => {
    await fx.close();
    await execa('rm', ['-rf', kekDir]);
  });
  await fx.call('VolumeDriver.Create', { Name: 'sealed', Opts: enc() });
  t.like(await waitFor('live status of "sealed"', () => status(fx, 'sealed'), hasLiveStatus, LIVE_STATUS_MS), { keySource: 'sealed' });
  const blob = await readFile(join(fx.config.keyDir, `${volumeId('sealed')}.key`));
  t.is(blob.subarray(0, 4).toString(), 'CVK1');
  const image = join(fx.config.dataDir, volumeId('sealed'), 'disk.img');
  const raw = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', image], { input: blob, reject: false });
  t.not(raw.exitCode, 0, 'the sealed blob itself is not the key');
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'sealed', ID: A })).body['Mountpoint']);
  await writeFile(join(mountpoint, 'f'), 'sealed data');
  await fx.call('VolumeDriver.Unmount', { Name: 'sealed', ID: A });

  await writeFile(join(kekDir, 'other'), randomBytes(32), { mode: 0o400 });
  await fx.plugin.stop();
  const { startPlugin } = await import('../../src/plugin.js');
  const { pino } = await import('pino');
  fx.plugin = await startPlugin({ ...fx.config, kekFile: join(kekDir, 'other') }, pino({ level: 'silent' }));
  const wrong = await fx.call('VolumeDriver.Mount', { Name: 'sealed', ID: A });
  t.regex(
    String(wrong.body['Err']),
    /^volume "sealed": could not be mounted: the sealed key does not open with the configured key-encryption key$/,
  );
  t.deepEqual(await ourMappings(), []);
  t.deepEqual(await loopsUnder(fx.root), []);
  await fx.plugin.stop();
  fx.plugin = await startPlugin(fx.config, pino({ level: 'silent' }));
  await fx.call('VolumeDriver.Mount', { Name: 'sealed', ID: A });
  t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'sealed data');
  await fx.call('VolumeDriver.Unmount', { Name: 'sealed', ID: A });
  await fx.call('VolumeDriver.Remove', { Name: 'sealed' });
});

test.serial('retain=true keeps image and key aside on remove; the name can be used again', async (t) => {
  const fx = await startTestPlugin('luks-retain');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'kept', Opts: enc({ retain: 'true' }) });
  t.is((await fx.call('VolumeDriver.Remove', { Name: 'kept' })).body['Err'], '');
  const retained = join(fx.config.dataDir, '.retained');
  const [dir] = await readdir(retained);
  t.truthy(dir);
  const key = await readFile(join(retained, dir!, 'volume.key'));
  const ok = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', join(retained, dir!, 'disk.img')], {
    input: key,
    reject: false,
  });
  t.is(ok.exitCode, 0, 'the retained key opens the retained image');
  t.is((await fx.call('VolumeDriver.Create', { Name: 'kept', Opts: enc() })).body['Err'], '');
  await fx.call('VolumeDriver.Remove', { Name: 'kept' });
});

test.serial('retain=true with the key store on another filesystem (EXDEV): the key is copied, made durable and unlinked', async (t) => {
  const keys = await makeTempDir('luks-retain-keys');
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1M,mode=0700', 'retain-keys', keys]);
  const fx = await startTestPlugin('luks-retain-exdev', undefined, { keyDir: join(keys, 'keys') });
  t.teardown(async () => {
    await fx.close();
    await execa('umount', [keys], { reject: false });
    await removeTempDir(keys);
  });
  t.not((await stat(keys)).dev, (await stat(fx.config.dataDir)).dev, 'the key store is on another filesystem');
  t.is((await fx.call('VolumeDriver.Create', { Name: 'apart', Opts: enc({ retain: 'true' }) })).body['Err'], '');
  t.is((await fx.call('VolumeDriver.Remove', { Name: 'apart' })).body['Err'], '');
  const [dir] = await readdir(join(fx.config.dataDir, '.retained'));
  const kept = join(fx.config.dataDir, '.retained', dir!);
  const opened = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file=-', join(kept, 'disk.img')], {
    input: await readFile(join(kept, 'volume.key')),
    reject: false,
  });
  t.is(opened.exitCode, 0, 'the retained key opens the retained image');
  t.deepEqual(await readdir(fx.config.keyDir), [], 'nothing left in the key store');
});

test.serial('after a reboot (mapping, loop and mount gone) a leased encrypted volume is reopened', async (t) => {
  const fx = await startTestPlugin('luks-reboot');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'r', Opts: enc() });
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'r', ID: A })).body['Mountpoint']);
  await writeFile(join(mountpoint, 'f'), 'before reboot');
  await fx.plugin.stop();
  await execa('umount', [join(mountpoint, '..')]);
  for (const name of await ourMappings()) await execa('cryptsetup', ['close', name]);
  for (const entry of await loopsUnder(fx.root)) await execa('losetup', ['-d', entry.split(' ')[0]!]);
  await fx.restart();
  t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'before reboot');
  await fx.call('VolumeDriver.Unmount', { Name: 'r', ID: A });
  t.deepEqual(await ourMappings(), []);
  await fx.call('VolumeDriver.Remove', { Name: 'r' });
  await nothingLeft(t, fx);
});

test.serial('ciphers are checked against the kernel: serpent-xts works; the choice shows in Status', async (t) => {
  const fx = await startTestPlugin('luks-cipher');
  t.teardown(() => fx.close());
  const { createSystemTools } = await import('../../src/system/index.js');
  const tools = createSystemTools(60_000);
  t.is(await tools.cipherSupported('aes-xts-plain64', 512), true, 'the benchmark answers in the guest');
  t.is(await tools.cipherSupported('nonexistentcipher-xts-plain64', 512), false, 'and says N/A for what the kernel lacks');
  t.is((await fx.call('VolumeDriver.Create', { Name: 'serp', Opts: enc({ cipher: 'serpent-xts-plain64' }) })).body['Err'], '');
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'serp', ID: A })).body['Mountpoint']);
  await writeFile(join(mountpoint, 'f'), 'serpent');
  t.like(await waitFor('live status of "serp"', () => status(fx, 'serp'), hasLiveStatus, LIVE_STATUS_MS), {
    cipher: 'serpent-xts-plain64',
    open: true,
  });
  t.regex(
    (await execa('cryptsetup', ['luksDump', join(fx.config.dataDir, volumeId('serp'), 'disk.img')])).stdout,
    /cipher: serpent-xts-plain64/,
  );
  await fx.call('VolumeDriver.Unmount', { Name: 'serp', ID: A });
  await fx.call('VolumeDriver.Remove', { Name: 'serp' });
  await nothingLeft(t, fx);
});
