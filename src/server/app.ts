import Koa from 'koa';
import Router from '@koa/router';
import type { Scope } from '../api/docker.js';
import type { Logger } from '../log.js';
import { readBody, type RequestState } from './body.js';
import { addCustomRoutes } from './custom-routes.js';
import { addDockerRoutes } from './docker-routes.js';
import { requestLog } from './errors.js';
import type { PluginOperations, VolumeDriver } from './ports.js';
import { addStreamingRoutes } from './streaming.js';

// Protocol only, as go-plugins-helpers' volume/api.go: each route decodes its
// request, calls one method of the driver or of the plugin's operations (both
// given, never built here), and encodes the answer. Every error becomes
// {"Err": "..."} with a non-empty message (an empty Err means success to Docker).
export function createApp(driver: VolumeDriver, operations: PluginOperations, log: Logger, scope: Scope = 'local'): Koa {
  const app = new Koa<RequestState>();
  const router = new Router<RequestState>();
  app.use(requestLog(log));
  app.use(readBody);
  addDockerRoutes(router, driver, log, scope);
  addCustomRoutes(router, operations);
  addStreamingRoutes(router, driver, operations, log);
  app.use(router.routes());
  return app;
}
