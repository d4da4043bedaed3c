import type Router from '@koa/router';
import type { z } from 'zod';
import { decodeRequest, type Endpoint } from '../api/endpoint.js';
import type { RequestState } from './body.js';

export type PluginRouter = Router<RequestState>;

/**
 * One endpoint, as go-plugins-helpers' volume/api.go serves one: decode its
 * request, call, encode the reply. A throw is answered by the request log.
 */
export function serve<Request extends z.ZodType, Reply extends z.ZodType>(
  router: PluginRouter,
  target: Endpoint<Request, Reply>,
  call: (request: z.output<Request>) => z.input<Reply> | Promise<z.input<Reply>>,
): void {
  router.post(target.path, async (ctx) => {
    ctx.body = await call(decodeRequest(target, ctx.state.body));
  });
}
