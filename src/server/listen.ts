import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createServer, type RequestListener, type Server } from 'node:http';
import type Koa from 'koa';
import { isSocketLive } from '../api/socket-client.js';

// A live socket means another plugin instance owns it: refuse to steal it.
// A dead one is left over from a crash.
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

/** A listening socket that holds every request until serve() gives it the app. */
export interface PluginSocket {
  readonly server: Server;
  serve(app: Koa): void;
}

/**
 * Listens on a unix socket created with mode 0600 (no window with wider
 * permissions) at once, before the service exists: dockerd gives a managed
 * plugin about 12 s to create its socket (0.5 s, then four dials 3 s apart),
 * whatever `plugin enable --timeout` says, and loading the modules alone
 * takes 9 s on an emulated CPU. A request that comes early waits for serve().
 */
export async function openSocket(path: string): Promise<PluginSocket> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await clearStaleSocket(path);
  let handler: RequestListener | undefined;
  const waiting: Array<() => void> = [];
  const server = createServer((request, response) => {
    if (handler) handler(request, response);
    // A client that gave up meanwhile (the daemon timed out) is not served late.
    else
      waiting.push(() => {
        if (!request.socket.destroyed) handler?.(request, response);
      });
  });
  server.keepAliveTimeout = 5000;
  // Node's default (300 s for a whole request) would cut an import's upload
  // halfway; every operation here has its own timeout, and the socket is root's.
  server.requestTimeout = 0;
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
  return {
    server,
    serve(app) {
      // Koa's handler returns a promise it never rejects: it answers every error itself.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      handler = app.callback();
      for (const release of waiting.splice(0)) release();
    },
  };
}

/** Stops accepting, lets requests in flight finish, then closes. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** Closes at once: requests still held or in flight get their connection closed. */
export function abortServer(server: Server): Promise<void> {
  const closed = closeServer(server);
  server.closeAllConnections();
  return closed;
}
