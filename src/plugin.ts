import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createApp } from './server/app.js';
import { abortServer, closeServer, openSocket, type PluginSocket } from './server/listen.js';
import { VolumeService, type Backings } from './volumes/service.js';
import { recoverHost, sweepLeases, type RecoveryReport } from './volumes/recover.js';
import { rebuildFromDisk } from './volumes/rebuild.js';
import { noCheckpoints, pauseAfterTool, pauseAt, type Checkpoint } from './volumes/checkpoints.js';
import { PAUSED_AT_FILE } from './state/layout.js';
import { StateStore } from './state/store.js';
import { loadInstanceTag } from './state/instance-tag.js';
import { ImageStackBacking } from './backings/image-stack.js';
import { DataTransfer } from './backings/data-transfer.js';
import { LuksLayer } from './backings/luks-layer.js';
import { KeyStore } from './keys/key-store.js';
import { loadKek } from './keys/kek.js';
import { kekFindings, sealingCounts, type KekPlacement } from './keys/custody.js';
import { checkHost, diagnose } from './volumes/doctor.js';
import { VolumeOperations } from './volumes/operations.js';
import { SnapshotOperations } from './volumes/snapshots.js';
import { TransferOperations } from './volumes/transfer.js';
import { NO_KEK, resealAll } from './volumes/reseal.js';
import { RequestError } from './api/endpoint.js';
import type { PluginOperations } from './server/ports.js';
import { HostResidue } from './backings/residue.js';
import { createGlusterTools, createSystemTools, type SystemTools } from './system/index.js';
import { GlusterBacking } from './backings/replicated/backing.js';
import { createHostView } from './host-view.js';

export interface RunningPlugin {
  readonly server: Server;
  readonly service: VolumeService;
  /** Settles when start-up recovery has finished. */
  readonly recovered: Promise<RecoveryReport>;
  /** Runs the periodic lease check once now (tests; it also runs every leaseCheckMs). */
  sweep(): Promise<string[]>;
  stop(): Promise<void>;
}

function testCheckpoint(config: Config, log: Logger): Checkpoint {
  if (!config.testPauseAt) return noCheckpoints;
  return pauseAt(config.testPauseAt, async (step) => {
    log.warn({ step }, 'paused for a fault test (CUSTOM_TEST_PAUSE_AT)');
    await writeFile(join(config.stateDir, PAUSED_AT_FILE), step);
  });
}

/** The plugin's own operations (/Custom.*), as the server calls them. */
function operationsOf(service: VolumeService, transfer: DataTransfer, keys: KeyStore, custody: KekPlacement): PluginOperations {
  return {
    volumes: new VolumeOperations(service),
    snapshots: new SnapshotOperations(service),
    transfers: new TransferOperations(service, transfer),
    reseal: async () => {
      if (keys.source !== 'sealed') throw new RequestError(NO_KEK);
      return resealAll(service, keys);
    },
    doctor: () => diagnose(service, keys, custody),
  };
}

export interface StartOptions {
  /** The host tools (tests wrap them to inject faults or delays). */
  readonly tools?: SystemTools;
  /** A socket opened before the modules loaded (main.ts); otherwise opened first thing here. */
  readonly socket?: PluginSocket;
}

// Wiring: config → state → system → backings → service → server. The socket
// is open first, but answers nothing until the state index is checked against
// the disk (never answer empty while volumes exist); then serve first, recover
// after: the daemon gives a plugin seconds, not minutes.
export async function startPlugin(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningPlugin> {
  const socket = options.socket ?? (await openSocket(config.socket));
  try {
    return await wire(config, log, socket, options.tools ?? createSystemTools(config.commandTimeoutMs, config.runtimeDir));
  } catch (error) {
    await abortServer(socket.server);
    throw error;
  }
}

async function wire(config: Config, log: Logger, socket: PluginSocket, baseTools: SystemTools): Promise<RunningPlugin> {
  const checkpoint = testCheckpoint(config, log);
  const tools = config.testPauseAt?.startsWith('tool:') ? pauseAfterTool(baseTools, config.testPauseAt.slice(5), checkpoint) : baseTools;
  // Before any key is read.
  await tools.disableCoreDumps().catch((error: unknown) => log.warn({ err: error }, 'could not disable core dumps (prlimit)'));
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const state = await StateStore.open(config.stateDir);
  const rebuilt = await rebuildFromDisk(state, config.dataDir, log);
  const kek = config.kekFile ? await loadKek(config.kekFile) : undefined;
  if (config.kekPreviousFile && !kek) throw new Error('CUSTOM_KEK_PREVIOUS_FILE is set without CUSTOM_KEK_FILE: set the new KEK too');
  const previousKek = config.kekPreviousFile ? await loadKek(config.kekPreviousFile) : undefined;
  const keys = new KeyStore(config.keyDir, kek, previousKek);
  const custody: KekPlacement = {
    kekFile: config.kekFile,
    kekPreviousFile: config.kekPreviousFile,
    stateDir: config.stateDir,
    keyDir: config.keyDir,
  };
  const images = new ImageStackBacking(tools, new LuksLayer(tools, keys, await loadInstanceTag(config.stateDir)));
  const { gluster } = config;
  const glusterTools = createGlusterTools({ timeoutMs: gluster.timeoutMs, ...(gluster.socket ? { socket: gluster.socket } : {}) });
  const replicated = new GlusterBacking(
    tools,
    glusterTools,
    { ...gluster, mountDir: config.mountDir },
    () => new Set(state.all().map((r) => r.id)),
  );
  const backings: Backings = { plain: images, encrypted: images, compressed: images, replicated };
  const residue = new HostResidue(tools, config, (id) => keys.remove(id));
  const host = await createHostView(tools, residue, config.dataDir);
  const service = new VolumeService({
    state,
    backings,
    roots: config,
    log,
    host,
    policy: { leaseGraceMs: config.leaseGraceMs, overcommit: config.overcommit },
    specDefaults: { generatedKeySource: keys.source },
    checkpoint,
  });
  // Several peers: every host's plugin sees the same replicated volumes.
  const scope = gluster.peers.length > 1 ? 'global' : 'local';
  socket.serve(createApp(service, operationsOf(service, new DataTransfer(tools), keys, custody), log, scope));
  const { server } = socket;
  log.info({ socket: config.socket, volumes: state.all().length, stateFile: state.origin, ...rebuilt, keys: keys.source }, 'listening');
  void checkHost(backings).then((types) => log.info({ types }, 'volume types this host can serve'));

  const recovered = recoverHost(service, log).then(
    async (report) => {
      log.info(report, 'recovery finished');
      // Which keys are sealed, by count (current: under CUSTOM_KEK_FILE); where the KEK lies against them.
      const counts = await sealingCounts(state.all(), keys);
      log.info({ keys: counts }, 'volume keys');
      if (keys.source === 'sealed' && counts.unsealed + counts.previous > 0) {
        log.warn(
          { unsealed: counts.unsealed, previous: counts.previous },
          'some keys are not sealed under CUSTOM_KEK_FILE (made before it, or under the previous KEK): run custom-volume reseal',
        );
      }
      for (const finding of await kekFindings(custody)) log.warn({ fix: finding.fix }, finding.what);
      // Measured once now, so the first Create does not pay for every image.
      await service.claims.total(state.all()).catch((error: unknown) => log.warn({ err: error }, "could not measure the images' claims"));
      return report;
    },
    (error: unknown) => {
      log.error({ err: error }, 'recovery failed');
      return { finished: [], reactivated: [], released: [], unknown: [], failed: ['(all)'] };
    },
  );

  let sweeping: Promise<string[]> | undefined;
  const sweep = () => {
    sweeping ??= recovered.then(() => sweepLeases(service, log)).finally(() => (sweeping = undefined));
    return sweeping;
  };
  // GlusterFS leftovers (interrupted creates and removes, stale markers) once
  // recovery is done, then with every lease check.
  const sweepGluster = () =>
    recovered.then(() => replicated.sweep()).catch((error: unknown) => log.warn({ err: error }, 'GlusterFS sweep failed'));
  void sweepGluster();
  const timer = setInterval(() => {
    sweep().catch((error: unknown) => log.error({ err: error }, 'periodic lease check failed'));
    void sweepGluster();
  }, config.leaseCheckMs);
  timer.unref();

  let stopped: Promise<void> | undefined;
  return {
    server,
    service,
    recovered,
    sweep,
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await closeServer(server);
        await recovered;
        await sweeping?.catch(() => undefined);
        await state.flush();
        await replicated.detach().catch((error: unknown) => log.warn({ err: error }, 'could not unmount the GlusterFS pools'));
        keys.wipe();
      })();
      return stopped;
    },
  };
}
