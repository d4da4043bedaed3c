#!/usr/bin/env node
import { loadConfig } from './config.js';
import { abortServer, openSocket } from './server/listen.js';

// Entry point. Volumes stay mounted when the plugin stops: containers keep
// using them, and the next start picks their leases up from state.
// The socket is opened before the rest of the plugin is loaded (see
// openSocket: the daemon's patience for a socket is short and fixed).
async function main(): Promise<void> {
  const config = loadConfig();
  const socket = await openSocket(config.socket);
  // A signal during start-up is remembered and acted on once the plugin runs.
  let signalled: string | undefined;
  let onSignal = (signal: string) => void (signalled ??= signal);
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let started;
  try {
    const { createLogger } = await import('./log.js');
    const { startPlugin } = await import('./plugin.js');
    const log = createLogger(config.logLevel);
    started = { log, plugin: await startPlugin(config, log, { socket }) };
  } catch (error) {
    await abortServer(socket.server);
    throw error;
  }
  const { log, plugin } = started;
  let stopping = false;
  onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    plugin.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  if (signalled) onSignal(signalled);
}

main().catch((error: unknown) => {
  process.stderr.write(`custom volume plugin failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
