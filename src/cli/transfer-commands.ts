import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, EXIT } from './client.js';
import type { CliContext } from './context.js';
import { bytes } from './context.js';
import { exportVolume, importVolume } from './stream-client.js';

// export and import: a volume's files as a sealed tar (a tar any `tar -x`
// reads, then a checksum block), to or from a file or a pipe.

export function addTransferCommands(program: Command, cli: CliContext): void {
  program
    .command('export')
    .argument('<name>', 'volume name')
    .argument('[file]', "where to write the stream ('-' or nothing: standard output)")
    .option('--plaintext', "an encrypted volume's files leave it decrypted: say so (encrypt the stream yourself, e.g. with age or gpg)")
    .description(
      "write a volume's files as a portable stream: a tar (owners, modes, links, ACLs, xattrs) sealed with its sha256, which imports into a volume of any type and size, here or on another host. Read live: stop the writers, or export a clone of a snapshot, for a point in time",
    )
    .action(async (name: string, file: string | undefined, options: { plaintext?: boolean }) => {
      const toStdout = file === undefined || file === '-';
      if (toStdout && process.stdout.isTTY) {
        throw new CliError(
          'refusing to write a tar stream to a terminal; give a FILE, or redirect: custom-volume export NAME > NAME.tar',
          EXIT.usage,
        );
      }
      const partial = toStdout ? undefined : `${file}.partial-${process.pid}`;
      // Opened before the request: a failure removes a file that surely exists by then.
      const sink = partial ? (await open(partial, 'wx', 0o600)).createWriteStream() : process.stdout;
      try {
        const seal = await exportVolume(await cli.socket(), name, options.plaintext === true, sink, !cli.json());
        if (partial) await rename(partial, file!);
        const report = { name, file: toStdout ? '-' : file, bytes: seal.bytes, sha256: seal.sha256 };
        const say = (text: string) => (toStdout ? process.stderr.write(`${text}\n`) : cli.print(text));
        if (cli.json()) say(JSON.stringify(report));
        else if (!toStdout) say(`${name}: exported ${bytes(seal.bytes)} to ${file} (sha256 ${seal.sha256})`);
      } catch (error) {
        if (partial) await rm(partial, { force: true });
        throw error;
      }
    });

  program
    .command('import')
    .argument('<name>', 'an existing, empty volume (create it first, of any type and size)')
    .argument('[file]', "the stream custom-volume export wrote ('-' or nothing: standard input)")
    .description(
      'fill an empty volume with an exported stream; its seal is checked before anything lands, so a damaged or truncated stream leaves the volume as it was. Refused while a container has the volume mounted',
    )
    .action(async (name: string, file: string | undefined) => {
      const fromStdin = file === undefined || file === '-';
      if (fromStdin && process.stdin.isTTY) {
        throw new CliError(
          'refusing to read a tar stream from a terminal; give a FILE, or redirect: custom-volume import NAME < NAME.tar',
          EXIT.usage,
        );
      }
      let size: number | undefined;
      if (!fromStdin) {
        size = await stat(file!).then(
          (info) => info.size,
          (error: NodeJS.ErrnoException) => {
            throw new CliError(`cannot read ${file}: ${error.code ?? error.message}`, EXIT.usage);
          },
        );
      }
      const source = fromStdin ? process.stdin : createReadStream(file!);
      const reply = await importVolume(await cli.socket(), name, source, size, !cli.json());
      if (cli.json()) return cli.print(JSON.stringify({ name, bytes: reply.Bytes, sha256: reply.Sha256 }));
      cli.print(`${name}: imported ${bytes(reply.Bytes)} (sha256 ${reply.Sha256})`);
    });
}
