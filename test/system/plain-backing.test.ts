import test from 'ava';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { imageBacking, volumeIn as volumeOf, withScrubbedRoot } from '../helpers/backing.js';
import type { VolumeContext } from '../../src/backings/backing.js';
import { createSystemTools } from '../../src/system/index.js';
import type { FsType, PlainSpec } from '../../src/state/schema.js';
import { loopsUnder, mountsUnder, volumeFiles } from '../helpers/host.js';
import { toolsFailingAt, type ToolName } from '../helpers/faults.js';

const volumeIn = async (root: string, name: string, fs: FsType = 'ext4', sizeBytes = 64 * 1024 ** 2): Promise<VolumeContext> =>
  volumeOf(root, name, { type: 'plain', fs, sizeBytes });
const withRoot = (run: (root: string) => Promise<void>) => withScrubbedRoot('system', run);

async function leftovers(root: string): Promise<{ loops: string[]; mounts: string[]; files: string[] }> {
  const list = async (dir: string) => readdir(dir).catch(() => [] as string[]);
  return {
    loops: await loopsUnder(root),
    mounts: await mountsUnder(root),
    files: [...(await list(join(root, 'volumes'))), ...(await list(join(root, 'mounts')))],
  };
}
const NOTHING = { loops: [], mounts: [], files: [] };

for (const fs of ['ext4', 'xfs'] as const) {
  test(`${fs}: data survives deactivate and activate; the size is enforced`, async (t) => {
    await withRoot(async (root) => {
      const backing = imageBacking(createSystemTools(20_000));
      const volume = await volumeIn(root, `sized ${fs}`, fs, fs === 'xfs' ? 300 * 1024 ** 2 : 64 * 1024 ** 2);
      await backing.create(volume);
      await backing.activate(volume);
      await backing.activate(volume); // idempotent
      t.is((await loopsUnder(root)).length, 1);
      await writeFile(join(volume.paths.mountpoint, 'hello'), 'persisted');
      const { stdout: fsType } = await execa('findmnt', ['-n', '-o', 'FSTYPE', volume.paths.mountRoot]);
      t.is(fsType, fs);
      const status = await backing.status(volume);
      t.true(Number(status['capacityBytes']) <= (volume.record.spec as PlainSpec).sizeBytes);
      const tooBig = await execa(
        'dd',
        [
          'if=/dev/zero',
          `of=${join(volume.paths.mountpoint, 'big')}`,
          'bs=1M',
          `count=${(volume.record.spec as PlainSpec).sizeBytes / 1024 ** 2 + 16}`,
        ],
        { reject: false },
      );
      t.not(tooBig.exitCode, 0);
      t.regex(tooBig.stderr, /No space left on device/);
      await backing.deactivate(volume);
      await backing.deactivate(volume); // idempotent
      t.deepEqual(await loopsUnder(root), []);
      t.deepEqual(await mountsUnder(root), []);
      await backing.activate(volume);
      t.is(await readFile(join(volume.paths.mountpoint, 'hello'), 'utf8'), 'persisted');
      await backing.destroy(volume);
      t.deepEqual(await leftovers(root), NOTHING);
    });
  });
}

test('the image is sparse: a 10 GiB volume costs a few MiB on the host', async (t) => {
  await withRoot(async (root) => {
    const backing = imageBacking(createSystemTools(20_000));
    const volume = await volumeIn(root, 'sparse', 'ext4', 10 * 1024 ** 3);
    await backing.create(volume);
    const status = await backing.status(volume);
    t.true(Number(status['allocatedBytes']) < 64 * 1024 ** 2, String(status['allocatedBytes']));
    await backing.destroy(volume);
  });
});

const createSteps: ToolName[] = ['makeNewDirectory', 'createSparseFile', 'makeFilesystem'];
for (const step of createSteps) {
  test(`create failing at ${step} leaves nothing behind`, async (t) => {
    await withRoot(async (root) => {
      const backing = imageBacking(toolsFailingAt(step));
      const volume = await volumeIn(root, `fail-${step}`);
      await t.throwsAsync(backing.create(volume), { message: `injected failure in ${step}` });
      t.deepEqual(await leftovers(root), NOTHING);
    });
  });
}

// activate: attach → mkdir mount root → mount → check that _data is a real directory (pathKind).
const activateSteps: Array<[ToolName, number]> = [
  ['attachLoop', 1],
  ['makeDirectory', 1],
  ['mount', 1],
  ['pathKind', 1],
];
for (const [step, nth] of activateSteps) {
  test(`activate failing at ${step} #${nth} leaves no loop device or mount, and keeps the data`, async (t) => {
    await withRoot(async (root) => {
      const real = imageBacking(createSystemTools(20_000));
      const volume = await volumeIn(root, `activate-${step}-${nth}`);
      await real.create(volume);
      await real.activate(volume);
      await writeFile(join(volume.paths.mountpoint, 'keep'), 'me');
      await real.deactivate(volume);
      const faulty = imageBacking(toolsFailingAt(step, nth));
      await t.throwsAsync(faulty.activate(volume), { message: `injected failure in ${step}` });
      t.deepEqual(await loopsUnder(root), []);
      t.deepEqual(await mountsUnder(root), []);
      t.deepEqual(await readdir(join(root, 'mounts')), []);
      await real.activate(volume);
      t.is(await readFile(join(volume.paths.mountpoint, 'keep'), 'utf8'), 'me');
      await real.destroy(volume);
    });
  });
}

test('create never reuses or deletes an existing volume directory', async (t) => {
  await withRoot(async (root) => {
    const backing = imageBacking(createSystemTools(20_000));
    const volume = await volumeIn(root, 'existing');
    await execa('mkdir', ['-p', volume.paths.dir]);
    await writeFile(volume.paths.image, 'an earlier volume');
    await t.throwsAsync(backing.create(volume), { code: 'EEXIST' });
    t.is(await readFile(volume.paths.image, 'utf8'), 'an earlier volume');
  });
});

test('a real mkfs failure (image on a full filesystem) is reported and undone', async (t) => {
  await withRoot(async (root) => {
    // A 20 MiB tmpfs as the data dir: the sparse file fits, mkfs's writes do not.
    const dataDir = join(root, 'volumes');
    await execa('mkdir', ['-p', dataDir]);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', dataDir]);
    try {
      const backing = imageBacking(createSystemTools(20_000));
      const volume = await volumeIn(root, 'full', 'xfs', 2 * 1024 ** 3);
      await t.throwsAsync(backing.create(volume), { message: /mkfs\.xfs exited with/ });
      t.deepEqual(await volumeFiles(dataDir), []);
    } finally {
      await execa('umount', [dataDir]);
    }
  });
});

test('commands that hang are killed at the timeout', async (t) => {
  const { runTool } = await import('../../src/system/run.js');
  const started = Date.now();
  await t.throwsAsync(runTool('sleep', ['30'], { timeoutMs: 300 }), { message: /sleep timed out/ });
  t.true(Date.now() - started < 5000);
});
