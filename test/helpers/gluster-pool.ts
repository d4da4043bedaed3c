import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { callSocket } from './plugin.js';
import { makeTempDir, removeTempDir } from './temp.js';
import { scrubHost } from './host.js';

// Test hosts on one machine: each its own network namespace (veth to a bridge
// in a switch namespace we create), its own glusterd in a private mount
// namespace (own /var/lib/glusterd, /var/log/glusterfs and /run, the latter
// a directory the root namespace sees, so the CLI reaches its socket).
// The plugin of a host runs in that host's network namespace and the root
// mount namespace, so its FUSE mounts are visible to dockerd.

/** Where Debian's GlusterFS looks for glusterfs.{pem,key,ca} (its OpenSSL directory, not /etc/ssl). */
const TLS_DIR = '/usr/lib/ssl';
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'main.js');

export interface PoolHost {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  readonly dir: string;
  readonly socket: string;
  readonly brickRoot: string;
  gluster(args: readonly string[]): Promise<string>;
  /** Kills every process of this host (glusterd, bricks, self-heal): a dead host. */
  kill(): Promise<void>;
  startGlusterd(): Promise<void>;
}

export interface PoolPlugin {
  /** The plugin's process (its mount namespace holds its mounts when it has one of its own). */
  readonly pid: number;
  readonly driver: string;
  readonly socket: string;
  readonly stateDir: string;
  call(method: string, body: unknown): ReturnType<typeof callSocket>;
  stop(): Promise<void>;
}

export interface GlusterPool {
  readonly hosts: PoolHost[];
  readonly root: string;
  /** A network namespace on the pool's network that is not a peer (10.77.0.99): an outsider. */
  addStranger(): Promise<string>;
  /** TLS pools: shell commands that give a private mount namespace the certificates and secure-access. */
  readonly tlsBinds: string;
  /** Puts this machine's own network namespace on the pool's network as 10.77.0.100: a Docker host that uses the pool. */
  connectHost(): Promise<string>;
  /** alone: single-host mode on this host's glusterd; tlsWithoutFiles: CUSTOM_GLUSTER_TLS=1 without the certificates. */
  startPlugin(host: PoolHost, options?: { alone?: boolean; tlsWithoutFiles?: boolean }): Promise<PoolPlugin>;
  stop(): Promise<void>;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * One self-signed certificate for every peer and client (GlusterFS's default
 * certificate depth 1: glusterfs.ca lists the certificates it trusts).
 */
async function makeTlsFiles(dir: string): Promise<void> {
  await mkdir(dir);
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=custom-test-peer',
    '-keyout',
    join(dir, 'glusterfs.key'),
    '-out',
    join(dir, 'glusterfs.pem'),
  ]);
  await execa('cp', [join(dir, 'glusterfs.pem'), join(dir, 'glusterfs.ca')]);
}

export async function startGlusterPool(count = 3, poolOptions: { tls?: boolean } = {}): Promise<GlusterPool> {
  const tag = randomBytes(2).toString('hex');
  const root = await makeTempDir('gluster');
  const sw = `cv${tag}s`;
  const children: ChildProcess[] = [];
  const plugins: PoolPlugin[] = [];
  // Bricks of a multi-host pool on a filesystem of their own: with peers, the
  // plugin never forces GlusterFS past its refusal of the root filesystem.
  const brickFs = join(root, 'brickfs');
  // TLS: every glusterd (and the plugin's client) sees these in its TLS directory, and
  // has /var/lib/glusterd/secure-access (management TLS).
  const ssl = join(root, 'ssl');
  const clientGlusterd = join(root, 'client-glusterd');
  if (poolOptions.tls) {
    await makeTlsFiles(ssl);
    await mkdir(clientGlusterd);
    await writeFile(join(clientGlusterd, 'secure-access'), '');
  }
  await mkdir(brickFs);
  await execa('truncate', ['-s', '8G', join(root, 'bricks.img')]); // sparse: three copies of the bench's corpus fit
  await execa('mkfs.ext4', ['-q', '-F', join(root, 'bricks.img')]);
  await execa('mount', ['-o', 'loop', join(root, 'bricks.img'), brickFs]);
  await execa('ip', ['netns', 'add', sw]);
  await execa('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await execa('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);

  const hosts: PoolHost[] = [];
  for (let i = 0; i < count; i++) {
    const name = String.fromCharCode(97 + i);
    const netns = `cv${tag}${name}`;
    const address = `10.77.0.${i + 1}`;
    const dir = join(root, name);
    for (const sub of ['glusterd', 'log', 'run']) await mkdir(join(dir, sub), { recursive: true });
    await mkdir(join(brickFs, name));
    await execa('ip', ['netns', 'add', netns]);
    await execa('ip', ['link', 'add', `v${tag}${name}`, 'type', 'veth', 'peer', 'name', `p${tag}${name}`]);
    await execa('ip', ['link', 'set', `v${tag}${name}`, 'netns', netns]);
    await execa('ip', ['link', 'set', `p${tag}${name}`, 'netns', sw]);
    await execa('ip', ['-n', sw, 'link', 'set', `p${tag}${name}`, 'master', 'br0']);
    await execa('ip', ['-n', sw, 'link', 'set', `p${tag}${name}`, 'up']);
    await execa('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', `v${tag}${name}`]);
    await execa('ip', ['-n', netns, 'link', 'set', `v${tag}${name}`, 'up']);
    await execa('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const socket = join(dir, 'run', 'glusterd.socket');
    const host: PoolHost = {
      name,
      netns,
      address,
      dir,
      socket,
      brickRoot: join(brickFs, name),
      async gluster(args) {
        const { stdout } = await execa(
          'nsenter',
          [`--net=/run/netns/${netns}`, 'gluster', '--mode=script', `--glusterd-sock=${socket}`, ...args],
          { timeout: 60_000 },
        );
        return stdout;
      },
      async kill() {
        const { stdout } = await execa('ip', ['netns', 'pids', netns]);
        for (const pid of stdout.split('\n').filter(Boolean)) {
          const cmd = await execa('cat', [`/proc/${pid}/cmdline`], { reject: false });
          if (/gluster/.test(cmd.stdout)) await execa('kill', ['-9', pid], { reject: false });
        }
        await waitFor(`${name} to die`, async () => {
          const left = (await execa('ip', ['netns', 'pids', netns])).stdout.split('\n').filter(Boolean);
          const names = await Promise.all(
            left.map((pid) => execa('cat', [`/proc/${pid}/cmdline`], { reject: false }).then((r) => r.stdout)),
          );
          return !names.some((cmd) => /gluster/.test(cmd));
        });
        await rm(socket, { force: true });
      },
      async startGlusterd() {
        if (poolOptions.tls) await writeFile(join(dir, 'glusterd', 'secure-access'), '');
        const script = [
          ...(poolOptions.tls ? [`mount --bind ${ssl} ${TLS_DIR}`] : []),
          `mount --bind ${join(dir, 'glusterd')} /var/lib/glusterd`,
          `mount --bind ${join(dir, 'log')} /var/log/glusterfs`,
          `mount --bind ${join(dir, 'run')} /run`,
          'exec glusterd -N -p /run/glusterd.pid',
        ].join(' && ');
        const child = spawn('nsenter', [`--net=/run/netns/${netns}`, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script], {
          stdio: 'ignore',
        });
        children.push(child);
        process.once('exit', () => child.kill('SIGKILL'));
        await waitFor(`glusterd on ${name}`, async () => (await host.gluster(['pool', 'list'])).includes('localhost'));
      },
    };
    hosts.push(host);
    await host.startGlusterd();
  }
  const [first, ...others] = hosts;
  for (const other of others) await first!.gluster(['peer', 'probe', other.address]);
  await waitFor(
    'a connected pool',
    async () => (await first!.gluster(['pool', 'list'])).split('\n').filter((l) => /\tConnected/.test(l)).length === count,
  );

  const strangers: string[] = [];
  let hostLink: string | undefined;
  return {
    hosts,
    root,
    tlsBinds: `mount --bind ${ssl} ${TLS_DIR} && mount --bind ${clientGlusterd} /var/lib/glusterd`,
    async connectHost() {
      hostLink = `h${tag}`;
      await execa('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', `q${tag}`]);
      await execa('ip', ['link', 'set', `q${tag}`, 'netns', sw]);
      await execa('ip', ['-n', sw, 'link', 'set', `q${tag}`, 'master', 'br0']);
      await execa('ip', ['-n', sw, 'link', 'set', `q${tag}`, 'up']);
      await execa('ip', ['addr', 'add', '10.77.0.100/24', 'dev', hostLink]);
      await execa('ip', ['link', 'set', hostLink, 'up']);
      return '10.77.0.100';
    },
    async addStranger() {
      const netns = `cv${tag}z`;
      await execa('ip', ['netns', 'add', netns]);
      await execa('ip', ['link', 'add', `v${tag}z`, 'type', 'veth', 'peer', 'name', `p${tag}z`]);
      await execa('ip', ['link', 'set', `v${tag}z`, 'netns', netns]);
      await execa('ip', ['link', 'set', `p${tag}z`, 'netns', sw]);
      await execa('ip', ['-n', sw, 'link', 'set', `p${tag}z`, 'master', 'br0']);
      await execa('ip', ['-n', sw, 'link', 'set', `p${tag}z`, 'up']);
      await execa('ip', ['-n', netns, 'addr', 'add', '10.77.0.99/24', 'dev', `v${tag}z`]);
      await execa('ip', ['-n', netns, 'link', 'set', `v${tag}z`, 'up']);
      await execa('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      strangers.push(netns);
      return netns;
    },
    async startPlugin(host, options = {}) {
      const driver = `customtest${tag}${host.name}${options.alone ? 'x' : ''}${options.tlsWithoutFiles ? 'n' : ''}`;
      const socket = `/run/docker/plugins/${driver}.sock`;
      const stateDir = join(host.dir, options.alone ? 'state-alone' : options.tlsWithoutFiles ? 'state-nofiles' : 'state');
      const peers = options.alone ? host.address : hosts.map((h) => `${h.address}:${h.brickRoot}`).join(',');
      // With TLS the plugin sees the certificates and secure-access in a mount namespace of its own
      // (its mounts are then private: read them through `pid`).
      const inNamespace = poolOptions.tls && !options.tlsWithoutFiles;
      const command = inNamespace
        ? [
            'unshare',
            '-m',
            '--propagation',
            'private',
            'sh',
            '-c',
            `mount --bind ${ssl} ${TLS_DIR} && mount --bind ${clientGlusterd} /var/lib/glusterd && exec "$0" "$1"`,
            process.execPath,
            MAIN,
          ]
        : [process.execPath, MAIN];
      const proc = spawn('nsenter', [`--net=/run/netns/${host.netns}`, ...command], {
        env: {
          ...process.env,
          CUSTOM_SOCKET: socket,
          CUSTOM_STATE_DIR: stateDir,
          CUSTOM_LOG_LEVEL: 'error',
          CUSTOM_GLUSTER_HOST: host.address,
          CUSTOM_GLUSTER_PEERS: peers,
          CUSTOM_GLUSTER_BRICK_ROOT: options.alone ? join(host.dir, 'bricks-alone') : host.brickRoot,
          CUSTOM_GLUSTER_SOCKET: host.socket,
          CUSTOM_GLUSTER_SWEEP_AGE_MS: '3000', // short, but longer than any create here takes
          CUSTOM_GLUSTER_POOL_MOUNT_DIR: join(host.dir, options.alone ? 'pools-alone' : 'pools'),
          // The single-host plugin shares host A's glusterd: a pool of its own.
          CUSTOM_GLUSTER_POOL: options.alone ? 'cv_solo' : 'cv_pool',
          CUSTOM_GLUSTER_TLS: poolOptions.tls ? '1' : '0',
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      process.once('exit', () => proc.kill('SIGKILL'));
      await waitFor(`plugin on ${host.name}`, async () => (await callSocket(socket, 'Plugin.Activate', '')).status === 200, 10_000);
      const plugin: PoolPlugin = {
        pid: proc.pid ?? 0,
        driver,
        socket,
        stateDir,
        call: (method, body) => callSocket(socket, method, body),
        async stop() {
          proc.kill('SIGTERM');
          await exited;
          await rm(socket, { force: true });
        },
      };
      plugins.push(plugin);
      return plugin;
    },
    async stop() {
      for (const plugin of plugins) await plugin.stop().catch(() => undefined);
      for (const host of hosts) await host.kill().catch(() => undefined);
      for (const child of children) child.kill('SIGKILL');
      await scrubHost(root);
      for (const netns of strangers) await execa('ip', ['netns', 'del', netns], { reject: false });
      if (hostLink) await execa('ip', ['link', 'del', hostLink], { reject: false });
      for (const host of hosts) await execa('ip', ['netns', 'del', host.netns], { reject: false });
      await execa('ip', ['netns', 'del', sw], { reject: false });
      await removeTempDir(root);
    },
  };
}
