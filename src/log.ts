import { pino, type Logger } from 'pino';

export type { Logger };

// One JSON object per line on stdout (a managed plugin's stdout goes to the
// daemon's log). Nothing that could hold key material is ever passed in:
// request options are logged by key only.
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { plugin: 'custom' } };
  return destination ? pino(options, destination) : pino(options);
}
