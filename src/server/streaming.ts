import { quoted } from '../lib/quoted.js';
import { CUSTOM } from '../api/custom.js';
import { decodeRequest, RequestError } from '../api/endpoint.js';
import { ESTIMATE_HEADER, EXPORT_TYPE, PROGRESS_TYPE } from '../api/streams.js';
import type { Logger } from '../log.js';
import { isVolumeError } from '../volumes/errors.js';
import type { PluginOperations, TransferCalls, VolumeDriver } from './ports.js';
import type { PluginRouter } from './route.js';

// The answers that are streams: a clone's NDJSON progress, an export's
// sealed tar; and an import, whose request is one.

export function addStreamingRoutes(router: PluginRouter, driver: VolumeDriver, operations: PluginOperations, log: Logger): void {
  // The same as a Create with -o from=NAME[@SNAPSHOT]: Docker lists the clone from then on.
  // With "Progress": true the answer is NDJSON: {"CopiedBytes","TotalBytes"} lines while the copy
  // runs, then the usual {"Err": ...} as the last line (a person's progress bar).
  router.post(CUSTOM.clone.path, async (ctx) => {
    const { name, target, snapshot, protect, progress } = decodeRequest(CUSTOM.clone, ctx.state.body);
    const from = snapshot === undefined ? name : `${name}@${snapshot}`;
    const options = { from, ...(protect ? { protect: 'true' } : {}) };
    if (!progress) {
      await driver.create(target, options, true);
      ctx.body = { Err: '' };
      return;
    }
    ctx.respond = false;
    ctx.status = 200;
    ctx.res.writeHead(200, { 'Content-Type': PROGRESS_TYPE });
    // Never after the end (a late progress report): a write after end is an error event, and a crash.
    const line = (value: object) => {
      if (!ctx.res.writableEnded && !ctx.res.destroyed) ctx.res.write(`${JSON.stringify(value)}\n`);
    };
    let err = '';
    try {
      await driver.create(target, options, true, (copied, total) => line({ CopiedBytes: copied, TotalBytes: total }));
    } catch (error) {
      if (!isVolumeError(error)) log.error({ err: error, method: ctx.path }, 'unexpected error');
      err = isVolumeError(error)
        ? error.message
        : `internal error in ${CUSTOM.clone.method} for volume ${quoted(target)}; see the plugin log`;
    }
    ctx.res.end(`${JSON.stringify({ Err: err })}\n`);
    // For the request log.
    ctx.body = { Err: err };
  });

  const transfers = (name: string): TransferCalls => {
    if (!operations.transfers) throw new RequestError(`volume ${quoted(name)}: export and import are not available in this plugin`);
    return operations.transfers;
  };
  // The answer is the sealed tar itself (ctx.respond = false once it starts);
  // an error before that is the usual {"Err"}, after it the connection is cut
  // so the reader never takes a partial stream for a whole one.
  router.post(CUSTOM.export.path, async (ctx) => {
    const { name, plaintext } = decodeRequest(CUSTOM.export, ctx.state.body);
    let streaming = false;
    try {
      await transfers(name).export(name, plaintext, (estimate) => {
        streaming = true;
        ctx.respond = false;
        ctx.status = 200;
        ctx.res.writeHead(200, {
          'Content-Type': EXPORT_TYPE,
          ...(estimate === undefined ? {} : { [ESTIMATE_HEADER]: String(estimate) }),
        });
        return ctx.res;
      });
    } catch (error) {
      if (!streaming) throw error;
      ctx.res.destroy();
      log.error({ volume: name, err: error }, 'export failed while streaming; the connection was cut');
    }
  });
  router.post(CUSTOM.import.path, async (ctx) => {
    const { name } = decodeRequest(CUSTOM.import, ctx.state.body);
    const seal = await transfers(name).import(name, ctx.req);
    ctx.body = { Bytes: seal.bytes, Sha256: seal.sha256, Err: '' };
  });
}
