import { join } from 'node:path';
import { execa, type Options } from 'execa';

// custom-volume, the operator CLI, as its own process: the built
// dist/src/cli/main.js, run by this Node.

export const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');

/** Runs custom-volume with `args` (--socket PATH or --plugin NAME first); it never rejects: the test reads the exit code. */
export function runCli<O extends Options>(args: readonly string[], options: O) {
  return execa(process.execPath, [CLI, ...args], { reject: false, ...options });
}
