import test from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageBacking, volumeIn, withScrubbedRoot } from '../helpers/backing.js';
import type { VolumeContext } from '../../src/backings/backing.js';
import { createSystemTools } from '../../src/system/index.js';
import type { FsType, ImageSpec } from '../../src/state/schema.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { toolsFailingAt } from '../helpers/faults.js';

// The image stack grown in place on real loop devices: image, loop capacity,
// filesystem (online), and every step undone when a later one fails.

const MiB = 1024 ** 2;

const withRoot = (run: (root: string) => Promise<void>) => withScrubbedRoot('grow', run);

const tools = createSystemTools(20_000);
const capacity = async (volume: VolumeContext) => (await tools.filesystemUsage(volume.paths.mountRoot)).totalBytes;
const loopBytes = async (device: string) => Number(await readFile(`/sys/block/${device.replace('/dev/', '')}/size`, 'utf8')) * 512;

const SPECS: Array<[string, ImageSpec]> = [
  ['xfs', { type: 'plain', fs: 'xfs', sizeBytes: 320 * MiB }],
  ['btrfs', { type: 'plain', fs: 'btrfs' as FsType, sizeBytes: 160 * MiB }],
  ['compressed', { type: 'compressed', fs: 'btrfs', sizeBytes: 160 * MiB, compression: { algorithm: 'zstd', force: false } }],
];

for (const [label, spec] of SPECS) {
  test(`${label}: grown while mounted, the filesystem sees the new size and the data stays`, async (t) => {
    await withRoot(async (root) => {
      const backing = imageBacking(tools);
      const volume = volumeIn(root, `grow-${label}`, spec);
      await backing.create(volume);
      await backing.activate(volume);
      await writeFile(join(volume.paths.mountpoint, 'f'), 'before');
      const small = await capacity(volume);
      await backing.grow(volume, spec.sizeBytes * 2);
      const large = await capacity(volume);
      t.true(large > small + spec.sizeBytes * 0.8, `${small} → ${large}`);
      t.is((await stat(volume.paths.image)).size, spec.sizeBytes * 2);
      t.is(await readFile(join(volume.paths.mountpoint, 'f'), 'utf8'), 'before');
      await writeFile(join(volume.paths.mountpoint, 'g'), Buffer.alloc(Math.round(spec.sizeBytes * 1.1)));
      await backing.deactivate(volume);
      await backing.destroy(volume);
      t.deepEqual(await loopsUnder(root), []);
    });
  });
}

test('ext4 while mounted: grown where the process may (CAP_SYS_RESOURCE), else refused before anything changes', async (t) => {
  await withRoot(async (root) => {
    const backing = imageBacking(tools);
    const volume = volumeIn(root, 'hot-ext4', { type: 'plain', fs: 'ext4', sizeBytes: 64 * MiB });
    await backing.create(volume);
    await backing.activate(volume);
    await writeFile(join(volume.paths.mountpoint, 'f'), 'before');
    const small = await capacity(volume);
    if (await tools.canGrowMountedExt4()) {
      await backing.grow(volume, 128 * MiB);
      t.true((await capacity(volume)) > small + 50 * MiB);
    } else {
      await t.throwsAsync(backing.grow(volume, 128 * MiB), {
        message: /growing a mounted ext4 needs CAP_SYS_RESOURCE.*Nothing was changed: stop the containers/,
      });
      t.is((await stat(volume.paths.image)).size, 64 * MiB, 'image untouched');
      t.is(await capacity(volume), small);
    }
    t.is(await readFile(join(volume.paths.mountpoint, 'f'), 'utf8'), 'before');
    await backing.deactivate(volume);
    await backing.destroy(volume);
  });
});

test('ext4 that nobody has mounted is grown offline (e2fsck, resize2fs) and left unmounted', async (t) => {
  await withRoot(async (root) => {
    const backing = imageBacking(tools);
    const volume = volumeIn(root, 'cold', { type: 'plain', fs: 'ext4', sizeBytes: 64 * MiB });
    await backing.create(volume);
    await backing.activate(volume);
    await writeFile(join(volume.paths.mountpoint, 'f'), 'kept');
    await backing.deactivate(volume);
    await backing.grow(volume, 128 * MiB);
    t.deepEqual(await mountsUnder(root), []);
    t.deepEqual(await loopsUnder(root), []);
    await backing.activate(volume);
    t.true((await capacity(volume)) > 100 * MiB);
    t.is(await readFile(join(volume.paths.mountpoint, 'f'), 'utf8'), 'kept');
    await backing.deactivate(volume);
    await backing.destroy(volume);
  });
});

test('a step before the filesystem grow fails (the loop refresh): the image is cut back, the volume stays mounted with its data', async (t) => {
  await withRoot(async (root) => {
    const faulty = imageBacking(toolsFailingAt('refreshLoopSize'));
    const volume = volumeIn(root, 'undo', { type: 'plain', fs: 'btrfs', sizeBytes: 160 * MiB });
    await faulty.create(volume);
    await faulty.activate(volume);
    await writeFile(join(volume.paths.mountpoint, 'f'), 'kept');
    const [device] = (await loopsUnder(root)).map((entry) => entry.split(' ')[0]!);
    const before = await capacity(volume);
    await t.throwsAsync(faulty.grow(volume, 320 * MiB), { message: /injected failure in refreshLoopSize/ });
    t.is((await stat(volume.paths.image)).size, 160 * MiB, 'image cut back');
    t.is(await loopBytes(device!), 160 * MiB, 'loop device back at its size');
    t.is(await capacity(volume), before);
    t.is(await readFile(join(volume.paths.mountpoint, 'f'), 'utf8'), 'kept');
    await faulty.deactivate(volume);
    await faulty.destroy(volume);
  });
});

test('a grow that died after extending the image (the plugin SIGKILLed) is finished by the next one', async (t) => {
  await withRoot(async (root) => {
    const backing = imageBacking(tools);
    const hot = volumeIn(root, 'died-hot', { type: 'plain', fs: 'btrfs', sizeBytes: 160 * MiB });
    const cold = volumeIn(root, 'died-cold', { type: 'plain', fs: 'ext4', sizeBytes: 64 * MiB });
    for (const volume of [hot, cold]) await backing.create(volume);
    await backing.activate(hot);
    const small = await capacity(hot);
    // What a grow leaves when it dies right after its first step.
    await tools.extendImage(hot.paths.image, 320 * MiB, false);
    await tools.extendImage(cold.paths.image, 128 * MiB, false);
    await backing.grow(hot, 320 * MiB);
    t.true((await capacity(hot)) > small + 100 * MiB, 'mounted: the filesystem took the space');
    await backing.grow(cold, 128 * MiB);
    await backing.activate(cold);
    t.true((await capacity(cold)) > 100 * MiB, 'unmounted ext4: grown offline');
    for (const volume of [hot, cold]) {
      await backing.deactivate(volume);
      await backing.destroy(volume);
    }
  });
});

test('the filesystem grow fails after it took the space: nothing is cut back under it', async (t) => {
  await withRoot(async (root) => {
    const real = createSystemTools(20_000);
    const halfway = {
      ...real,
      growFilesystem: async (...args: Parameters<typeof real.growFilesystem>) => {
        await real.growFilesystem(...args);
        throw new Error('killed after growing');
      },
    };
    const backing = imageBacking(halfway);
    const volume = volumeIn(root, 'halfway', { type: 'plain', fs: 'btrfs', sizeBytes: 160 * MiB });
    await backing.create(volume);
    await backing.activate(volume);
    const small = await capacity(volume);
    await t.throwsAsync(backing.grow(volume, 320 * MiB), { message: /killed after growing/ });
    t.is((await stat(volume.paths.image)).size, 320 * MiB, 'the image keeps the size the filesystem now uses');
    t.true((await capacity(volume)) > small + 100 * MiB);
    await writeFile(join(volume.paths.mountpoint, 'big'), Buffer.alloc(200 * MiB));
    t.is((await stat(join(volume.paths.mountpoint, 'big'))).size, 200 * MiB);
    await backing.deactivate(volume);
    await backing.destroy(volume);
  });
});
