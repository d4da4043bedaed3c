import type { Command } from 'commander';
import { CUSTOM } from '../api/custom.js';
import type { CliContext } from './context.js';
import { bytes } from './context.js';
import { table } from './format.js';
import { cloneWithProgress } from './stream-client.js';

// snapshot, snapshots, restore, snapshot rm, clone.

/** A whole-image copy may be minutes for a large volume on a filesystem without reflinks. */
const COPY_TIMEOUT_MS = 3_600_000;

export function addSnapshotCommands(program: Command, cli: CliContext): void {
  const snapshot = program
    .command('snapshot')
    .argument('<name>', 'volume name')
    .argument('[snapshot]', "the snapshot's name (default: the time, e.g. 20261126-031500)")
    .description(
      "take a crash-consistent snapshot of a volume, mounted or not (its filesystem is frozen for the copy; a reflink where the host filesystem has them, else a sparse copy); encrypted volumes' snapshots stay encrypted",
    )
    .action(async (name: string, snap: string | undefined) => {
      const reply = await cli.ask(CUSTOM.snapshot, { Name: name, ...(snap === undefined ? {} : { Snapshot: snap }) }, COPY_TIMEOUT_MS);
      const taken = reply.Snapshot;
      if (cli.json()) return cli.print(JSON.stringify(taken, null, 2));
      cli.print(
        `${name}@${taken.name}: ${taken.method}, ${taken.consistency === 'frozen' ? 'taken while mounted (frozen)' : 'not mounted'}`,
      );
    });
  snapshot
    .command('rm')
    .argument('<name>', 'volume name')
    .argument('<snapshot>', 'snapshot name')
    .description("delete a volume's snapshot (an encrypted one's keyslots are destroyed first)")
    .action(async (name: string, snap: string) => {
      await cli.ask(CUSTOM.snapshotRemove, { Name: name, Snapshot: snap });
      if (cli.json()) return cli.print(JSON.stringify({ name, snapshot: snap, removed: true }));
      cli.print(`${name}@${snap}: removed`);
    });

  program
    .command('snapshots')
    .argument('<name>', 'volume name')
    .description("list a volume's snapshots, oldest first, with the host disk each holds on its own")
    .action(async (name: string) => {
      const list = (await cli.ask(CUSTOM.snapshots, { Name: name })).Snapshots;
      if (cli.json()) return cli.print(JSON.stringify(list, null, 2));
      cli.print(
        table(
          ['SNAPSHOT', 'CREATED', 'SIZE', 'OWN DISK', 'METHOD', 'TAKEN'],
          list.map((s) => [s.name, s.createdAt, bytes(s.sizeBytes), bytes(s.allocatedBytes), s.method, s.consistency]),
        ),
      );
    });

  program
    .command('restore')
    .argument('<name>', 'volume name')
    .argument('<snapshot>', 'snapshot name')
    .description(
      'make the volume what it was at the snapshot (its data and size); refused while any container has it mounted. The snapshot stays',
    )
    .action(async (name: string, snap: string) => {
      const reply = await cli.ask(CUSTOM.restore, { Name: name, Snapshot: snap }, COPY_TIMEOUT_MS);
      if (cli.json()) return cli.print(JSON.stringify({ name, snapshot: snap, sizeBytes: reply.SizeBytes }));
      cli.print(`${name}: restored to ${snap} (${bytes(reply.SizeBytes)})`);
    });

  program
    .command('clone')
    .argument('<source>', 'volume to copy, or SOURCE@SNAPSHOT')
    .argument('<target>', 'the new volume')
    .option('--protect', 'protect the new volume against Remove')
    .description(
      'make a new volume as an independent copy of another (or of its snapshot), of the same type and options; the same as docker volume create -d custom -o from=SOURCE[@SNAPSHOT] TARGET',
    )
    .action(async (source: string, target: string, options: { protect?: boolean }) => {
      const at = source.lastIndexOf('@');
      const body = {
        Name: at < 0 ? source : source.slice(0, at),
        Target: target,
        ...(at < 0 ? {} : { Snapshot: source.slice(at + 1) }),
        Protect: options.protect === true,
      };
      // A person at a terminal sees the copy's progress; a script gets one answer.
      if (!cli.json() && process.stderr.isTTY) await cloneWithProgress(await cli.socket(), body, `cloning ${source}`);
      else await cli.ask(CUSTOM.clone, body, COPY_TIMEOUT_MS);
      if (cli.json()) return cli.print(JSON.stringify({ source, target, created: true }));
      cli.print(`${target}: created from ${source}`);
    });
}
