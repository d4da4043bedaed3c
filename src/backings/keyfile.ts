import { KeyFileRefused, type KeyFileRefusal } from '../system/keyfile-read.js';

/** Reads a key file (system/keyfile-read.ts `readKeyFile`, or a test's stand-in). */
export type ReadKeyFile = (path: string) => Promise<Buffer>;

// What the user reads. The path is the option's value and is never echoed
// (it says where a key lives): "the key file given with -o keyfile" instead.
const THE_FILE = 'the key file given with -o keyfile';
const ROOT_ONLY = 'must be owned by root and not readable by group or others (chown root, chmod 0400)';

const PROBLEMS: Record<KeyFileRefusal, string> = {
  missing: `${THE_FILE} does not exist on the host; give the absolute host path of an existing file`,
  symlink: `${THE_FILE} is a symbolic link, which the plugin does not follow; give the path of the file itself`,
  'not-regular': `${THE_FILE} is not a regular file (a directory, FIFO, socket or device); give the path of a regular file`,
  'not-root': `${THE_FILE} ${ROOT_ONLY}`,
  'group-or-other': `${THE_FILE} ${ROOT_ONLY}`,
  empty: `${THE_FILE} is empty; put 1 byte to 8 MiB of key material in it`,
  'too-large': `${THE_FILE} is larger than 8 MiB, the most cryptsetup reads; use a smaller key file`,
  changed: `${THE_FILE} changed while it was being read; try again once nothing writes to it`,
  timeout: `reading ${THE_FILE} did not finish in time (is it on a hung network filesystem?); keep key files on a local filesystem`,
  unreadable: `${THE_FILE} could not be opened; check that root can read it`,
};

/** The user's words for a key file problem: names the problem and the fix, never the path. */
export function keyfileProblem(error: unknown): string {
  if (!(error instanceof KeyFileRefused)) return `keyfile: ${THE_FILE} could not be read`;
  return `keyfile: ${PROBLEMS[error.reason]}${error.found ? ` (found: ${error.found})` : ''}`;
}

// The cause is kept only when it is ours: an errno error carries the path.
function keyfileError(error: unknown): Error {
  return new Error(keyfileProblem(error), error instanceof KeyFileRefused ? { cause: error } : {});
}

/** The key file's bytes (the caller wipes them), or an Error in the user's words. */
export async function loadKeyfile(read: ReadKeyFile, path: string): Promise<Buffer> {
  try {
    return await read(path);
  } catch (error) {
    throw keyfileError(error);
  }
}

/** Preflight: can the key file be used? Reads it once and wipes what was read. */
export async function checkKeyfile(read: ReadKeyFile, path: string): Promise<string | undefined> {
  try {
    (await read(path)).fill(0);
    return undefined;
  } catch (error) {
    return keyfileProblem(error);
  }
}
