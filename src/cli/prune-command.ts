import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { CUSTOM } from '../api/custom.js';
import type { VolumeRow } from '../api/reports.js';
import { CliError, EXIT } from './client.js';
import type { CliContext } from './context.js';
import { knownVolumes, removeVolume, volumesInUse } from './docker.js';
import { table } from './format.js';

// prune: what `docker volume prune` skips for plugin volumes. Candidates are
// this plugin's volumes that no container on this daemon references, running
// or stopped; each goes through `docker volume rm`, so Docker's own checks
// and the plugin's protection still apply.

interface Plan {
  remove: VolumeRow[];
  keep: Array<{ name: string; why: string }>;
}

// Only what this daemon knows under a plugin's driver: with DOCKER_HOST or a
// context pointing at another daemon, every volume would look unused there,
// and a `docker volume rm` would hit that daemon's volume of the same name.
function plan(volumes: readonly VolumeRow[], used: Set<string>, known: Map<string, string>): Plan {
  const result: Plan = { remove: [], keep: [] };
  for (const volume of volumes) {
    const driver = known.get(volume.name);
    if (driver === undefined || driver === 'local') {
      result.keep.push({
        name: volume.name,
        why: 'not a plugin volume of the Docker daemon asked (DOCKER_HOST or docker context points elsewhere?)',
      });
    } else if (used.has(volume.name)) result.keep.push({ name: volume.name, why: 'used by a container' });
    else if (volume.protected) result.keep.push({ name: volume.name, why: 'protected' });
    // Containers on other hosts are not visible from here.
    else if (volume.type === 'replicated')
      result.keep.push({ name: volume.name, why: "replicated: other hosts' containers cannot be seen from here" });
    else result.remove.push(volume);
  }
  return result;
}

async function confirm(count: number): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Remove ${count} volume${count === 1 ? '' : 's'} and all their data? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function addPruneCommand(program: Command, cli: CliContext): void {
  program
    .command('prune')
    .option('--dry-run', 'only list what would be removed')
    .option('-f, --force', 'do not ask for confirmation (needed when not on a terminal)')
    .description(
      "remove this plugin's volumes that no container references, running or stopped (docker volume prune skips plugin volumes); protected and replicated volumes are kept",
    )
    .action(async (options: { dryRun?: boolean; force?: boolean }) => {
      const volumes = (await cli.ask(CUSTOM.list, {})).Volumes;
      const todo = plan(volumes, await volumesInUse(), await knownVolumes());
      const show = () =>
        cli.print(
          todo.remove.length === 0
            ? 'nothing to prune'
            : table(
                ['UNUSED VOLUME', 'TYPE', 'SIZE', 'CREATED'],
                todo.remove.map((v) => [v.name, v.type, v.size, v.createdAt]),
              ),
        );
      if (options.dryRun || todo.remove.length === 0) {
        if (cli.json()) return cli.print(JSON.stringify({ wouldRemove: todo.remove.map((v) => v.name), kept: todo.keep }, null, 2));
        return show();
      }
      if (!options.force) {
        if (!process.stdin.isTTY)
          throw new CliError('prune removes data: confirm on a terminal, or pass --force (see --dry-run first)', EXIT.usage);
        show();
        if (!(await confirm(todo.remove.length))) throw new CliError('nothing removed', EXIT.refused);
      }
      const removed: string[] = [];
      const failed: Array<{ name: string; why: string }> = [];
      for (const volume of todo.remove) {
        const why = await removeVolume(volume.name);
        if (why === undefined) removed.push(volume.name);
        else failed.push({ name: volume.name, why });
      }
      if (cli.json()) cli.print(JSON.stringify({ removed, kept: todo.keep, failed }, null, 2));
      else {
        for (const name of removed) cli.print(`removed ${name}`);
        for (const { name, why } of failed) process.stderr.write(`custom-volume: could not remove ${name}: ${why}\n`);
      }
      if (failed.length > 0) process.exitCode = EXIT.refused;
    });
}
