import type { Reply } from './client.js';

/** What every command needs: the plugin, the output, and whether the output is for a script. */
export interface CliContext {
  ask(method: string, body?: Record<string, unknown>, timeoutMs?: number): Promise<Reply>;
  /** The plugin's socket, found as for ask (for the streaming commands). */
  socket(): Promise<string>;
  print(text: string): void;
  json(): boolean;
}

/** Bytes as MiB or GiB, for people. */
export function bytes(value: unknown): string {
  const n = Number(value);
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  return `${Math.round(n / 1024 ** 2)} MiB`;
}
