#!/usr/bin/env node
import { loadConfig } from './config.js';
import { openSocket } from './server/listen.js';

// Entry point. Volumes stay mounted when the plugin stops: containers keep
// using them, and the next start picks their leases up from state.
// The socket is opened before the rest of the plugin is loaded (see
// openSocket: the daemon's patience for a socket is short and fixed).
async function main(): Promise<void> {
  const config = loadConfig();
  const socket = await openSocket(config.socket);
  const { createLogger } = await import('./log.js');
  const { startPlugin } = await import('./plugin.js');
  const log = createLogger(config.logLevel);
  const plugin = await startPlugin(config, log, { socket });
  let stopping = false;
  const stop = (signal: string) => {
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`custom volume plugin failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
