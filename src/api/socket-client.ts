import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { createConnection } from 'node:net';

// The one way to the plugin's unix socket: for its clients (the operator CLI,
// the tests) and for the plugin itself, which asks whether another instance
// answers there before it takes the socket over.

/** Is something answering on this socket? */
export function isSocketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A POST to `path` on the socket; the caller sends the body, `onAnswer` hears the answer. */
export function openPost(
  socket: string,
  path: string,
  headers: OutgoingHttpHeaders,
  onAnswer?: (answer: IncomingMessage) => void,
): ClientRequest {
  return request({ socketPath: socket, path, method: 'POST', headers }, onAnswer);
}

/** The headers of a JSON body. */
export function jsonHeaders(payload: string): OutgoingHttpHeaders {
  return { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) };
}

export interface Answer {
  readonly status: number | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Why a request got no whole answer: the socket could not be reached or the
 * connection broke before an answer (unreachable; the message is the
 * system's), the answer was cut halfway (dropped), or none came in time.
 */
export class SocketError extends Error {
  constructor(
    readonly reason: 'unreachable' | 'dropped' | 'timeout',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SocketError';
  }
}

/** POSTs `payload` and reads the whole answer, whatever its status. `timeoutMs`: of silence on the socket. */
export function post(socket: string, path: string, payload: string, headers: OutgoingHttpHeaders, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = openPost(socket, path, headers, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('aborted', () => reject(new SocketError('dropped', `the connection was cut during the answer to ${path}`)));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new SocketError('timeout', `no answer to ${path} within ${timeoutMs} ms`)));
    req.on('error', (error) =>
      reject(error instanceof SocketError ? error : new SocketError('unreachable', error.message, { cause: error })),
    );
    req.end(payload);
  });
}
