import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Dockerd } from './dockerd.js';

// The managed plugin as the tests drive it: through scripts/managed-plugin.sh
// (the same script as make plugin/push/install/upgrade), found by its process
// and killed for real.

export const PROJECT = join(import.meta.dirname, '..', '..', '..');
export const BUNDLE = join(PROJECT, 'plugin-rootfs');
const ENTRY = '/opt/custom/dist/src/main.js';

/** Throws unless plugin-rootfs/ is built and holds `file` (a path inside the rootfs). */
export function requireBundle(file: readonly string[] = ['usr', 'local', 'bin', 'node']): void {
  if (!existsSync(join(BUNDLE, 'rootfs', ...file))) throw new Error(`${BUNDLE} lacks ${file.join('/')}: run make plugin-rootfs`);
}

export interface ScriptOptions {
  readonly name: string;
  readonly tag?: string;
  readonly registry?: string;
  /** Host directory for state, keys and images (the plugin's state mount). */
  readonly state?: string;
  /** Host directory holding the KEK (the plugin's kek mount; default /etc/custom-volume). */
  readonly kek?: string;
  /** Where the script stages a bundle (a hard-linked copy when on the bundle's filesystem). */
  readonly stageDir?: string;
}

/** Runs scripts/managed-plugin.sh `command` against this dockerd; returns its stdout, throws with its stderr. */
export async function managedScript(dockerd: Dockerd, command: string, options: ScriptOptions): Promise<string> {
  const env: Record<string, string> = { DOCKER_HOST: dockerd.host, PLUGIN_NAME: options.name, PLUGIN_TAG: options.tag ?? 'latest' };
  if (options.registry !== undefined) env['REGISTRY'] = options.registry;
  if (options.state !== undefined) env['STATE_SOURCE'] = options.state;
  if (options.kek !== undefined) env['KEK_SOURCE'] = options.kek;
  if (options.stageDir !== undefined) env['TMPDIR'] = options.stageDir;
  const result = await execa(join(PROJECT, 'scripts', 'managed-plugin.sh'), [command], {
    env,
    reject: false,
    stdin: 'ignore',
    // create + enable takes about 2.5 min on the guest's emulated CPU.
    timeout: 600_000,
  });
  if (result.exitCode !== 0) {
    const how = result.timedOut ? 'timed out' : result.signal ? `killed by ${result.signal}` : `exit ${String(result.exitCode)}`;
    throw new Error(`managed-plugin.sh ${command} (${how}): ${result.stderr}`);
  }
  return result.stdout;
}

/** PIDs of this dockerd's plugin processes: their shim's -address lies in its exec root. */
export async function managedPluginPids(dockerd: Dockerd): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(ENTRY)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    const shim = await readFile(`/proc/${parent}/cmdline`, 'utf8').catch(() => '');
    if (shim.includes(dockerd.root)) pids.push(Number(entry));
  }
  return pids;
}

/**
 * SIGKILLs this dockerd's one plugin process and waits for the daemon to
 * restart it; resolves with the new PID, or throws when there was no single
 * process to kill or no restart within `waitMs`.
 */
export async function killManagedPlugin(dockerd: Dockerd, waitMs = 60_000): Promise<number> {
  const pids = await managedPluginPids(dockerd);
  if (pids.length !== 1) throw new Error(`expected one plugin process, found ${pids.length}`);
  process.kill(pids[0]!, 'SIGKILL');
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const restarted = (await managedPluginPids(dockerd)).filter((p) => p !== pids[0]);
    if (restarted.length > 0) return restarted[0]!;
    await sleep(200);
  }
  throw new Error(`the daemon did not restart the plugin within ${waitMs} ms`);
}

/** The host side of the plugin's propagatedMount (/mnt/volumes inside it). */
export async function propagatedMount(dockerd: Dockerd, name: string): Promise<string> {
  const id = (await dockerd.docker(['plugin', 'inspect', '-f', '{{.Id}}', name])).stdout;
  return join(dockerd.root, 'data', 'plugins', id, 'propagated-mount');
}
