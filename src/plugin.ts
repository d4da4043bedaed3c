import type { Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createApp } from './server/app.js';
import { closeServer, listenOnSocket } from './server/listen.js';
import { VolumeService, type Backings } from './volumes/service.js';
import { recoverHost, type RecoveryReport } from './volumes/recover.js';
import { StateStore } from './state/store.js';
import { ImageStackBacking } from './backings/image-stack.js';
import { LuksLayer } from './backings/luks-layer.js';
import { KeyStore } from './keys/key-store.js';
import { loadKek } from './keys/kek.js';
import { checkHost } from './volumes/doctor.js';
import { HostResidue } from './backings/residue.js';
import { createGlusterTools, createSystemTools, type SystemTools } from './system/index.js';
import { GlusterBacking } from './backings/gluster.js';

export interface RunningPlugin {
  readonly server: Server;
  readonly service: VolumeService;
  /** Settles when start-up recovery has finished. */
  readonly recovered: Promise<RecoveryReport>;
  stop(): Promise<void>;
}

// Wiring: config → state → system → backings → service → server. Listen
// first, recover after: the daemon gives a plugin seconds, not minutes.
export async function startPlugin(
  config: Config,
  log: Logger,
  tools: SystemTools = createSystemTools(config.commandTimeoutMs, config.runtimeDir),
): Promise<RunningPlugin> {
  const state = await StateStore.open(config.stateDir);
  const kek = config.kekFile ? await loadKek(config.kekFile) : undefined;
  const keys = new KeyStore(config.keyDir, kek);
  const images = new ImageStackBacking(tools, new LuksLayer(tools, keys));
  const { gluster } = config;
  const glusterTools = createGlusterTools({ timeoutMs: gluster.timeoutMs, ...(gluster.socket ? { socket: gluster.socket } : {}) });
  const replicated = new GlusterBacking(tools, glusterTools, gluster);
  const backings: Backings = { plain: images, encrypted: images, compressed: images, replicated };
  const service = new VolumeService(state, backings, config, log, { generatedKeySource: keys.source });
  // Several peers: every host's plugin sees the same replicated volumes.
  const scope = gluster.peers.length > 1 ? 'global' : 'local';
  const server = await listenOnSocket(createApp(service, log, scope), config.socket);
  log.info({ socket: config.socket, volumes: state.all().length, keys: keys.source }, 'listening');
  void checkHost(backings).then((types) => log.info({ types }, 'volume types this host can serve'));

  const residue = new HostResidue(tools, config);
  const recovered = recoverHost(service, state, residue, config, log).then(
    (report) => {
      log.info(report, 'recovery finished');
      return report;
    },
    (error: unknown) => {
      log.error({ err: error }, 'recovery failed');
      return { reactivated: [], released: [], failed: ['(all)'] };
    },
  );

  let stopped: Promise<void> | undefined;
  return {
    server,
    service,
    recovered,
    stop() {
      stopped ??= (async () => {
        await closeServer(server);
        await recovered;
        await state.flush();
      })();
      return stopped;
    },
  };
}
