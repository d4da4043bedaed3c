import test from 'ava';
import { execa } from 'execa';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostMarkers } from '../../src/backings/replicated/markers.js';
import { readPoolFile, readPoolMeta } from '../../src/backings/replicated/pool-paths.js';
import { writeVolumeMeta } from '../../src/state/volume-meta.js';
import {
  context,
  exists,
  marker,
  OTHER,
  PRECIOUS,
  record,
  rig,
  scene,
  SELF,
  tools,
  victimIntact,
  VOLUME_ID,
  volumeDir,
} from '../helpers/pool-scene.js';

// What a peer plants in a pool volume, against what reads the pool's files
// (volume.json, host markers) and what PoolVolumes does with them. Run as
// root: the safe reader only takes root-owned files, so a refusal here is the
// link or the file type, not the owner.

// readPoolFile / readPoolMeta

test('reading a FIFO in the pool is refused at once instead of hanging', async (t) => {
  const { pool } = await scene(t);
  const fifo = join(pool, 'volume.json');
  await execa('mkfifo', [fifo]);
  const started = Date.now();
  t.is(await readPoolFile(tools, fifo), undefined);
  t.true(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  const meta = await readPoolMeta(tools, pool);
  t.true('problem' in meta && meta.missing);
});

test('reading a symlink to a root-owned file outside the pool is refused; the file itself reads', async (t) => {
  const { pool, victim } = await scene(t);
  await symlink(join(victim, 'f'), join(pool, 'link'));
  t.is(await readPoolFile(tools, join(pool, 'link')), undefined);
  t.is(await readPoolFile(tools, join(victim, 'f')), PRECIOUS); // the refusal is the link, not the file
});

test('a plain 0600 root-owned file of the pool is read', async (t) => {
  const { pool } = await scene(t);
  await writeFile(join(pool, 'plain'), 'hello\n', { mode: 0o600 });
  t.is(await readPoolFile(tools, join(pool, 'plain')), 'hello\n');
  t.is(await readPoolFile(tools, join(pool, 'missing')), undefined);
});

test('readPoolMeta gives the record of a valid volume.json, and refuses one that links out of the pool', async (t) => {
  const { pool, victim } = await scene(t);
  const volume = record(new Date().toISOString());
  const dir = join(pool, 'volumes', VOLUME_ID);
  await mkdir(dir, { recursive: true });
  await writeVolumeMeta(dir, volume);
  t.deepEqual(await readPoolMeta(tools, dir), { record: volume });

  await writeVolumeMeta(victim, volume);
  const linked = join(pool, 'linked');
  await mkdir(linked);
  await symlink(join(victim, 'volume.json'), join(linked, 'volume.json'));
  const meta = await readPoolMeta(tools, linked);
  t.true('problem' in meta && meta.missing);
});

// markers.ts

test("others() lists other hosts' markers by host name, sorted, without its own or temporaries, and never reads through a link", async (t) => {
  const { pool, victim } = await scene(t);
  const hosts = join(pool, 'volumes', VOLUME_ID, 'hosts');
  await mkdir(hosts, { recursive: true });
  await marker(hosts, 'uuid-b', 'node-b');
  await marker(hosts, 'uuid-a', 'node-a');
  await marker(hosts, SELF, 'me');
  await writeFile(join(hosts, '.uuid-x.123.tmp'), '{"host":"ghost"}\n', { mode: 0o600 });
  await writeFile(join(victim, 'marker'), '{"host":"secret"}\n', { mode: 0o600 });
  await symlink(join(victim, 'marker'), join(hosts, 'uuid-link'));
  const markers = new HostMarkers(tools, async () => SELF, 'me');
  // The linked one is named by its entry: its target is never read.
  t.deepEqual(await markers.others(pool, 'volumes', VOLUME_ID), ['node-a', 'node-b', 'uuid-link']);
});

test('others() finds no markers when hosts/ links out of the pool', async (t) => {
  const { pool, victim } = await scene(t);
  await writeFile(join(victim, 'uuid-a'), '{"host":"node-a"}\n', { mode: 0o600 });
  await mkdir(join(pool, 'volumes', VOLUME_ID), { recursive: true });
  await symlink(victim, join(pool, 'volumes', VOLUME_ID, 'hosts'));
  const markers = new HostMarkers(tools, async () => SELF, 'me');
  t.deepEqual(await markers.others(pool, 'volumes', VOLUME_ID), []);
});

// PoolVolumes.destroy

test("destroy leaves a volume's directory alone when its volume.json is another volume's (a different createdAt)", async (t) => {
  const s = await scene(t);
  const { volumes, mountDir, gluster } = await rig(t, s);
  const dir = await volumeDir(s.pool, record('2030-01-01T00:00:00.000Z'));
  await volumes.destroy(context(record(), mountDir));
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
  t.deepEqual(gluster.quotaRemoved, []);
});

test('destroy refuses a directory without a readable volume.json and leaves it', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  const dir = await volumeDir(s.pool, undefined);
  await t.throwsAsync(volumes.destroy(context(record(), mountDir)), { message: /no readable volume\.json/ });
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
});

test("destroy refuses a volume.json that links to the volume's record outside the pool", async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  const dir = await volumeDir(s.pool, undefined);
  await writeVolumeMeta(s.victim, record());
  await symlink(join(s.victim, 'volume.json'), join(dir, 'volume.json'));
  await t.throwsAsync(volumes.destroy(context(record(), mountDir)), { message: /no readable volume\.json/ });
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
});

test('destroy does nothing when volumes/<id> links out of the pool', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  await writeVolumeMeta(s.victim, record());
  await mkdir(join(s.pool, 'volumes'));
  await symlink(s.victim, join(s.pool, 'volumes', VOLUME_ID));
  await volumes.destroy(context(record(), mountDir));
  t.true(await exists(join(s.victim, 'volume.json')));
  await victimIntact(t, s.victim, 'volume.json');
});

test('destroy refuses to move a volume into a .trash that links out of the pool', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  const dir = await volumeDir(s.pool, record());
  await symlink(s.victim, join(s.pool, '.trash'));
  await t.throwsAsync(volumes.destroy(context(record(), mountDir)), { message: /\.trash in the pool is not a real directory/ });
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
  await victimIntact(t, s.victim);
});

test('destroy refuses a volume another host has mounted and puts its directory back', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir, gluster } = await rig(t, s);
  const dir = await volumeDir(s.pool, record());
  await marker(join(dir, 'hosts'), OTHER, '10.0.0.2');
  await t.throwsAsync(volumes.destroy(context(record(), mountDir)), { message: /is mounted on other hosts \(10\.0\.0\.2\)/ });
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
  t.deepEqual(await readdir(join(dir, 'hosts')), [OTHER]);
  t.deepEqual(await readdir(join(s.pool, '.trash', SELF)), []);
  t.deepEqual(gluster.quotaRemoved, []);
});

test('destroy deletes a volume of its own with no other host on it, through the trash', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir, gluster } = await rig(t, s);
  await volumeDir(s.pool, record());
  await volumes.destroy(context(record(), mountDir));
  t.deepEqual(await readdir(join(s.pool, 'volumes')), []);
  t.deepEqual(await readdir(join(s.pool, '.trash', SELF)), []);
  t.is(gluster.quotaRemoved.length, 1);
  t.is(gluster.quotaRemoved[0]?.[0], 'cv_pool');
  t.regex(gluster.quotaRemoved[0]?.[1] ?? '', new RegExp(`^/\\.trash/${SELF}/${VOLUME_ID}\\.[0-9a-f]{8}$`));
  await victimIntact(t, s.victim);
});

test('a single-host create never deletes a same-id directory that holds data: it refuses and names the way out', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  const dir = await volumeDir(s.pool, record('2020-01-01T00:00:00.000Z'));
  await t.throwsAsync(volumes.create(context(record(), mountDir)), { message: /with data but without a record in this plugin's state/ });
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
  t.deepEqual(await readdir(join(s.pool, '.creating', SELF)), [], 'the staging directory is undone');
});

test('a single-host create replaces an interrupted create of the same id (no data) and commits', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  const dir = join(s.pool, 'volumes', VOLUME_ID);
  await mkdir(join(dir, '_data'), { recursive: true });
  await writeVolumeMeta(dir, record('2020-01-01T00:00:00.000Z'));
  await volumes.create(context(record(), mountDir));
  t.regex(await readFile(join(dir, 'volume.json'), 'utf8'), /2024-01-02T03:04:05\.000Z/);
  t.deepEqual(await readdir(join(s.pool, '.trash', SELF)), []);
});

test('a Remove whose check of other hosts fails puts the directory back: nothing is left for the sweep to delete', async (t) => {
  const s = await scene(t);
  const { volumes, mountDir } = await rig(t, s);
  const dir = await volumeDir(s.pool, record());
  Object.assign(volumes.markers, {
    others: async () => {
      throw new Error('the pool did not answer');
    },
  });
  await t.throwsAsync(volumes.destroy(context(record(), mountDir)), { message: /the pool did not answer/ });
  t.is(await readFile(join(dir, '_data', 'f'), 'utf8'), 'data\n');
  t.deepEqual(await readdir(join(s.pool, '.trash', SELF)), []);
});
