import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { writeFileDurably } from '../state/durable-file.js';
import { isTestHook, mergeEnvironment, parseEnvironmentFile, renderEnvironmentFile, renderUnit, settingNames } from './host-unit.js';

// `make run`'s installer (scripts/run-plugin.sh): merges this process's
// settings into the environment file (given replaces, given empty removes, not
// given keeps: see mergeEnvironment), writes it and, with --unit, the systemd
// unit, each atomically. It prints names only: a value may be a secret's path.
// --print-env hands the merged settings to the script (KEY=VALUE, each ended
// by a NUL, as `env -0` prints them) to start the plugin without systemd.
// Not --env-file: Node 20 takes that for its own option even after the script
// (nodejs/node#54232) and would load the old file into process.env as "given".

const USAGE = 'usage: node dist/src/install/write-unit.js --environment-file FILE [--unit FILE] [--node PATH] [--main PATH] [--print-env]';

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  await writeFileDurably(file, text, mode);
}

function options(): { envFile: string; unit?: string; node: string; mainJs: string; printEnv: boolean } {
  const { values } = parseArgs({
    options: {
      'environment-file': { type: 'string' },
      unit: { type: 'string' },
      node: { type: 'string' },
      main: { type: 'string' },
      'print-env': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const envFile = values['environment-file'];
  if (!envFile) throw new Error(`--environment-file is required; ${USAGE}`);
  return {
    envFile,
    ...(values.unit === undefined ? {} : { unit: values.unit }),
    node: values.node ?? process.execPath,
    mainJs: values.main ?? fileURLToPath(new URL('../main.js', import.meta.url)),
    printEnv: values['print-env'],
  };
}

function list(names: readonly string[]): string {
  return names.length > 0 ? names.join(', ') : '(none)';
}

async function main(): Promise<void> {
  const { envFile, unit, node, mainJs, printEnv } = options();
  const before = await readIfThere(envFile);
  const previous = before === undefined ? {} : parseEnvironmentFile(before);
  const merged = mergeEnvironment(before, process.env);
  try {
    // The plugin's own check, now rather than in a service that restarts in a loop.
    loadConfig(merged);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}. Nothing was written; fix the setting, or give it empty to remove it (NAME= make run)${before === undefined ? '' : `; a setting not given comes from ${envFile}`}`,
    );
  }
  await writeAtomically(envFile, renderEnvironmentFile(merged), 0o600);
  if (unit !== undefined) await writeAtomically(unit, renderUnit({ node, mainJs, environmentFile: envFile }), 0o644);

  const given = settingNames(process.env).filter((name) => !isTestHook(name));
  const set = given.filter((name) => process.env[name] !== '');
  const kept = Object.keys(merged).filter((name) => !given.includes(name));
  const removed = Object.keys(previous).filter((name) => !(name in merged));
  const testHooks = settingNames(process.env).filter(isTestHook);
  const report = [
    `wrote ${envFile} (mode 0600): ${list(Object.keys(merged).sort())}`,
    `  given: ${list(set)}; kept from before: ${list(kept)}; removed: ${list(removed)}`,
    ...(testHooks.length > 0 ? [`  not kept (test hooks, never set for the host service): ${list(testHooks)}`] : []),
    ...(unit === undefined ? [] : [`wrote ${unit}`]),
  ];
  // stderr: stdout carries --print-env's settings.
  process.stderr.write(`${report.join('\n')}\n`);
  if (printEnv) {
    process.stdout.write(
      Object.keys(merged)
        .sort()
        .map((name) => `${name}=${merged[name]}\0`)
        .join(''),
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`write-unit: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
