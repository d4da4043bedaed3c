import { CommandError, runTool } from './run.js';
import { randomUUID } from 'node:crypto';
import { withSecretFifo } from './secret-fifo.js';

// cryptsetup wrappers. Key material goes in on stdin (--key-file=-) and never
// into argv, the environment or a log line.

export type Pbkdf = 'pbkdf2-minimal' | 'argon2id';

export interface FormatOptions {
  readonly cipher: string;
  readonly keySizeBits: number;
  readonly pbkdf: Pbkdf;
}

// A random 512-bit key needs no key stretching: one pbkdf2 round set costs
// 0.04 s instead of argon2id's 6 s and 1 GiB. A user's key file may be weak,
// so it gets argon2id, bounded so open stays far below Docker's 30 s.
const PBKDF_ARGS: Record<Pbkdf, string[]> = {
  'pbkdf2-minimal': ['--pbkdf', 'pbkdf2', '--hash', 'sha256', '--pbkdf-force-iterations', '1000'],
  argon2id: ['--pbkdf', 'argon2id', '--iter-time', '1000', '--pbkdf-memory', '262144', '--pbkdf-parallel', '2'],
};

export async function luksFormat(device: string, key: Uint8Array, options: FormatOptions, timeoutMs: number): Promise<void> {
  await runTool(
    'cryptsetup',
    [
      'luksFormat',
      '--batch-mode',
      '--type',
      'luks2',
      '--cipher',
      options.cipher,
      '--key-size',
      String(options.keySizeBits),
      ...PBKDF_ARGS[options.pbkdf],
      '--key-file=-',
      '--',
      device,
    ],
    { timeoutMs, input: key },
  );
}

export async function luksOpen(device: string, name: string, key: Uint8Array, timeoutMs: number): Promise<void> {
  await runTool('cryptsetup', ['open', '--type', 'luks2', '--key-file=-', '--', device, name], { timeoutMs, input: key });
}

export async function luksClose(name: string, timeoutMs: number): Promise<void> {
  await runTool('cryptsetup', ['close', '--', name], { timeoutMs });
}

/** `cryptsetup status NAME` as key/value pairs; undefined when the mapping is not active. */
export async function luksStatus(name: string, timeoutMs: number): Promise<Record<string, string> | undefined> {
  try {
    const { stdout } = await runTool('cryptsetup', ['status', '--', name], { timeoutMs });
    const fields: Record<string, string> = {};
    for (const line of stdout.split('\n')) {
      const match = /^\s*([^:]+):\s*(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields[match[1].trim()] = match[2].trim();
    }
    return fields;
  } catch {
    return undefined;
  }
}

export async function luksDump(device: string, timeoutMs: number): Promise<string> {
  return (await runTool('cryptsetup', ['luksDump', '--', device], { timeoutMs })).stdout;
}

export async function luksAddKey(
  device: string,
  existingKey: Uint8Array,
  newKey: Uint8Array,
  timeoutMs: number,
  runtimeDir: string,
): Promise<void> {
  await withSecretFifo(newKey, timeoutMs, runtimeDir, (fifo) =>
    runTool('cryptsetup', ['luksAddKey', '--batch-mode', ...PBKDF_ARGS['pbkdf2-minimal'], '--key-file=-', '--', device, fifo], {
      timeoutMs,
      input: existingKey,
    }),
  );
}

export async function luksRemoveKey(device: string, key: Uint8Array, timeoutMs: number): Promise<void> {
  await runTool('cryptsetup', ['luksRemoveKey', '--batch-mode', '--key-file=-', '--', device], { timeoutMs, input: key });
}

/** Destroys every keyslot: the data is unreadable from then on, whoever holds the key. */
export async function luksErase(device: string, timeoutMs: number): Promise<void> {
  await runTool('cryptsetup', ['erase', '--batch-mode', '--', device], { timeoutMs });
}

/**
 * Can this host's kernel crypto do `cipher` at `keySizeBits`? Asks
 * `cryptsetup benchmark` (in memory, about a second). Undefined when it cannot
 * tell (no AF_ALG interface, or a spec the benchmark does not take).
 */
export async function cipherSupported(cipher: string, keySizeBits: number, timeoutMs: number): Promise<boolean | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await runTool('cryptsetup', ['benchmark', '--cipher', cipher, '--key-size', String(keySizeBits)], { timeoutMs }));
  } catch (error) {
    const stderr = error instanceof CommandError ? error.stderr : '';
    // No AF_ALG: the benchmark cannot tell. Otherwise "Cipher … is not available."
    if (/kernel crypto interface not available/i.test(stderr)) return undefined;
    return /is not available/i.test(stderr) ? false : undefined;
  }
  if (/N\/A/.test(stdout)) return false;
  return /MiB\/s/.test(stdout) ? true : undefined;
}

/** The UUID in a LUKS header (`cryptsetup luksUUID`), as printed: lower-case with dashes. */
export async function luksUUID(device: string, timeoutMs: number): Promise<string> {
  const { stdout } = await runTool('cryptsetup', ['luksUUID', '--', device], { timeoutMs });
  const uuid = stdout.trim();
  if (!/^[0-9A-Fa-f-]{32,40}$/.test(uuid)) throw new Error(`cryptsetup luksUUID printed no UUID for ${device}`);
  return uuid;
}

/** Gives a LUKS header (a copied image's) a new random UUID, so it is never taken for its source's. */
export async function luksNewUUID(device: string, timeoutMs: number): Promise<void> {
  await runTool('cryptsetup', ['luksUUID', '--batch-mode', '--uuid', randomUUID(), '--', device], { timeoutMs });
}

/** The cryptsetup wrappers; keys travel on stdin (a second one through a FIFO in `runtimeDir`). */
export function cryptTools(timeoutMs: number, runtimeDir: string) {
  return {
    luksFormat: (device: string, key: Uint8Array, options: FormatOptions) => luksFormat(device, key, options, timeoutMs),
    luksOpen: (device: string, name: string, key: Uint8Array) => luksOpen(device, name, key, timeoutMs),
    luksClose: (name: string) => luksClose(name, timeoutMs),
    luksStatus: (name: string) => luksStatus(name, timeoutMs),
    luksDump: (device: string) => luksDump(device, timeoutMs),
    luksAddKey: (device: string, existing: Uint8Array, added: Uint8Array) => luksAddKey(device, existing, added, timeoutMs, runtimeDir),
    luksRemoveKey: (device: string, key: Uint8Array) => luksRemoveKey(device, key, timeoutMs),
    luksErase: (device: string) => luksErase(device, timeoutMs),
    luksUUID: (device: string) => luksUUID(device, timeoutMs),
    luksNewUUID: (device: string) => luksNewUUID(device, timeoutMs),
    cipherSupported: (cipher: string, keySizeBits: number) => cipherSupported(cipher, keySizeBits, timeoutMs),
  };
}
