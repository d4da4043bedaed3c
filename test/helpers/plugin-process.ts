import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { callSocket } from './plugin.js';
import { makeTempDir, removeTempDir } from './temp.js';
import { scrubHost } from './host.js';

// The plugin as its own process (node dist/src/main.js), registered with the
// daemon as a legacy plugin under a unique name, so it can be killed for real.

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'main.js');

export interface PluginProcess {
  readonly driver: string;
  readonly root: string;
  readonly socket: string;
  readonly stateDir: string;
  readonly mountDir: string;
  /** Starts (again) with the default environment plus `env` (e.g. CUSTOM_TEST_PAUSE_AT for a fault test). */
  start(env?: Readonly<Record<string, string>>): Promise<void>;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  logs(): string;
  /** The running process's PID (undefined before a start). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

export async function startPluginProcess(prefix: string, baseEnv: Readonly<Record<string, string>> = {}): Promise<PluginProcess> {
  const driver = `customtest${randomBytes(4).toString('hex')}`;
  const root = await makeTempDir(`plugin-${prefix}`);
  const socket = `/run/docker/plugins/${driver}.sock`;
  const stateDir = join(root, 'state');
  const mountDir = join(stateDir, 'mounts');
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let output = '';

  const plugin: PluginProcess = {
    driver,
    root,
    socket,
    stateDir,
    mountDir,
    async start(env = {}) {
      const proc = spawn(process.execPath, [MAIN], {
        env: { ...process.env, CUSTOM_SOCKET: socket, CUSTOM_STATE_DIR: stateDir, CUSTOM_LOG_LEVEL: 'debug', ...baseEnv, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      process.once('exit', () => proc.kill('SIGKILL'));
      exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // Seconds on a real machine; in the emulated guest up to half a minute, and
      // over a minute while its dockerd gzips the managed plugin's rootfs beside it
      // (measured: a restart not listening after 60 s while that create took 532 s).
      const deadline = Date.now() + 180_000;
      for (;;) {
        const ok = await callSocket(socket, 'Plugin.Activate', '', 5_000).then(
          () => true,
          () => false,
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`plugin did not listen: ${output}`);
        await sleep(50);
      }
    },
    async kill(signal) {
      child?.kill(signal);
      return exited;
    },
    logs: () => output,
    pid: () => child?.pid,
    async stop() {
      child?.kill('SIGTERM');
      await exited;
      await rm(socket, { force: true });
      await scrubHost(root);
      await removeTempDir(root);
    },
  };
  await plugin.start();
  return plugin;
}
