import { request } from 'node:http';

// The CLI's only way to the plugin: its socket, and the plugin's own
// endpoints (/Custom.*). It never reads or writes the plugin's state.

/** Why a command failed, and the exit code that says so. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Exit codes: 1 the plugin refused or failed the operation, 2 usage, 3 the plugin could not be reached. */
export const EXIT = { refused: 1, usage: 2, unreachable: 3 } as const;

export type Reply = Record<string, unknown>;

export function call(socket: string, method: string, body: Record<string, unknown>, timeoutMs = 120_000): Promise<Reply> {
  const payload = `${JSON.stringify(body)}\n`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path: `/${method}`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('aborted', () =>
          reject(
            new CliError(
              `the plugin at ${socket} dropped the connection during ${method}; it may or may not have done it: check with custom-volume inspect`,
              EXIT.refused,
            ),
          ),
        );
        res.on('end', () => {
          try {
            resolve(parseReply(socket, method, res.statusCode, Buffer.concat(chunks)));
          } catch (error) {
            reject(error as Error);
          }
        });
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(
        new CliError(
          `no answer from the plugin at ${socket} to ${method} within ${Math.round(timeoutMs / 1000)} s; it may still be doing it: check with custom-volume inspect`,
          EXIT.refused,
        ),
      ),
    );
    req.on('error', (error) => reject(unreachable(socket, error)));
    req.end(payload);
  });
}

/** The plugin's JSON answer, or the CliError it means. */
export function parseReply(socket: string, method: string, statusCode: number | undefined, body: Buffer): Reply {
  let reply: Reply;
  try {
    reply = JSON.parse(body.toString('utf8')) as Reply;
  } catch {
    throw new CliError(`the plugin at ${socket} answered ${method} with something that is not JSON (is it this plugin?)`, EXIT.unreachable);
  }
  if (statusCode === 404)
    throw new CliError(`the plugin at ${socket} has no ${method}: it is older than this CLI; upgrade it`, EXIT.unreachable);
  if (typeof reply['Err'] === 'string' && reply['Err'] !== '') throw new CliError(reply['Err'], EXIT.refused);
  return reply;
}

/** A transport error as the CliError it means. */
export function unreachable(socket: string, error: Error): CliError {
  return error instanceof CliError
    ? error
    : new CliError(
        `cannot reach the plugin at ${socket}: ${error.message}; is it running (make run, or docker plugin ls)?`,
        EXIT.unreachable,
      );
}
