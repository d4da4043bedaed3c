import { createConnection } from 'node:net';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createServer, type Server } from 'node:http';
import type Koa from 'koa';

// Is something answering on this socket? A live socket means another plugin
// instance owns it: refuse to steal it. A dead one is left over from a crash.
function isSocketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function clearStaleSocket(path: string): Promise<void> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!info.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await isSocketLive(path)) throw new Error(`${path} is in use by another running plugin`);
  await unlink(path);
}

/** Listens on a unix socket created with mode 0600 (no window with wider permissions). */
export async function listenOnSocket(app: Koa, path: string): Promise<Server> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await clearStaleSocket(path);
  // Koa's handler returns a promise it never rejects: it answers every error itself.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  const server = createServer(app.callback());
  server.keepAliveTimeout = 5000;
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  return server;
}

/** Stops accepting, lets requests in flight finish, then closes. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
