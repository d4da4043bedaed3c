import Koa from 'koa';
import Router from '@koa/router';
import type { VolumeService } from '../volumes/service.js';
import type { Logger } from '../log.js';
import { isVolumeError } from '../volumes/errors.js';
import {
  RequestError,
  decodeClone,
  decodeCreate,
  decodeExport,
  decodeImportQuery,
  decodeMount,
  decodeName,
  decodeNamedSnapshot,
  decodeProtect,
  decodeResize,
  decodeSnapshot,
  parseBody,
} from './wire.js';
import { SnapshotOperations } from '../volumes/snapshots.js';
import { diagnose } from '../volumes/doctor.js';
import { TransferOperations } from '../volumes/transfer.js';
import type { DataTransfer } from '../backings/data-transfer.js';
import type { KeyStore } from '../keys/key-store.js';
import type { KekPlacement } from '../keys/custody.js';
import { NO_KEK, resealAll } from '../volumes/reseal.js';

const IMPORT_PATH = '/Custom.Import';
import { VolumeOperations } from '../volumes/operations.js';
import { readRawBody } from './raw-body.js';

export type Scope = 'local' | 'global';

interface RequestState {
  body: Record<string, unknown>;
  volume?: string;
}

// Protocol only: decode, call one service method, encode. Every error becomes
// {"Err": "..."} with a non-empty message (an empty Err means success to Docker).
/** What the plugin's own endpoints need beyond the service (absent: they answer that they are not available). */
export interface AppExtras {
  /** What export and import stream through. */
  readonly transfer?: DataTransfer;
  /** The key store, for reseal. */
  readonly keys?: KeyStore;
  /** Where the KEK lies against the key store, for doctor. */
  readonly custody?: KekPlacement;
}

export function createApp(service: VolumeService, log: Logger, scope: Scope = 'local', extras: AppExtras = {}): Koa {
  const { transfer, keys, custody } = extras;
  const app = new Koa<RequestState>();
  const router = new Router<RequestState>();

  app.use(async (ctx, next) => {
    const started = performance.now();
    try {
      // An import's body is the stream itself; its volume is named in the query.
      ctx.state.body = ctx.path === IMPORT_PATH ? decodeImportQuery(ctx.querystring) : parseBody(await readRawBody(ctx.req));
      const name = ctx.state.body['Name'];
      if (typeof name === 'string') ctx.state.volume = name;
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
  });

  router.post('/Plugin.Activate', (ctx) => {
    ctx.body = { Implements: ['VolumeDriver'] };
  });
  router.post('/VolumeDriver.Capabilities', (ctx) => {
    ctx.body = { Capabilities: { Scope: scope } };
  });
  router.post('/VolumeDriver.Create', async (ctx) => {
    const { name, opts } = decodeCreate(ctx.state.body);
    log.info({ volume: name, optionKeys: Object.keys(opts ?? {}) }, 'create');
    await service.create(name, opts);
    ctx.body = { Err: '' };
  });
  router.post('/VolumeDriver.Remove', async (ctx) => {
    await service.remove(decodeName(ctx.state.body).name);
    ctx.body = { Err: '' };
  });
  router.post('/VolumeDriver.Mount', async (ctx) => {
    const { name, id } = decodeMount(ctx.state.body);
    ctx.body = { Mountpoint: await service.mount(name, id), Err: '' };
  });
  router.post('/VolumeDriver.Unmount', async (ctx) => {
    const { name, id } = decodeMount(ctx.state.body);
    await service.unmount(name, id);
    ctx.body = { Err: '' };
  });
  router.post('/VolumeDriver.Path', async (ctx) => {
    ctx.body = { Mountpoint: await service.path(decodeName(ctx.state.body).name), Err: '' };
  });
  router.post('/VolumeDriver.Get', async (ctx) => {
    const volume = await service.get(decodeName(ctx.state.body).name);
    ctx.body = {
      Volume: {
        Name: volume.name,
        Mountpoint: volume.mountpoint,
        CreatedAt: volume.createdAt,
        Status: volume.status,
      },
      Err: '',
    };
  });
  router.post('/VolumeDriver.List', async (ctx) => {
    ctx.body = {
      Volumes: (await service.list()).map((v) => ({ Name: v.name, Mountpoint: v.mountpoint })),
      Err: '',
    };
  });

  // The plugin's own endpoints, for the operator CLI (custom-volume); the
  // daemon never calls them. Same socket, same errors, same request log.
  const operations = new VolumeOperations(service);
  router.post('/Custom.List', (ctx) => {
    ctx.body = { Volumes: operations.list(), Err: '' };
  });
  router.post('/Custom.Inspect', async (ctx) => {
    ctx.body = { Volume: await operations.inspect(decodeName(ctx.state.body).name), Err: '' };
  });
  router.post('/Custom.Protect', async (ctx) => {
    const { name, protect } = decodeProtect(ctx.state.body);
    ctx.body = { Changed: await operations.protect(name, protect), Err: '' };
  });
  router.post('/Custom.Resize', async (ctx) => {
    const { name, size } = decodeResize(ctx.state.body);
    const result = await operations.resize(name, size);
    ctx.body = { FromBytes: result.fromBytes, ToBytes: result.toBytes, Changed: result.changed, Err: '' };
  });
  router.post('/Custom.Rekey', async (ctx) => {
    await operations.rekey(decodeName(ctx.state.body).name);
    ctx.body = { Err: '' };
  });
  router.post('/Custom.Reseal', async (ctx) => {
    if (!keys) throw new RequestError('reseal is not available in this plugin');
    if (keys.source !== 'sealed') throw new RequestError(NO_KEK);
    const report = await resealAll(service, keys);
    ctx.body = {
      Reseal: report,
      Err:
        report.failed.length > 0
          ? `could not reseal ${report.failed.map((f) => `volume ${JSON.stringify(f.volume)}: ${f.problem}`).join('; ')}; the others are sealed under the current KEK, keep CUSTOM_KEK_PREVIOUS_FILE until these are fixed`
          : '',
    };
  });
  router.post('/Custom.Doctor', async (ctx) => {
    ctx.body = { Doctor: await diagnose(service, keys, custody), Err: '' };
  });
  const snapshots = new SnapshotOperations(service);
  router.post('/Custom.Snapshot', async (ctx) => {
    const { name, snapshot } = decodeSnapshot(ctx.state.body);
    ctx.body = { Snapshot: await snapshots.take(name, snapshot), Err: '' };
  });
  router.post('/Custom.Snapshots', async (ctx) => {
    ctx.body = { Snapshots: await snapshots.list(decodeName(ctx.state.body).name), Err: '' };
  });
  router.post('/Custom.Restore', async (ctx) => {
    const { name, snapshot } = decodeNamedSnapshot(ctx.state.body);
    ctx.body = { SizeBytes: (await snapshots.restore(name, snapshot)).sizeBytes, Err: '' };
  });
  router.post('/Custom.SnapshotRemove', async (ctx) => {
    const { name, snapshot } = decodeNamedSnapshot(ctx.state.body);
    await snapshots.remove(name, snapshot);
    ctx.body = { Err: '' };
  });
  // The same as a Create with -o from=NAME[@SNAPSHOT]: Docker lists the clone from then on.
  // With "Progress": true the answer is NDJSON: {"CopiedBytes","TotalBytes"} lines while the copy
  // runs, then the usual {"Err": ...} as the last line (a person's progress bar).
  router.post('/Custom.Clone', async (ctx) => {
    const { name, target, snapshot, protect, progress } = decodeClone(ctx.state.body);
    const from = snapshot === undefined ? name : `${name}@${snapshot}`;
    const options = { from, ...(protect ? { protect: 'true' } : {}) };
    if (!progress) {
      await service.create(target, options, true);
      ctx.body = { Err: '' };
      return;
    }
    ctx.respond = false;
    ctx.status = 200;
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    // Never after the end (a late progress report): a write after end is an error event, and a crash.
    const line = (value: object) => {
      if (!ctx.res.writableEnded && !ctx.res.destroyed) ctx.res.write(`${JSON.stringify(value)}\n`);
    };
    let err = '';
    try {
      await service.create(target, options, true, (copied, total) => line({ CopiedBytes: copied, TotalBytes: total }));
    } catch (error) {
      if (!isVolumeError(error)) log.error({ err: error, method: ctx.path }, 'unexpected error');
      err = isVolumeError(error)
        ? error.message
        : `internal error in Custom.Clone for volume ${JSON.stringify(target)}; see the plugin log`;
    }
    ctx.res.end(`${JSON.stringify({ Err: err })}\n`);
    // For the request log.
    ctx.body = { Err: err };
  });

  const transfers = transfer && new TransferOperations(service, transfer);
  const transfersOrRefuse = (name: string) => {
    if (!transfers) throw new RequestError(`volume ${JSON.stringify(name)}: export and import are not available in this plugin`);
    return transfers;
  };
  // The answer is the sealed tar itself (ctx.respond = false once it starts);
  // an error before that is the usual {"Err"}, after it the connection is cut
  // so the reader never takes a partial stream for a whole one.
  router.post('/Custom.Export', async (ctx) => {
    const { name, plaintext } = decodeExport(ctx.state.body);
    let streaming = false;
    try {
      await transfersOrRefuse(name).export(name, plaintext, (estimate) => {
        streaming = true;
        ctx.respond = false;
        ctx.status = 200;
        ctx.res.writeHead(200, {
          'Content-Type': 'application/x-tar',
          ...(estimate === undefined ? {} : { 'X-Custom-Estimated-Bytes': String(estimate) }),
        });
        return ctx.res;
      });
    } catch (error) {
      if (!streaming) throw error;
      ctx.res.destroy();
      log.error({ volume: name, err: error }, 'export failed while streaming; the connection was cut');
    }
  });
  router.post(IMPORT_PATH, async (ctx) => {
    const name = decodeName(ctx.state.body).name;
    const seal = await transfersOrRefuse(name).import(name, ctx.req);
    ctx.body = { Bytes: seal.bytes, Sha256: seal.sha256, Err: '' };
  });

  app.use(router.routes());
  return app;
}

function respondWithError(ctx: Koa.Context, error: unknown, log: Logger): void {
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
  const volume = typeof ctx.state['volume'] === 'string' ? ` for volume ${JSON.stringify(ctx.state['volume'])}` : '';
  log.error({ err: error, method: ctx.path }, 'unexpected error');
  ctx.status = 500;
  ctx.body = { Err: `internal error in ${ctx.path.slice(1)}${volume}; see the plugin log` };
}
