import { execa } from 'execa';
import { CliError, EXIT } from './client.js';

// What only Docker knows: which containers (running or stopped) use which
// volumes. Asked through the docker CLI (DOCKER_HOST as the user set it).

const TIMEOUT_MS = 60_000;

async function docker(args: readonly string[]): Promise<string> {
  const result = await execa('docker', args, { reject: false, timeout: TIMEOUT_MS });
  if (result.exitCode !== 0) {
    throw new CliError(
      `docker ${args[0] ?? ''} failed: ${String(result.stderr).trim() || `exit ${result.exitCode}`}; is dockerd running?`,
      EXIT.unreachable,
    );
  }
  return String(result.stdout);
}

/** Names of the volumes any container on this daemon mounts, running or stopped. */
export async function volumesInUse(): Promise<Set<string>> {
  const ids = (await docker(['ps', '--all', '--quiet', '--no-trunc'])).split('\n').filter(Boolean);
  const names = new Set<string>();
  // A few hundred ids per call keeps the argument list well under the kernel's limit.
  for (let i = 0; i < ids.length; i += 200) {
    const out = await docker([
      'inspect',
      '--format',
      '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\\n"}}{{end}}{{end}}',
      ...ids.slice(i, i + 200),
    ]);
    for (const name of out.split('\n')) if (name) names.add(name);
  }
  return names;
}

/** The volumes this daemon knows, by name, with their driver. */
export async function knownVolumes(): Promise<Map<string, string>> {
  const out = await docker(['volume', 'ls', '--format', '{{.Name}}\t{{.Driver}}']);
  const volumes = new Map<string, string>();
  for (const line of out.split('\n')) {
    const tab = line.lastIndexOf('\t');
    if (tab > 0) volumes.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return volumes;
}

/** docker volume rm: Docker checks its own references, then asks the plugin (which refuses protected volumes). */
export async function removeVolume(name: string): Promise<string | undefined> {
  const result = await execa('docker', ['volume', 'rm', '--', name], { reject: false, timeout: TIMEOUT_MS });
  return result.exitCode === 0
    ? undefined
    : String(result.stderr)
        .trim()
        .replace(/^Error response from daemon: /, '');
}
