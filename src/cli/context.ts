import type { z } from 'zod';
import type { Endpoint } from '../api/endpoint.js';

/** What every command needs: the plugin, the output, and whether the output is for a script. */
export interface CliContext {
  /** Sends a request to the plugin; resolves with its reply, checked against the endpoint's schema. */
  ask<Request extends z.ZodType, Reply extends z.ZodType>(
    target: Endpoint<Request, Reply>,
    body: z.input<Request>,
    timeoutMs?: number,
  ): Promise<z.output<Reply>>;
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
