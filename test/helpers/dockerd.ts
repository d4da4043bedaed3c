import { existsSync } from 'node:fs';
import { mkdir, writeFile, symlink, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { execa } from 'execa';
import { makeTempDir, removeTempDir } from './temp.js';
import { mountsUnder, scrubHost } from './host.js';

// A private dockerd per test file: its own socket, data root and exec root,
// so it never touches (or is polluted by) another daemon on the machine.

export const TEST_IMAGE = 'custom-test/busybox:latest';
// docker.io's client matches its daemon; a newer client elsewhere on PATH also works.
const DOCKER_CLI = process.env['DOCKER_CLI'] ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');

export interface Dockerd {
  readonly root: string;
  /** The daemon's log (a managed plugin's output is in it at level info). */
  readonly log: string;
  readonly host: string;
  docker(
    args: readonly string[],
    options?: { reject?: boolean; input?: string },
  ): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** SIGKILLs the daemon, containerd, every shim and container at once, and empties the daemon's /run state. */
  powerLoss(): Promise<void>;
  /** Starts the daemon again on the same data root. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDockerd(prefix: string, options: { logLevel?: string } = {}): Promise<Dockerd> {
  const root = await makeTempDir(`dockerd-${prefix}`);
  const host = `unix://${root}/docker.sock`;
  const log = join(root, 'dockerd.log');
  let child: ChildProcess;
  let exited: Promise<void>;
  const spawnDaemon = () => {
    const logFd = openSync(log, 'a');
    child = spawn(
      'dockerd',
      [
        '--storage-driver=vfs',
        '--iptables=false',
        '--ip-masq=false',
        '--bridge=none',
        '-H',
        host,
        '--data-root',
        join(root, 'data'),
        '--exec-root',
        join(root, 'exec'),
        '--pidfile',
        join(root, 'docker.pid'),
        '--log-level',
        options.logLevel ?? 'warn',
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    const proc = child;
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // If the worker dies (a timeout), the daemon must not outlive it.
    process.once('exit', () => proc.kill('SIGKILL'));
  };

  const docker: Dockerd['docker'] = async (args, options = {}) => {
    const result = await execa(DOCKER_CLI, ['-H', host, ...args], {
      reject: false,
      timeout: 120_000,
      ...(options.input === undefined ? {} : { input: options.input }),
    });
    if (options.reject !== false && result.exitCode !== 0) {
      throw new Error(`docker ${args.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
    }
    return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
  };

  const ready = async () => {
    const deadline = Date.now() + 60_000;
    while ((await docker(['version'], { reject: false })).exitCode !== 0) {
      if (child.exitCode !== null) throw new Error(`dockerd exited: ${await readFile(log, 'utf8')}`);
      if (Date.now() > deadline) throw new Error(`dockerd did not start: ${await readFile(log, 'utf8')}`);
      await sleep(200);
    }
  };

  spawnDaemon();
  await ready();
  await importBusybox(docker, root);

  return {
    root,
    log,
    host,
    docker,
    async powerLoss() {
      const containers = (await docker(['ps', '-q'], { reject: false })).stdout.split('\n').filter(Boolean);
      const pids = new Set<number>();
      for (const id of containers) {
        const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', id])).stdout);
        if (pid > 0) for (const p of [pid, ...(await ancestors(pid))]) pids.add(p);
      }
      for (const p of [child.pid!, ...(await descendants(child.pid!))]) pids.add(p);
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
      for (const p of pids) while (await isAlive(p)) await sleep(20);
      // A reboot empties /run: the daemon's runtime state (and its netns mounts) goes with it.
      for (const target of (await mountsUnder(join(root, 'exec'))).reverse()) await execa('umount', ['-l', target], { reject: false });
      await rm(join(root, 'exec'), { recursive: true, force: true });
      await rm(join(root, 'docker.pid'), { force: true });
    },
    async start() {
      spawnDaemon();
      await ready();
    },
    async stop() {
      const running = (await docker(['ps', '-q'], { reject: false })).stdout.split('\n').filter(Boolean);
      if (running.length > 0) await docker(['kill', ...running], { reject: false });
      child.kill('SIGTERM');
      // Unreferenced: a pending 20 s timer would hold the test process (and its file) open after the hooks.
      await Promise.race([exited, sleep(20_000, undefined, { ref: false })]);
      child.kill('SIGKILL');
      await exited;
      await scrubHost(root);
      await removeTempDir(root);
    },
  };
}

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A container's shim and whatever else sits between it and init. */
async function ancestors(pid: number): Promise<number[]> {
  const result: number[] = [];
  for (let p = await parentOf(pid); p !== undefined && p > 1 && p !== process.pid; p = await parentOf(p)) result.push(p);
  return result;
}

async function descendants(pid: number): Promise<number[]> {
  const all = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const parents = new Map<number, number>();
  for (const p of all) {
    const parent = await parentOf(p);
    if (parent !== undefined) parents.set(p, parent);
  }
  const found: number[] = [];
  const walk = (of: number) => {
    for (const [p, parent] of parents)
      if (parent === of) {
        found.push(p);
        walk(p);
      }
  };
  walk(pid);
  return found;
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// No registry here: the test image is a busybox-static rootfs, `docker import`ed.
async function importBusybox(docker: Dockerd['docker'], root: string): Promise<void> {
  const rootfs = join(root, 'busybox-rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  for (const dir of ['tmp', 'proc', 'sys', 'dev', 'etc', 'data']) await mkdir(join(rootfs, dir), { recursive: true });
  await execa('cp', ['/bin/busybox', join(rootfs, 'bin', 'busybox')]);
  const { stdout } = await execa('/bin/busybox', ['--list']);
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    await symlink('busybox', join(rootfs, 'bin', applet)).catch(() => undefined);
  }
  await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  const tar = await execa('tar', ['-C', rootfs, '-c', '.'], { encoding: 'buffer' });
  const imported = await execa(DOCKER_CLI, ['-H', `unix://${root}/docker.sock`, 'import', '-c', 'CMD ["/bin/sh"]', '-', TEST_IMAGE], {
    input: tar.stdout,
  });
  if (imported.exitCode !== 0) throw new Error(`docker import failed: ${imported.stderr}`);
}
