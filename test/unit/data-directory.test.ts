import test from 'ava';
import { lstat, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDataDirectory } from '../../src/backings/filesystem.js';
import type { VolumePaths } from '../../src/backings/backing.js';
import { createSystemTools } from '../../src/system/index.js';
import { pathKind } from '../../src/system/dir-check.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// A plain directory stands in for the mounted filesystem's root: the check is
// about what is at `_data`, not about the mount.
const tools = createSystemTools(5000);

async function volumeRoot(t: { teardown: (fn: () => Promise<void>) => void }): Promise<VolumePaths> {
  const root = await makeTempDir('data-dir');
  t.teardown(() => removeTempDir(root));
  const mountRoot = join(root, 'mount');
  await mkdir(mountRoot);
  return {
    dir: join(root, 'volume'),
    image: join(root, 'volume', 'disk.img'),
    mountRoot,
    mountpoint: join(mountRoot, '_data'),
    retainRoot: join(root, '.retained'),
  };
}

test('a fresh volume gets a real _data directory; a second call keeps it', async (t) => {
  const paths = await volumeRoot(t);
  await ensureDataDirectory(tools, paths);
  t.true((await lstat(paths.mountpoint)).isDirectory());
  await writeFile(join(paths.mountpoint, 'kept'), 'x');
  await ensureDataDirectory(tools, paths);
  t.deepEqual(await readdir(paths.mountpoint), ['kept']);
});

test('a _data symlink to / is refused, left in place and not followed', async (t) => {
  const paths = await volumeRoot(t);
  const target = join(paths.mountRoot, '..', 'elsewhere');
  await mkdir(target);
  await symlink('/', paths.mountpoint);
  const error = await t.throwsAsync(ensureDataDirectory(tools, paths));
  t.regex(
    error?.message ?? '',
    /^_data at the top of the volume's filesystem is a symbolic link; the plugin refuses to hand it to a container\. Remove or rename _data/,
  );
  t.is(await readlink(paths.mountpoint), '/', 'left as it was');
  // A symlink into a directory we can watch: nothing is created through it.
  const watched = await volumeRoot(t);
  await symlink(target, watched.mountpoint);
  await t.throwsAsync(ensureDataDirectory(tools, watched), { message: /is a symbolic link/ });
  t.deepEqual(await readdir(target), []);
});

test('a dangling _data symlink is refused and nothing is created at its target', async (t) => {
  const paths = await volumeRoot(t);
  const target = join(paths.mountRoot, '..', 'not-yet');
  await symlink(target, paths.mountpoint);
  await t.throwsAsync(ensureDataDirectory(tools, paths), { message: /is a symbolic link/ });
  t.is(await pathKind(target), 'missing');
});

test('a regular file _data is refused', async (t) => {
  const paths = await volumeRoot(t);
  await writeFile(paths.mountpoint, 'not a directory');
  await t.throwsAsync(ensureDataDirectory(tools, paths), {
    message: /^_data at the top of the volume's filesystem is not a directory; the plugin refuses/,
  });
  t.is(await pathKind(paths.mountpoint), 'file');
});

test('pathKind tells directory, symlink, other and missing apart without following', async (t) => {
  const paths = await volumeRoot(t);
  t.is(await pathKind(paths.mountRoot), 'directory');
  t.is(await pathKind(paths.mountpoint), 'missing');
  await symlink(paths.mountRoot, paths.mountpoint);
  t.is(await pathKind(paths.mountpoint), 'symlink');
});
