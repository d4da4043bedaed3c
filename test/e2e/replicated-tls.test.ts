import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startGlusterPool, type GlusterPool, type PoolPlugin } from '../helpers/gluster-pool.js';
import { mountsUnder } from '../helpers/host.js';

// A three-host pool with TLS on for management (secure-access) and I/O
// (client.ssl, server.ssl), certificates in GlusterFS's own layout. The
// plugin runs with CUSTOM_GLUSTER_TLS=1 in a mount namespace that sees them.
let pool: GlusterPool;
let a: PoolPlugin;
const ID = 't'.repeat(64);

test.before(async () => {
  pool = await startGlusterPool(3, { tls: true });
  a = await pool.startPlugin(pool.hosts[0]!);
});
test.after.always(async () => {
  await pool?.stop();
});

/** Runs a shell command in the plugin's mount namespace, where its mounts are. */
const inPlugin = (script: string) => execa('nsenter', ['-t', String(a.pid), '-m', 'sh', '-c', script], { timeout: 30_000 });

test.serial('with CUSTOM_GLUSTER_TLS=1 the pool is made with TLS for I/O, and volumes work through it', async (t) => {
  t.is((await a.call('VolumeDriver.Create', { Name: 'secret', Opts: { type: 'replicated', size: '64M' } })).body['Err'], '');
  const host = pool.hosts[0]!;
  t.regex(await host.gluster(['volume', 'get', 'cv_pool', 'client.ssl']), /client\.ssl\s+on/);
  t.regex(await host.gluster(['volume', 'get', 'cv_pool', 'server.ssl']), /server\.ssl\s+on/);
  const mountpoint = String((await a.call('VolumeDriver.Mount', { Name: 'secret', ID })).body['Mountpoint']);
  const { stdout } = await inPlugin(`echo over-tls > '${mountpoint}/f' && cat '${mountpoint}/f' && df -k '${mountpoint}' | tail -1`);
  t.regex(stdout, /^over-tls\n/);
  t.regex(stdout, /\s65536\s/, 'the quota is the size');
  t.is((await a.call('VolumeDriver.Unmount', { Name: 'secret', ID })).body['Err'], '');
});

test.serial('a client without the certificates cannot mount the pool, even from a peer address', async (t) => {
  const target = join(pool.root, 'plain-client');
  await mkdir(target);
  // The root mount namespace has neither /usr/lib/ssl/glusterfs.* nor secure-access.
  const attempt = await execa(
    'nsenter',
    [`--net=/run/netns/${pool.hosts[1]!.netns}`, 'mount', '-t', 'glusterfs', '10.77.0.1:/cv_pool', target],
    {
      reject: false,
      timeout: 60_000,
    },
  );
  const listed = await execa('ls', [target], { reject: false, timeout: 20_000 });
  const mounted = (await mountsUnder(pool.root)).includes(target);
  if (mounted) await execa('umount', ['-l', target], { reject: false });
  t.false(
    mounted && listed.exitCode === 0 && listed.stdout.includes('volumes'),
    `a client without TLS read the pool (mount said ${attempt.exitCode})`,
  );
  // The control: the same mount from the same address, with the certificates, reads the pool.
  const control = await execa(
    'nsenter',
    [
      `--net=/run/netns/${pool.hosts[1]!.netns}`,
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `${pool.tlsBinds} && mount -t glusterfs 10.77.0.1:/cv_pool '${target}' && ls '${target}'; umount '${target}'`,
    ],
    { reject: false, timeout: 60_000 },
  );
  t.regex(control.stdout, /volumes/, `a client with the certificates reads the pool: ${control.stderr}`);
});

test.serial('a plugin asked for TLS on a host without the certificate files refuses Create and names what is missing', async (t) => {
  const bare = await pool.startPlugin(pool.hosts[2]!, { tlsWithoutFiles: true });
  const res = await bare.call('VolumeDriver.Create', { Name: 'nocert', Opts: { type: 'replicated' } });
  t.regex(
    String(res.body['Err']),
    /^volume "nocert": .*CUSTOM_GLUSTER_TLS=1 needs GlusterFS's certificate files and management TLS on this host; missing: \/usr\/lib\/ssl\/glusterfs\.pem, \/usr\/lib\/ssl\/glusterfs\.key, \/usr\/lib\/ssl\/glusterfs\.ca, \/var\/lib\/glusterd\/secure-access/,
  );
  await bare.stop();
});

test.serial('remove leaves no directory on any brick', async (t) => {
  t.is((await a.call('VolumeDriver.Remove', { Name: 'secret' })).body['Err'], '');
  const { readdir } = await import('node:fs/promises');
  for (const host of pool.hosts) t.deepEqual(await readdir(join(host.brickRoot, 'cv_pool', 'volumes')), []);
});
