import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';

// A stand-in for a container: a process in its own mount namespace holding a
// bind mount of a volume's data directory, as runc makes one (mountinfo root
// "/_data"). Killing it ends the namespace and so the use.

export interface BindUser {
  readonly pid: number;
  stop(): Promise<void>;
}

export async function holdBindMount(source: string, target: string): Promise<BindUser> {
  await mkdir(target, { recursive: true });
  const child = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && echo ready && exec sleep 600', 'sh', source, target],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`unshare exited with ${String(code)} before the bind mount was ready`)));
  });
  return {
    pid: child.pid!,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
