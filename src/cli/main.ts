#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CUSTOM } from '../api/custom.js';
import { call, CliError, EXIT } from './client.js';
import { findSocket } from './socket.js';
import { age, table } from './format.js';
import { addSnapshotCommands } from './snapshot-commands.js';
import { addTransferCommands } from './transfer-commands.js';
import { addPruneCommand } from './prune-command.js';
import { addDoctorCommand } from './doctor-command.js';
import type { CliContext } from './context.js';

// custom-volume: the operator's CLI. It talks to the running plugin over its
// socket only (the plugin's /Custom.* endpoints) and never edits state.

interface GlobalOptions {
  socket?: string;
  plugin?: string;
  json?: boolean;
}

const program = new Command('custom-volume')
  .description("Day-2 operations on the custom volume plugin's volumes (talks to the running plugin over its socket)")
  .option('--socket <path>', 'the plugin socket (default: CUSTOM_SOCKET, the host plugin, or the managed plugin)')
  .option('--plugin <name>', 'a managed plugin to talk to (default: the host plugin if it runs, else the managed plugin "custom")')
  .option('--json', 'print the answer as JSON (for scripts)')
  .showHelpAfterError()
  .exitOverride();

const globals = () => program.opts<GlobalOptions>();
const ask: CliContext['ask'] = async (target, body, timeoutMs) => call(await findSocket(globals()), target, body, timeoutMs);
const print = (text: string): void => void process.stdout.write(`${text}\n`);
const cli: CliContext = { ask, print, json: () => globals().json === true, socket: () => findSocket(globals()) };

program
  .command('ls')
  .description('list the volumes this host knows, with type, size, leases and protection')
  .action(async () => {
    const volumes = (await ask(CUSTOM.list, {})).Volumes;
    if (globals().json) return print(JSON.stringify(volumes, null, 2));
    print(
      table(
        ['NAME', 'TYPE', 'SIZE', 'LEASES', 'PROTECTED', 'CREATED'],
        volumes.map((v) => [v.name, v.type, v.size, v.leases, v.protected ? 'yes' : '', v.createdAt]),
      ),
    );
  });

program
  .command('inspect')
  .argument('<name>', 'volume name')
  .description("a volume's Status, where it lives on this host (image, loop, mapping, mount) and its leases with their age")
  .action(async (name: string) => {
    const detail = (await ask(CUSTOM.inspect, { Name: name })).Volume;
    if (globals().json) return print(JSON.stringify(detail, null, 2));
    const facts: Array<[string, unknown]> = [
      ['name', detail.name],
      ['protected', detail.protected ? 'yes' : 'no'],
      ['created', detail.createdAt],
      ['mountpoint', detail.mountpoint],
      ['directory', detail.host.dir],
      ['image', detail.host.image],
      ['mounted', detail.host.mounted ? `yes, at ${detail.host.mountRoot}` : 'no'],
      ['devices', detail.host.devices.join(', ') || 'none'],
      ...Object.entries(detail.status).filter(([key]) => !['mounted', 'protected', 'createdAt'].includes(key)),
    ];
    print(
      table(
        ['FIELD', 'VALUE'],
        facts.filter(([, value]) => value !== undefined),
      ),
    );
    if (detail.leases.length > 0) {
      print('');
      print(
        table(
          ['LEASE (MOUNT ID)', 'COUNT', 'AGE', 'SINCE'],
          detail.leases.map((l) => [l.id, l.count, age(l.ageSeconds), l.since]),
        ),
      );
    }
  });

program
  .command('resize')
  .argument('<name>', 'volume name')
  .argument('<size>', 'the new size, as for -o size (e.g. 20G); larger than now')
  .description(
    'grow a volume online, while containers write to it: image, loop device, LUKS mapping, filesystem (a replicated volume: its quota)',
  )
  .action(async (name: string, size: string) => {
    // A large ext4 grown offline is checked first (e2fsck): minutes, not seconds.
    const reply = await ask(CUSTOM.resize, { Name: name, Size: size }, 3_600_000);
    if (globals().json) return print(JSON.stringify({ name, fromBytes: reply.FromBytes, toBytes: reply.ToBytes, changed: reply.Changed }));
    const mib = (bytes: number | null) => `${Math.round(Number(bytes) / 1024 ** 2)} MiB`;
    print(reply.Changed ? `${name}: ${mib(reply.FromBytes)} → ${mib(reply.ToBytes)}` : `${name}: already ${mib(reply.ToBytes)}`);
  });

program
  .command('rekey')
  .argument('<name>', 'an encrypted volume')
  .description(
    "give an encrypted volume a new key while containers use it: the new key is added to its LUKS keyslots (and its snapshots'), stored, and the old key's keyslots destroyed, so the old key opens nothing",
  )
  .action(async (name: string) => {
    await ask(CUSTOM.rekey, { Name: name }, 600_000);
    if (globals().json) return print(JSON.stringify({ name, rekeyed: true }));
    print(`${name}: rekeyed; the old key no longer opens it`);
  });

program
  .command('reseal')
  .description(
    'seal every generated key under the current KEK (CUSTOM_KEK_FILE): keys sealed with the previous one (CUSTOM_KEK_PREVIOUS_FILE) or not sealed at all. Rotation: set both, restart the plugin, reseal, drop CUSTOM_KEK_PREVIOUS_FILE',
  )
  .action(async () => {
    const report = (await ask(CUSTOM.reseal, {}, 600_000)).Reseal;
    if (globals().json) return print(JSON.stringify(report, null, 2));
    const { previous, unsealed } = report.resealed;
    print(
      `resealed ${previous.length + unsealed.length} key(s): ${previous.length} from the previous KEK, ${unsealed.length} not sealed before; ${report.current} already under the current KEK`,
    );
    print(
      "every volume's generated key opens with the current KEK alone. Keys of volumes kept aside by retain=true (under .retained/) are not resealed: keep the previous KEK as long as you may need them",
    );
  });

for (const [command, protect] of [
  ['protect', true],
  ['unprotect', false],
] as const) {
  program
    .command(command)
    .argument('<name>', 'volume name')
    .description(
      protect
        ? 'refuse Remove of the volume (docker volume rm, compose down -v, prune) until it is unprotected'
        : 'allow Remove of the volume again',
    )
    .action(async (name: string) => {
      const { Changed: changed } = await ask(CUSTOM.protect, { Name: name, Protect: protect });
      if (globals().json) return print(JSON.stringify({ name, protected: protect, changed }));
      print(`${name}: ${protect ? 'protected' : 'not protected'}${changed ? '' : ' (already)'}`);
    });
}

addSnapshotCommands(program, cli);
addTransferCommands(program, cli);
addPruneCommand(program, cli);
addDoctorCommand(program, cli);

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with code 0.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
  } else if (error instanceof CliError) {
    process.stderr.write(`custom-volume: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`custom-volume: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.refused;
  }
}
