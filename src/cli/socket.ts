import { quoted } from '../lib/quoted.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { isSocketLive } from '../api/socket-client.js';
import { CliError, EXIT } from './client.js';

// Where the running plugin listens: --socket or CUSTOM_SOCKET when given;
// else the host-mode plugin's socket if it answers; else the managed
// plugin's, which dockerd (20.10, on this host: DOCKER_HOST must be local)
// keeps under /run/docker/plugins/<plugin id>/.

export const HOST_SOCKET = '/run/docker/plugins/custom.sock';
const PLUGINS_DIR = '/run/docker/plugins';

export interface SocketChoice {
  readonly socket?: string;
  /** A managed plugin's name (docker plugin ls): looked up even when a host plugin runs. */
  readonly plugin?: string;
}

const DEFAULT_PLUGIN = 'custom';

export async function findSocket(choice: SocketChoice): Promise<string> {
  const given = choice.socket ?? process.env['CUSTOM_SOCKET'];
  if (given) return given;
  // A socket file left by a host plugin that died does not hide a managed plugin.
  if (choice.plugin === undefined && existsSync(HOST_SOCKET) && (await isSocketLive(HOST_SOCKET))) return HOST_SOCKET;
  return managedSocket(choice.plugin ?? DEFAULT_PLUGIN);
}

async function managedSocket(plugin: string): Promise<string> {
  const inspected = await execa('docker', ['plugin', 'inspect', '-f', '{{.Id}} {{.Enabled}} {{.Config.Interface.Socket}}', plugin], {
    reject: false,
    timeout: 20_000,
  });
  if (inspected.exitCode !== 0) {
    throw new CliError(
      `no plugin socket at ${HOST_SOCKET}, and no managed plugin named ${quoted(plugin)} (${String(inspected.stderr).trim() || 'docker plugin inspect failed'}); start it with make run, or name it with --plugin or --socket`,
      EXIT.unreachable,
    );
  }
  const [id, enabled, socket] = String(inspected.stdout).trim().split(' ');
  if (enabled !== 'true') {
    throw new CliError(`the managed plugin ${quoted(plugin)} is disabled; run docker plugin enable ${plugin}`, EXIT.unreachable);
  }
  return join(PLUGINS_DIR, id ?? '', socket ?? 'custom.sock');
}
