import { quoted } from '../lib/quoted.js';
import { z } from 'zod';

// One endpoint of the plugin's socket: its path, the request it takes and the
// reply it gives, each a zod schema. The server decodes requests with them,
// clients check replies with them, and both take their types from them.

export interface Endpoint<Request extends z.ZodType = z.ZodType, Reply extends z.ZodType = z.ZodType> {
  /** As Docker names it (VolumeDriver.Create); what messages and the request log call it. */
  readonly method: string;
  /** `/` and the method. */
  readonly path: string;
  /** The request body as sent (z.input) and as decoded for the server (z.output). */
  readonly request: Request;
  /** The reply body when Err is empty. */
  readonly reply: Reply;
}

export function endpoint<Request extends z.ZodType, Reply extends z.ZodType>(
  method: string,
  request: Request,
  reply: Reply,
): Endpoint<Request, Reply> {
  return { method, path: `/${method}`, request, reply };
}

/** What a client sends. */
export type RequestOf<E extends Endpoint> = z.input<E['request']>;
/** What the server answers, and a client reads, when all went well. */
export type ReplyOf<E extends Endpoint> = z.output<E['reply']>;

/** A request the wire rejects (the server answers 400 with its message as Err). */
export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

// Requests are decoded defensively: Docker is not the only thing that can
// reach the socket, and a wrong type must become a clear Err, never a crash.
// The first problem is the one reported.
export function decodeRequest<Request extends z.ZodType>(target: Endpoint<Request>, body: Record<string, unknown>): z.output<Request> {
  const result = target.request.safeParse(body);
  if (result.success) return result.data;
  throw new RequestError(result.error.issues[0]?.message ?? `${target.method}: invalid request`);
}

const got = (input: unknown) => (input === undefined ? 'nothing' : typeof input);

/** A string field: anything else is "field KEY must be a string, got TYPE". */
export function stringField(key: string) {
  return z.string({ error: (issue) => `field ${key} must be a string, got ${got(issue.input)}` });
}

/** An optional flag (absent or null: false). */
export function flagField(key: string) {
  return z
    .boolean({ error: `field ${key} must be true or false` })
    .nullish()
    .transform((value) => value ?? false);
}

/** The body every answer has: an empty Err means success. */
export const errReply = z.object({ Err: z.string() });

/** A request with no fields (any object passes). */
export const noFields = z.object({});

/**
 * A check of a request whose problem is said of its volume, as every Err
 * about a volume is: `volume "NAME": PROBLEM`. It runs once the fields
 * before it decoded, so a bad Name is reported first.
 */
export function aboutVolume<T extends { readonly Name: string }>(problem: (request: T) => string | undefined) {
  return (request: T, ctx: z.RefinementCtx<T>): void => {
    const found = problem(request);
    if (found !== undefined) ctx.addIssue({ code: 'custom', message: `volume ${quoted(request.Name)}: ${found}` });
  };
}
