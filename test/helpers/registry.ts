import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, removeTempDir } from './temp.js';

// A throw-away docker-registry on a free 127.0.0.1 port (loopback is an
// insecure registry by default, so no TLS is needed).

export interface Registry {
  readonly address: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startRegistry(): Promise<Registry> {
  const root = await makeTempDir('registry');
  const address = `127.0.0.1:${await freePort()}`;
  const config = join(root, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${root}/data\nhttp:\n  addr: ${address}\n`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If the worker dies (a timeout), the daemon must not outlive it.
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`http://${address}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('docker-registry did not start');
    await sleep(100);
  }
  return {
    address,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await removeTempDir(root);
    },
  };
}
