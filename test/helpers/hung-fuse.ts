import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

// Storage that stops answering, on demand: hung-fuse-server.js mounts a FUSE
// filesystem at a directory and never answers a request, so whatever touches
// it (stat, ls, umount without -l) sleeps in the kernel in state D, SIGKILL
// or not, as on a dead GlusterFS or sshfs mount. release() aborts the
// connection: every stuck caller gets ECONNABORTED and goes on.
//
// Never stat or list the mount (nor rm -r a directory holding it) before it
// is released: the caller, a test included, would hang with the rest.

const SERVER = fileURLToPath(new URL('./hung-fuse-server.js', import.meta.url));
const READY_MS = 10_000;
/** The server aborts, unmounts and exits in well under a second; past this it is SIGKILLed (closing /dev/fuse aborts too). */
const RELEASE_MS = 10_000;

export interface HungFuse {
  /** The server's pid. */
  readonly pid: number;
  /** The FUSE connection id: the mount's minor device number, its directory's name under /sys/fs/fuse/connections. */
  readonly connection: string;
  /** Aborts the connection (stuck callers get ECONNABORTED and exit), unmounts, waits for the server to exit. Idempotent. */
  release(): Promise<void>;
}

/** Mounts a FUSE filesystem that never answers at `target` (made when missing). */
export async function mountHungFuse(target: string): Promise<HungFuse> {
  await mkdir(target, { recursive: true });
  // stdin is a pipe the server watches: if this process dies, its end closes and the server releases the mount.
  const child = spawn(process.execPath, [SERVER, target], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // A worker that ends (a timeout) asks the server to release; the closing stdin pipe would too.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  let released: Promise<void> | undefined;
  const release = () =>
    (released ??= (async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), RELEASE_MS);
      const [code, signal] = await exited.finally(() => clearTimeout(timer));
      process.removeListener('exit', onExit);
      if (code !== 0) throw new Error(`hung-fuse server for ${target} ended with ${code ?? signal}: ${stderr.trim()}`);
    })());

  try {
    const connection = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () => reject(new Error(`no hung FUSE mount at ${target} within ${READY_MS} ms: ${stderr.trim()}`)),
        READY_MS,
      );
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const ready = /^ready (\d+)$/m.exec(stdout);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]!);
        }
      });
      void exited.then(([code, signal]) => {
        clearTimeout(timer);
        reject(new Error(`hung-fuse server for ${target} ended with ${code ?? signal} before the mount was ready: ${stderr.trim()}`));
      });
    });
    return { pid: child.pid!, connection, release };
  } catch (error) {
    // Whatever got mounted goes with the server.
    await release().catch(() => {});
    throw error;
  }
}

/**
 * The state letter of process `pid` from /proc/<pid>/stat (R, S, D, Z, …),
 * undefined once it is gone.
 */
export async function processState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // The command name, in parentheses, may hold spaces and parentheses itself: the state follows the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || undefined;
}
