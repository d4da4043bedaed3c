import test from 'ava';
import { readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestPlugin } from '../helpers/plugin.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { ourMappings } from '../helpers/luks.js';

// Runs inside a guest with a stock Debian kernel (dm-crypt); see test/vm.
// An encrypted volume grown through the plugin's /Custom.Resize: image, loop
// device, LUKS mapping (the key again on stdin), filesystem, while mounted;
// and one that nobody has mounted, opened for the time being and closed again.
const A = 'a'.repeat(64);
const MiB = 1024 ** 2;
const capacity = async (path: string) => {
  const s = await statfs(path);
  return s.blocks * s.bsize;
};

for (const [fs, size] of [
  ['ext4', 64],
  ['btrfs', 160],
] as const) {
  test.serial(`encrypted ${fs}: grown while mounted, the data stays and the mapping closes at the last unmount`, async (t) => {
    const fx = await startTestPlugin(`luks-grow-${fs}`);
    t.teardown(() => fx.close());
    const opts = fs === 'btrfs' ? { type: 'encrypted', compression: 'zstd', size: `${size}M` } : { type: 'encrypted', size: `${size}M` };
    t.is((await fx.call('VolumeDriver.Create', { Name: 'vault', Opts: opts })).body['Err'], '');
    const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'vault', ID: A })).body['Mountpoint']);
    await writeFile(join(mountpoint, 'f'), 'sealed');
    const before = await capacity(mountpoint);
    const resized = await fx.call('Custom.Resize', { Name: 'vault', Size: `${size * 2}M` });
    t.is(resized.body['Err'], '');
    t.like(resized.body, { FromBytes: size * MiB, ToBytes: size * 2 * MiB, Changed: true });
    const after = await capacity(mountpoint);
    t.true(after > before + size * MiB * 0.8, `${before} → ${after}`);
    t.is(await readFile(join(mountpoint, 'f'), 'utf8'), 'sealed');
    await writeFile(join(mountpoint, 'big'), Buffer.alloc(Math.round(size * MiB * 1.1)));
    await fx.call('VolumeDriver.Unmount', { Name: 'vault', ID: A });
    t.deepEqual(await ourMappings(), []);
    await fx.call('VolumeDriver.Mount', { Name: 'vault', ID: A });
    t.is((await readFile(join(mountpoint, 'big'))).length, Math.round(size * MiB * 1.1));
    await fx.call('VolumeDriver.Unmount', { Name: 'vault', ID: A });
    await fx.call('VolumeDriver.Remove', { Name: 'vault' });
  });
}

test.serial('an encrypted volume nobody has mounted is opened for the grow and closed again', async (t) => {
  const fx = await startTestPlugin('luks-grow-cold');
  t.teardown(() => fx.close());
  await fx.call('VolumeDriver.Create', { Name: 'cold', Opts: { type: 'encrypted', size: '64M' } });
  t.is((await fx.call('Custom.Resize', { Name: 'cold', Size: '256M' })).body['Err'], '');
  t.deepEqual(await ourMappings(), []);
  t.deepEqual(await loopsUnder(fx.root), []);
  t.deepEqual(await mountsUnder(fx.root), []);
  const mountpoint = String((await fx.call('VolumeDriver.Mount', { Name: 'cold', ID: A })).body['Mountpoint']);
  t.true((await capacity(mountpoint)) > 200 * MiB);
  await fx.call('VolumeDriver.Unmount', { Name: 'cold', ID: A });
  await fx.call('VolumeDriver.Remove', { Name: 'cold' });
});
