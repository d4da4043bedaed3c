import { execa } from 'execa';
import { withDeadline } from '../lib/deadline.js';

// The one place that starts processes. Arguments are always an array (never a
// shell string), every call has a timeout, and secrets travel on stdin only.

export interface RunOptions {
  readonly timeoutMs: number;
  /** Written to the child's stdin; never logged, never in argv. */
  readonly input?: string | Uint8Array;
}

export class CommandError extends Error {
  readonly code = 'COMMAND_FAILED';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    const why = timedOut ? 'timed out' : exitCode === undefined ? 'could not run, or was killed' : `exited with ${exitCode}`;
    super(`${command} ${why}${stderr ? `: ${firstLine(stderr)}` : ''}`, options);
    this.name = 'CommandError';
  }
}

// e2fsprogs open with a banner ("tune2fs 1.47.0 (5-Feb-2023)"): the reason is the line after it.
const BANNER = /^[\w.-]+ \d+\.\d+[\w.]* \(\d+-\w+-\d+\)$/;

function firstLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines.find((line) => line.trim() !== '' && !BANNER.test(line.trim())) ?? lines[0] ?? '').slice(0, 300);
}

/** A tool that is not there says so (not "killed"): in a managed plugin it is missing from the rootfs. */
function notFound(cause: unknown): string | undefined {
  return (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    ? "not found on this host (not installed, or missing from the managed plugin's rootfs)"
    : undefined;
}

/** execa's SIGTERM at the timeout, then SIGKILL this much later. */
const KILL_GRACE_MS = 2000;
/** After the SIGKILL: how long a process may take to go before it counts as unkillable. */
const EXIT_MARGIN_MS = 1000;

/**
 * A process that outlived its timeout and its SIGKILL: it sleeps in the kernel
 * (uninterruptible, state D), waiting on storage that does not answer: a FUSE
 * server that stopped, a hung GlusterFS or network mount. It may never end;
 * `exited` settles when it does.
 */
export class HungCommandError extends Error {
  readonly code = 'COMMAND_HUNG';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly pid: number | undefined,
    readonly afterMs: number,
    readonly exited: Promise<void>,
    /** The tool itself ended, but a process it started still holds its output (mount → mount.glusterfs → stat). */
    readonly descendant = false,
  ) {
    const within = `within ${Number((afterMs / 1000).toFixed(1))} s`;
    super(
      descendant
        ? `${command} (pid ${pid ?? '?'}) was killed, but a process it started did not end ${within} and could not be killed (it sleeps in the kernel, waiting on storage that does not answer)`
        : `${command} did not end ${within} and could not be killed (pid ${pid ?? '?'} sleeps in the kernel, waiting on storage that does not answer)`,
    );
    this.name = 'HungCommandError';
  }
}

/** The HungCommandError behind `error` (its cause, an undo's original error, …), if any. */
export function findHung(error: unknown, depth = 0): HungCommandError | undefined {
  if (error instanceof HungCommandError) return error;
  if (typeof error !== 'object' || error === null || depth > 8) return undefined;
  const { cause, original, failures } = error as { cause?: unknown; original?: unknown; failures?: unknown };
  const undone = Array.isArray(failures) ? failures.map((failure) => (failure as { error?: unknown }).error) : [];
  for (const inner of [cause, original, ...undone]) {
    const found = findHung(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * `child` (an execa process, which never rejects here: reject is false), or a
 * HungCommandError once it has outlived its timeout, the kill and a margin.
 */
type Child<T> = Promise<T> & { readonly pid?: number | undefined; readonly exitCode: number | null; readonly signalCode: string | null };

function unlessHung<T>(child: Child<T>, command: string, args: readonly string[], timeoutMs: number): Promise<T> {
  const afterMs = timeoutMs + KILL_GRACE_MS + EXIT_MARGIN_MS;
  const exited = child.then(
    () => undefined,
    () => undefined,
  );
  return withDeadline<T>(child, afterMs, () => {
    // execa settles once the child has exited and its output pipes have closed: a grandchild may hold them.
    const descendant = child.exitCode !== null || child.signalCode !== null;
    throw new HungCommandError(command, args, child.pid, afterMs, exited, descendant);
  });
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args…`; resolves with its output or rejects with a CommandError. */
export async function runTool(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const child = execa(command, args, {
    timeout: options.timeoutMs,
    forceKillAfterDelay: KILL_GRACE_MS,
    reject: false,
    stripFinalNewline: true,
    env: { LC_ALL: 'C' },
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
  });
  const result = await unlessHung(child, command, args, options.timeoutMs);
  if (result.failed) {
    // Some tools (the gluster CLI) say why on stdout.
    const stderr = notFound(result.cause) ?? (String(result.stderr ?? '').trim() || String(result.stdout ?? '').trim());
    throw new CommandError(command, args, result.exitCode, stderr, result.timedOut, { cause: result.cause ?? undefined });
  }
  return { stdout: String(result.stdout), stderr: String(result.stderr) };
}

export interface StreamingTool {
  /** The tool's input (when asked for): end it, or the tool waits. */
  readonly stdin: NodeJS.WritableStream | null;
  /** The tool's output (when asked for): read it, or the tool blocks. */
  readonly stdout: NodeJS.ReadableStream | null;
  /** Resolves when the tool succeeded; rejects with a CommandError (its stderr's first line). */
  readonly done: Promise<void>;
  /** Stops it (the reader went away). */
  kill(): void;
}

/**
 * Starts a tool whose input or output is a stream (tar): nothing of the
 * stream is buffered, stderr is kept for the error. Bounded by `timeoutMs`
 * like every call.
 */
export function streamTool(
  command: string,
  args: readonly string[],
  options: { readonly timeoutMs: number; readonly stdin: boolean; readonly stdout: boolean },
): StreamingTool {
  const child = execa(command, args, {
    timeout: options.timeoutMs,
    forceKillAfterDelay: KILL_GRACE_MS,
    reject: false,
    env: { LC_ALL: 'C' },
    stdin: options.stdin ? 'pipe' : 'ignore',
    stdout: options.stdout ? 'pipe' : 'ignore',
    buffer: { stdout: false, stderr: true },
  });
  const done = unlessHung(child, command, args, options.timeoutMs).then((result) => {
    if (!result.failed) return;
    throw new CommandError(command, args, result.exitCode, notFound(result.cause) ?? String(result.stderr ?? '').trim(), result.timedOut, {
      cause: result.cause ?? undefined,
    });
  });
  return { stdin: child.stdin, stdout: child.stdout, done, kill: () => void child.kill() };
}
