import { existsSync } from 'node:fs';
import { mkdir, writeFile, symlink, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { execa } from 'execa';
import { makeTempDir, removeTempDir } from './temp.js';
import { scrubHost } from './host.js';

// A private dockerd per test file: its own socket, data root and exec root,
// so it never touches (or is polluted by) another daemon on the machine.

export const TEST_IMAGE = 'custom-test/busybox:latest';
// docker.io's client matches its daemon; a newer client elsewhere on PATH also works.
const DOCKER_CLI = process.env['DOCKER_CLI'] ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');

export interface Dockerd {
  readonly root: string;
  readonly host: string;
  docker(args: readonly string[], options?: { reject?: boolean; input?: string }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  stop(): Promise<void>;
}

export async function startDockerd(prefix: string): Promise<Dockerd> {
  const root = await makeTempDir(`dockerd-${prefix}`);
  const host = `unix://${root}/docker.sock`;
  const log = join(root, 'dockerd.log');
  const logFd = openSync(log, 'a');
  const child: ChildProcess = spawn('dockerd', [
    '--storage-driver=vfs', '--iptables=false', '--ip-masq=false', '--bridge=none',
    '-H', host, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'),
    '--pidfile', join(root, 'docker.pid'), '--log-level', 'warn',
  ], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If the worker dies (a timeout), the daemon must not outlive it.
  process.once('exit', () => child.kill('SIGKILL'));

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

  const deadline = Date.now() + 60_000;
  while ((await docker(['version'], { reject: false })).exitCode !== 0) {
    if (child.exitCode !== null) {
      throw new Error(`dockerd exited: ${await readFile(log, 'utf8')}`);
    }
    if (Date.now() > deadline) throw new Error(`dockerd did not start: ${await readFile(log, 'utf8')}`);
    await sleep(200);
  }
  await importBusybox(docker, root);

  return {
    root,
    host,
    docker,
    async stop() {
      const running = (await docker(['ps', '-q'], { reject: false })).stdout.split('\n').filter(Boolean);
      if (running.length > 0) await docker(['kill', ...running], { reject: false });
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      child.kill('SIGKILL');
      await exited;
      await scrubHost(root);
      await removeTempDir(root);
    },
  };
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
  const imported = await execa(DOCKER_CLI, ['-H', `unix://${root}/docker.sock`, 'import', '-c', 'CMD ["/bin/sh"]', '-', TEST_IMAGE], { input: tar.stdout });
  if (imported.exitCode !== 0) throw new Error(`docker import failed: ${imported.stderr}`);
}
