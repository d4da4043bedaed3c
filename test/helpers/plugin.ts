import { PassThrough } from 'node:stream';
import { pino, type Logger } from 'pino';
import { post, SocketError } from '../../src/api/socket-client.js';
import type { Config } from '../../src/config.js';
import { startPlugin, type RunningPlugin } from '../../src/plugin.js';
import { createSystemTools, type SystemTools } from '../../src/system/index.js';
import { makeTempDir, removeTempDir, testConfig } from './temp.js';
import { scrubHost } from './host.js';

export interface PluginResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly raw: string;
}

/** POSTs exactly as dockerd does: no Content-Type, compact JSON plus a newline. */
export async function callSocket(socket: string, method: string, body: unknown | string, timeoutMs = 120_000): Promise<PluginResponse> {
  const payload = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  const headers = { Accept: 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(payload) };
  const answer = await post(socket, `/${method}`, payload, headers, timeoutMs).catch((error: unknown) => {
    throw error instanceof SocketError && error.reason === 'timeout' ? new Error(`${method}: no answer within ${timeoutMs} ms`) : error;
  });
  const raw = answer.body.toString('utf8');
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    // left empty: the assertion on raw will say what came back
  }
  return { status: answer.status ?? 0, body: parsed, raw };
}

export interface PluginFixture {
  readonly root: string;
  readonly config: Config;
  plugin: RunningPlugin;
  call(method: string, body: unknown | string): Promise<PluginResponse>;
  restart(tools?: SystemTools): Promise<void>;
  close(): Promise<void>;
}

/** The real plugin, in this process, on a temp socket, state and volume root. */
export async function startTestPlugin(
  prefix: string,
  tools?: SystemTools,
  overrides: Partial<Config> = {},
  log: Logger = pino({ level: 'silent' }),
): Promise<PluginFixture> {
  const root = await makeTempDir(prefix);
  const config = testConfig(root, overrides);
  const start = (t?: SystemTools) => startPlugin(config, log, { tools: t ?? createSystemTools(config.commandTimeoutMs) });
  const fixture: PluginFixture = {
    root,
    config,
    plugin: await start(tools),
    call: (method, body) => callSocket(config.socket, method, body),
    async restart(t?: SystemTools) {
      await fixture.plugin.stop();
      fixture.plugin = await start(t);
      await fixture.plugin.recovered;
    },
    async close() {
      await fixture.plugin.stop();
      await scrubHost(root);
      await removeTempDir(root);
    },
  };
  await fixture.plugin.recovered;
  return fixture;
}

/** A debug-level logger whose every line is kept in memory, for leak checks. */
export function capturingLogger(): { log: Logger; text: () => string } {
  let text = '';
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { log: pino({ level: 'debug' }, stream), text: () => text };
}
