import test from 'ava';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listReal, realDirectory, removeEntry } from '../../src/backings/replicated/pool-paths.js';
import { age, exists, marker, OTHER, PRECIOUS, rig, scene, SELF, tools, victimIntact, VOLUME_ID } from '../helpers/pool-scene.js';

// Whatever a peer plants in a pool volume (a symlink out of the pool, a stray
// directory), the plugin must not delete outside the pool. A temp directory
// stands in for the GlusterFS mount; a "victim" directory beside it holds what
// must survive. No root needed: what reads a file of the pool (it takes only
// root-owned files) is tested in test/system/pool-safety.test.ts.

// pool-paths.ts

test('a .trash that is a symlink out of the pool is not a real directory and lists as empty', async (t) => {
  const { pool, victim } = await scene(t);
  await symlink(victim, join(pool, '.trash'));
  t.is(await realDirectory(tools, pool, '.trash'), undefined);
  t.is(await realDirectory(tools, pool, '.trash', 'x'), undefined);
  t.deepEqual(await listReal(tools, pool, '.trash'), []);
  await victimIntact(t, victim);
});

test('a real directory of the pool is returned and listed', async (t) => {
  const { pool } = await scene(t);
  await mkdir(join(pool, '.trash', 'a'), { recursive: true });
  t.is(await realDirectory(tools, pool, '.trash', 'a'), join(pool, '.trash', 'a'));
  t.deepEqual(await listReal(tools, pool, '.trash'), ['a']);
  t.is(await realDirectory(tools, pool, '.trash', 'missing'), undefined);
});

test('removing an entry under a .trash that links out of the pool deletes nothing there', async (t) => {
  const { pool, victim } = await scene(t);
  await symlink(victim, join(pool, '.trash'));
  await removeEntry(tools, pool, '.trash', 'x');
  await removeEntry(tools, pool, '.trash', 'f');
  await victimIntact(t, victim);
  t.true(await exists(join(pool, '.trash')));
});

test('removing an entry that is a symlink out of the pool removes only the link', async (t) => {
  const { pool, victim } = await scene(t);
  await mkdir(join(pool, '.trash'));
  await symlink(victim, join(pool, '.trash', 'link'));
  await symlink(join(victim, 'f'), join(pool, '.trash', 'filelink'));
  await removeEntry(tools, pool, '.trash', 'link');
  await removeEntry(tools, pool, '.trash', 'filelink');
  t.deepEqual(await readdir(join(pool, '.trash')), []);
  await victimIntact(t, victim);
});

test('a real directory entry is removed with everything in it, links inside unfollowed', async (t) => {
  const { pool, victim } = await scene(t);
  await mkdir(join(pool, '.trash', 'old', '_data'), { recursive: true });
  await writeFile(join(pool, '.trash', 'old', '_data', 'f'), 'x');
  await symlink(victim, join(pool, '.trash', 'old', '_data', 'out'));
  await removeEntry(tools, pool, '.trash', 'old');
  t.deepEqual(await readdir(join(pool, '.trash')), []);
  await victimIntact(t, victim);
});

test('path parts "..", "." or with a slash are refused: nothing resolved, listed or removed', async (t) => {
  const { pool, victim } = await scene(t);
  await mkdir(join(pool, 'a', 'b'), { recursive: true });
  for (const bad of ['..', '.', '', 'a/b', '../victim']) {
    t.is(await realDirectory(tools, pool, bad), undefined, bad);
    t.deepEqual(await listReal(tools, pool, bad), [], bad);
  }
  t.is(await realDirectory(tools, pool, '..', 'victim'), undefined);
  t.deepEqual(await listReal(tools, pool, '..', 'victim'), []);
  await removeEntry(tools, pool, '..', 'victim');
  await removeEntry(tools, pool, '..');
  await removeEntry(tools, pool, '../victim');
  await removeEntry(tools, pool, '..', 'victim', 'x');
  await removeEntry(tools, pool, 'a', '..', '..', 'victim');
  await removeEntry(tools, pool, 'a/b');
  await removeEntry(tools, pool, 'a', '.');
  await removeEntry(tools, pool);
  await victimIntact(t, victim);
  t.true(await exists(join(pool, 'a', 'b')));
});

// KNOWN BUG (src/backings/replicated/pool-paths.ts:33): removeEntry checks its
// last part for '/', '.' and '..' but not for '', and join(parent, '') is the
// parent, so removeEntry(pool, 'a', '') deletes pool/a and removeEntry(pool, '')
// the pool itself. Drop `.failing` once removeEntry refuses '' like realDirectory.
test('an empty last part is refused too: removeEntry never deletes the parent or the pool', async (t) => {
  const { root, pool } = await scene(t);
  await mkdir(join(pool, 'a', 'b'), { recursive: true });
  await removeEntry(tools, pool, 'a', '');
  t.true(await exists(join(pool, 'a', 'b')), 'pool/a was deleted');
  await removeEntry(tools, pool, '');
  t.true(await exists(join(root, 'pool')), 'the pool itself was deleted');
});

// The sweeper

test('a sweep with .trash linked out of the pool deletes nothing there', async (t) => {
  const s = await scene(t);
  const { sweeper, gluster } = await rig(t, s);
  await symlink(s.victim, join(s.pool, '.trash'));
  await age();
  await sweeper.sweep();
  await victimIntact(t, s.victim);
  t.deepEqual(gluster.quotaRemoved, []);
});

test('a sweep removes a .trash entry that links out of the pool, never its target', async (t) => {
  const s = await scene(t);
  const { sweeper, gluster } = await rig(t, s);
  await mkdir(join(s.pool, '.trash', SELF), { recursive: true });
  await symlink(s.victim, join(s.pool, '.trash', SELF, 'evil'));
  await age();
  await sweeper.sweep();
  await victimIntact(t, s.victim);
  t.false(await exists(join(s.pool, '.trash', SELF, 'evil')));
  t.deepEqual(gluster.quotaRemoved, []);
});

test("a sweep empties a real entry of this host's .trash and drops its quota limit; another host's trash is theirs", async (t) => {
  const s = await scene(t);
  const { sweeper, gluster } = await rig(t, s);
  await mkdir(join(s.pool, '.trash', SELF, 'old.1234', '_data'), { recursive: true });
  await writeFile(join(s.pool, '.trash', SELF, 'old.1234', '_data', 'f'), 'x');
  await mkdir(join(s.pool, '.trash', OTHER, 'theirs.1', '_data'), { recursive: true });
  await age();
  await sweeper.sweep();
  t.deepEqual(await readdir(join(s.pool, '.trash', SELF)), []);
  t.deepEqual(await readdir(join(s.pool, '.trash', OTHER)), ['theirs.1']);
  t.deepEqual(gluster.quotaRemoved, [['cv_pool', `/.trash/${SELF}/old.1234`]]);
});

test("a sweep with this host's .creating directory linked out of the pool deletes nothing there", async (t) => {
  const s = await scene(t);
  const { sweeper, gluster } = await rig(t, s);
  await mkdir(join(s.pool, '.creating'));
  await symlink(s.victim, join(s.pool, '.creating', SELF));
  await age();
  await sweeper.sweep();
  await victimIntact(t, s.victim);
  t.deepEqual(gluster.quotaRemoved, []);
});

test("a sweep with .creating linked out of the pool deletes nothing there, even where this host's uuid is a directory", async (t) => {
  const s = await scene(t);
  const { sweeper, gluster } = await rig(t, s);
  await mkdir(join(s.victim, SELF, 'stale.1'), { recursive: true });
  await writeFile(join(s.victim, SELF, 'stale.1', 'f'), PRECIOUS);
  await symlink(s.victim, join(s.pool, '.creating'));
  await age();
  await sweeper.sweep();
  t.is(await readFile(join(s.victim, SELF, 'stale.1', 'f'), 'utf8'), PRECIOUS);
  t.deepEqual(gluster.quotaRemoved, []);
});

test("a sweep removes this host's stale staging directory and a staging entry linked out of the pool, and keeps another host's", async (t) => {
  const s = await scene(t);
  const { sweeper, gluster } = await rig(t, s);
  await mkdir(join(s.pool, '.creating', SELF, 'stale.1', '_data'), { recursive: true });
  await symlink(s.victim, join(s.pool, '.creating', SELF, 'evil.2'));
  await mkdir(join(s.pool, '.creating', OTHER, 'x.1'), { recursive: true });
  await age();
  await sweeper.sweep();
  t.deepEqual(await readdir(join(s.pool, '.creating', SELF)), []);
  t.deepEqual(await readdir(join(s.pool, '.creating', OTHER)), ['x.1']);
  t.deepEqual(gluster.quotaRemoved, [['cv_pool', `/.creating/${SELF}/stale.1`]]);
  await victimIntact(t, s.victim);
});

test('a sweep with volumes/ linked out of the pool removes no marker there', async (t) => {
  const s = await scene(t);
  const { sweeper } = await rig(t, s);
  // Shaped like volumes/<id>/hosts/<our uuid>, so a followed link would find a "stale marker".
  await mkdir(join(s.victim, 'x', 'hosts'));
  await writeFile(join(s.victim, 'x', 'hosts', SELF), PRECIOUS, { mode: 0o600 });
  await symlink(s.victim, join(s.pool, 'volumes'));
  await age();
  await sweeper.sweep();
  t.is(await readFile(join(s.victim, 'x', 'hosts', SELF), 'utf8'), PRECIOUS);
  t.is(await readFile(join(s.victim, 'f'), 'utf8'), PRECIOUS);
});

test("a sweep with a volume's hosts/ linked out of the pool removes nothing there", async (t) => {
  const s = await scene(t);
  const { sweeper } = await rig(t, s);
  await writeFile(join(s.victim, SELF), PRECIOUS, { mode: 0o600 });
  await mkdir(join(s.pool, 'volumes', VOLUME_ID), { recursive: true });
  await symlink(s.victim, join(s.pool, 'volumes', VOLUME_ID, 'hosts'));
  await age();
  await sweeper.sweep();
  t.is(await readFile(join(s.victim, SELF), 'utf8'), PRECIOUS);
  await victimIntact(t, s.victim, SELF);
});

test("a sweep removes this host's stale marker on a volume it has not mounted and keeps another host's", async (t) => {
  const s = await scene(t);
  const { sweeper } = await rig(t, s);
  const id = 'v-0123456789abcdef';
  const hosts = join(s.pool, 'volumes', id, 'hosts');
  await mkdir(hosts, { recursive: true });
  await marker(hosts, SELF, '10.0.0.1');
  await marker(hosts, OTHER, '10.0.0.2');
  await age();
  await sweeper.sweep();
  t.deepEqual(await readdir(hosts), [OTHER]);
});

test("doctor's leftovers name what the sweep would delete, and a pool brick no GlusterFS volume uses, and delete nothing", async (t) => {
  const s = await scene(t);
  const { sweeper, brickRoot } = await rig(t, s);
  await mkdir(join(s.pool, '.creating', SELF, 'stale.1', '_data'), { recursive: true });
  await mkdir(join(s.pool, '.creating', OTHER, 'x.1'), { recursive: true });
  await mkdir(join(s.pool, '.trash', SELF, 'old.1234', '_data'), { recursive: true });
  const legacyBrick = join(brickRoot, `${VOLUME_ID}-b1`);
  await mkdir(legacyBrick);
  await mkdir(join(brickRoot, 'cv_pool_arbiter-b2'));
  await mkdir(join(brickRoot, 'not-ours'));
  await age();
  const found = (await sweeper.leftovers()).map((leftover) => leftover.what);
  t.deepEqual(
    found.sort(),
    [
      `an interrupted create left ${join(s.pool, '.creating', SELF, 'stale.1')}`,
      `an interrupted remove left ${join(s.pool, '.trash', SELF, 'old.1234')}`,
      `brick directory ${legacyBrick} belongs to no GlusterFS volume and no volume of this host`,
      `pool brick directories ${join(brickRoot, 'cv_pool_arbiter-b2')} belong to no GlusterFS volume (the pool was deleted, or glusterd lost it)`,
    ].sort(),
  );
  t.true(await exists(join(s.pool, '.creating', SELF, 'stale.1')), 'doctor deletes nothing');
  t.true(await exists(legacyBrick));
  await sweeper.sweep();
  t.false(await exists(legacyBrick), 'the sweep deletes the legacy brick');
  t.true(await exists(join(brickRoot, 'cv_pool_arbiter-b2')), 'never a pool brick');
  t.true(await exists(join(brickRoot, 'not-ours')));
  t.deepEqual(
    (await sweeper.leftovers()).map((leftover) => leftover.what),
    [
      `pool brick directories ${join(brickRoot, 'cv_pool_arbiter-b2')} belong to no GlusterFS volume (the pool was deleted, or glusterd lost it)`,
    ],
  );
});
