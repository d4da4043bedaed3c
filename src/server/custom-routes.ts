import { quoted } from '../lib/quoted.js';
import { CUSTOM } from '../api/custom.js';
import { RequestError } from '../api/endpoint.js';
import type { PluginOperations } from './ports.js';
import { serve, type PluginRouter } from './route.js';

// The plugin's own endpoints, for the operator CLI (custom-volume); the
// daemon never calls them. Same socket, same errors, same request log. The
// streaming ones (Clone, Export, Import) are in streaming.ts.

export function addCustomRoutes(router: PluginRouter, operations: PluginOperations): void {
  const { volumes, snapshots } = operations;
  serve(router, CUSTOM.list, () => ({ Volumes: volumes.list(), Err: '' }));
  serve(router, CUSTOM.inspect, async ({ name }) => ({ Volume: await volumes.inspect(name), Err: '' }));
  serve(router, CUSTOM.protect, async ({ name, protect }) => ({ Changed: await volumes.protect(name, protect), Err: '' }));
  serve(router, CUSTOM.resize, async ({ name, size }) => {
    const result = await volumes.resize(name, size);
    return { FromBytes: result.fromBytes, ToBytes: result.toBytes, Changed: result.changed, Err: '' };
  });
  serve(router, CUSTOM.rekey, async ({ name }) => {
    await volumes.rekey(name);
    return { Err: '' };
  });
  serve(router, CUSTOM.reseal, async () => {
    if (!operations.reseal) throw new RequestError('reseal is not available in this plugin');
    const report = await operations.reseal();
    return {
      Reseal: report,
      Err:
        report.failed.length > 0
          ? `could not reseal ${report.failed.map((f) => `volume ${quoted(f.volume)}: ${f.problem}`).join('; ')}; the others are sealed under the current KEK, keep CUSTOM_KEK_PREVIOUS_FILE until these are fixed`
          : '',
    };
  });
  serve(router, CUSTOM.doctor, async () => ({ Doctor: await operations.doctor(), Err: '' }));
  serve(router, CUSTOM.snapshot, async ({ name, snapshot }) => ({ Snapshot: await snapshots.take(name, snapshot), Err: '' }));
  serve(router, CUSTOM.snapshots, async ({ name }) => ({ Snapshots: await snapshots.list(name), Err: '' }));
  serve(router, CUSTOM.restore, async ({ name, snapshot }) => ({
    SizeBytes: (await snapshots.restore(name, snapshot)).sizeBytes,
    Err: '',
  }));
  serve(router, CUSTOM.snapshotRemove, async ({ name, snapshot }) => {
    await snapshots.remove(name, snapshot);
    return { Err: '' };
  });
}
