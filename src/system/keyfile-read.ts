import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { withDeadline } from '../lib/deadline.js';

// A user's key file, read the one safe way: opened once without following a
// symlink and without blocking on a FIFO, checked on the open descriptor (so
// what is checked is what is read), read with a byte cap and a deadline.
// Nothing here carries the file's path: an errno error names it, so none is
// passed on (the path says where a key lives; it stays out of errors and logs).

export type KeyFileRefusal =
  'missing' | 'symlink' | 'not-regular' | 'not-root' | 'group-or-other' | 'empty' | 'too-large' | 'changed' | 'timeout' | 'unreadable';

export class KeyFileRefused extends Error {
  readonly code = 'KEYFILE_REFUSED';
  constructor(
    readonly reason: KeyFileRefusal,
    /** What was found (mode, owner, size, errno), never the path. */
    readonly found: string = '',
  ) {
    super(`key file refused: ${reason}${found ? ` (${found})` : ''}`);
    this.name = 'KeyFileRefused';
  }
}

export interface KeyFileLimits {
  /** cryptsetup reads at most 8 MiB of a key file. */
  readonly maxBytes: number;
  readonly deadlineMs: number;
}

export const KEY_FILE_LIMITS: KeyFileLimits = { maxBytes: 8 * 1024 * 1024, deadlineMs: 2000 };

// Linux's O_CLOEXEC: node:fs has no constant for it (libuv sets it anyway).
const O_CLOEXEC = 0o2000000;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY | O_CLOEXEC;

function refusalOf(error: unknown): KeyFileRefused {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  if (code === 'ELOOP') return new KeyFileRefused('symlink');
  if (code === 'ENOENT' || code === 'ENOTDIR') return new KeyFileRefused('missing');
  return new KeyFileRefused('unreadable', code);
}

// Opening a device node can act (opening /dev/watchdog arms it), so a
// non-regular file is refused before it is opened. The checks that count are
// made again on the descriptor: a file swapped in between is caught there.
async function openKeyFile(path: string): Promise<FileHandle> {
  const before = await lstat(path).catch((error: unknown) => {
    throw refusalOf(error);
  });
  if (before.isSymbolicLink()) throw new KeyFileRefused('symlink');
  if (!before.isFile()) throw new KeyFileRefused('not-regular');
  return open(path, OPEN_FLAGS).catch((error: unknown) => {
    throw refusalOf(error);
  });
}

function checkOpenedFile(info: Stats, limits: KeyFileLimits): void {
  if (!info.isFile()) throw new KeyFileRefused('not-regular');
  if (info.uid !== 0) throw new KeyFileRefused('not-root', `owner uid ${info.uid}`);
  const mode = info.mode & 0o7777;
  if ((mode & 0o077) !== 0) throw new KeyFileRefused('group-or-other', `mode ${mode.toString(8).padStart(4, '0')}`);
  if (info.size === 0) throw new KeyFileRefused('empty');
  if (info.size > limits.maxBytes) throw new KeyFileRefused('too-large', `${info.size} bytes`);
}

interface ReadSession {
  handle?: FileHandle;
  buffer?: Buffer;
}

// One byte more than fstat promised: filling it means the file grew meanwhile.
async function checkAndRead(path: string, limits: KeyFileLimits, session: ReadSession): Promise<Buffer> {
  session.handle = await openKeyFile(path);
  const info = await session.handle.stat();
  checkOpenedFile(info, limits);
  const buffer = Buffer.alloc(Math.min(info.size, limits.maxBytes) + 1);
  session.buffer = buffer;
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await session.handle.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (filled === buffer.length) throw new KeyFileRefused(filled > limits.maxBytes ? 'too-large' : 'changed');
  if (filled === 0) throw new KeyFileRefused('empty');
  // The bytes past `filled` were never written: the view holds all the key there is.
  return buffer.subarray(0, filled);
}

async function closeQuietly(session: ReadSession): Promise<void> {
  await session.handle?.close().catch(() => undefined);
}

/**
 * The key file's bytes in a Buffer the caller wipes. Throws KeyFileRefused
 * (without the path); every partial buffer is zeroed on the way out. A read
 * that misses the deadline cannot be cancelled: it is abandoned, and its
 * handle closed and buffer wiped when it returns.
 */
export async function readKeyFile(path: string, limits: KeyFileLimits = KEY_FILE_LIMITS): Promise<Buffer> {
  const session: ReadSession = {};
  const work = checkAndRead(path, limits, session).then(
    async (key) => {
      await closeQuietly(session);
      return key;
    },
    async (error: unknown) => {
      session.buffer?.fill(0);
      await closeQuietly(session);
      throw error instanceof KeyFileRefused ? error : refusalOf(error);
    },
  );
  try {
    return await withDeadline(work, limits.deadlineMs, () => {
      throw new KeyFileRefused('timeout', `${limits.deadlineMs} ms`);
    });
  } catch (error) {
    session.buffer?.fill(0);
    work.then(
      (key) => key.fill(0),
      () => undefined,
    );
    throw error;
  }
}
