import type { z } from 'zod';
import { errReply, type Endpoint } from '../api/endpoint.js';
import { jsonHeaders, post, SocketError } from '../api/socket-client.js';

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

/** Sends `body` to the endpoint; resolves with its reply, checked, or rejects with the CliError it means. */
export async function call<Request extends z.ZodType, Reply extends z.ZodType>(
  socket: string,
  target: Endpoint<Request, Reply>,
  body: z.input<Request>,
  timeoutMs = 120_000,
): Promise<z.output<Reply>> {
  const payload = `${JSON.stringify(body)}\n`;
  const answer = await post(socket, target.path, payload, jsonHeaders(payload), timeoutMs).catch((error: Error) => {
    throw failed(socket, target.method, error, timeoutMs);
  });
  return checkReply(socket, target, answer.status, answer.body);
}

/** A failed request as the CliError it means. */
function failed(socket: string, method: string, error: Error, timeoutMs: number): CliError {
  if (error instanceof SocketError && error.reason === 'dropped') {
    return new CliError(
      `the plugin at ${socket} dropped the connection during ${method}; it may or may not have done it: check with custom-volume inspect`,
      EXIT.refused,
    );
  }
  if (error instanceof SocketError && error.reason === 'timeout') {
    return new CliError(
      `no answer from the plugin at ${socket} to ${method} within ${Math.round(timeoutMs / 1000)} s; it may still be doing it: check with custom-volume inspect`,
      EXIT.refused,
    );
  }
  return unreachable(socket, error);
}

/** The plugin's answer, checked against the endpoint's reply, or the CliError it means. */
export function checkReply<Reply extends z.ZodType>(
  socket: string,
  target: Endpoint<z.ZodType, Reply>,
  statusCode: number | undefined,
  body: Buffer,
): z.output<Reply> {
  const { method } = target;
  let reply: unknown;
  try {
    reply = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CliError(`the plugin at ${socket} answered ${method} with something that is not JSON (is it this plugin?)`, EXIT.unreachable);
  }
  if (statusCode === 404)
    throw new CliError(`the plugin at ${socket} has no ${method}: it is older than this CLI; upgrade it`, EXIT.unreachable);
  const refusal = errReply.safeParse(reply);
  if (refusal.success && refusal.data.Err !== '') throw new CliError(refusal.data.Err, EXIT.refused);
  const checked = target.reply.safeParse(reply);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new CliError(
      `the plugin at ${socket} answered ${method} with a reply this CLI does not understand (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}); is it this plugin, as new as this CLI?`,
      EXIT.unreachable,
    );
  }
  return checked.data;
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
