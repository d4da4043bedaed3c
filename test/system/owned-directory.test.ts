import test from 'ava';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeOwnedDirectory, pathExists } from '../../src/system/files.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// The volume root made for -o uid/gid/mode: owned as asked, never replacing
// a directory that is there already, nothing left when it fails.

test('made with the owner and mode asked for', async (t) => {
  const root = await makeTempDir('owned');
  t.teardown(() => removeTempDir(root));
  await makeOwnedDirectory(join(root, '_data'), { uid: 1234, gid: 2345, mode: 0o2750 });
  const made = await stat(join(root, '_data'));
  t.is(made.uid, 1234);
  t.is(made.gid, 2345);
  t.is(made.mode & 0o7777, 0o2750);
  await makeOwnedDirectory(join(root, 'modeless'), { uid: 7 });
  t.is((await stat(join(root, 'modeless'))).mode & 0o7777, 0o755, 'mode defaults to 0755');
});

test('a directory that exists (made by another host, say) is left as it is: EEXIST', async (t) => {
  const root = await makeTempDir('owned-exists');
  t.teardown(() => removeTempDir(root));
  await mkdir(join(root, '_data'), { mode: 0o711 });
  const before = await stat(join(root, '_data'));
  await t.throwsAsync(makeOwnedDirectory(join(root, '_data'), { uid: 1234 }), { code: 'EEXIST' });
  const after = await stat(join(root, '_data'));
  t.is(after.ino, before.ino, 'not replaced');
  t.is(after.uid, before.uid);
  t.is(after.mode & 0o7777, 0o711);
});

test('a failure after the mkdir leaves no directory behind', async (t) => {
  const root = await makeTempDir('owned-fails');
  t.teardown(() => removeTempDir(root));
  // Beyond any uid: the chown is refused after the directory was made.
  await t.throwsAsync(makeOwnedDirectory(join(root, '_data'), { uid: 2 ** 33 }));
  t.false(await pathExists(join(root, '_data')));
});
