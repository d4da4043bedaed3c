import { quoted } from '../lib/quoted.js';
import type Koa from 'koa';
import { RequestError } from '../api/endpoint.js';
import type { Logger } from '../log.js';
import { isVolumeError } from '../volumes/errors.js';
import type { RequestState } from './body.js';

// Every error becomes {"Err": "..."} with a non-empty message (an empty Err
// means success to Docker), and every request one line of the log.

/** The request log: method, volume, status, duration and Err of each request; errors answered here. */
export function requestLog(log: Logger): Koa.Middleware<RequestState> {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { Err: `unknown endpoint ${ctx.method} ${ctx.path}` };
      }
    } catch (error) {
      respondWithError(ctx, error, log);
    }
    const entry = {
      method: ctx.path.slice(1),
      volume: ctx.state.volume,
      status: ctx.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      err: (ctx.body as { Err?: string } | undefined)?.Err || undefined,
    };
    if (entry.err) log.warn(entry, 'request failed');
    else log.info(entry, 'request');
  };
}

export function respondWithError(ctx: Koa.ParameterizedContext<RequestState>, error: unknown, log: Logger): void {
  if (isVolumeError(error)) {
    // 200 with Err: the daemon shows the text to the user verbatim.
    ctx.status = 200;
    ctx.body = { Err: error.message };
    if (error.cause) log.warn({ volume: error.volume, code: error.code, err: error.cause }, 'cause');
    return;
  }
  if (error instanceof RequestError) {
    ctx.status = 400;
    ctx.body = { Err: error.message };
    return;
  }
  const volume = typeof ctx.state.volume === 'string' ? ` for volume ${quoted(ctx.state.volume)}` : '';
  log.error({ err: error, method: ctx.path }, 'unexpected error');
  ctx.status = 500;
  ctx.body = { Err: `internal error in ${ctx.path.slice(1)}${volume}; see the plugin log` };
}
