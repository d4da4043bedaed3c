import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import { RequestError } from '../api/endpoint.js';
import { CUSTOM } from '../api/custom.js';
import { importQuery } from '../api/streams.js';

// The request body, read before any route: Docker sends no Content-Type, so
// body parsers would skip it. It is JSON whatever the headers say.

export interface RequestState {
  body: Record<string, unknown>;
  /** The volume the request names, for the request log. */
  volume?: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function readRawBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(`request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseBody(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new RequestError(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RequestError('request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Sets ctx.state.body (and the volume it names); an import's body is the stream itself, its volume is in the query. */
export const readBody: Koa.Middleware<RequestState> = async (ctx, next) => {
  ctx.state.body = ctx.path === CUSTOM.import.path ? importQuery(ctx.querystring) : parseBody(await readRawBody(ctx.req));
  const name = ctx.state.body['Name'];
  if (typeof name === 'string') ctx.state.volume = name;
  await next();
};
