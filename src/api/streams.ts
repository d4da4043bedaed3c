import { z } from 'zod';
import { RequestError } from './endpoint.js';
import { CUSTOM } from './custom.js';

// The answers that are streams: a clone's progress (NDJSON), an export's
// sealed tar, and an import, whose body is the tar (so its volume is named
// in the query).

/** Custom.Clone with "Progress": true answers lines of this, then its {"Err"} line. */
export const cloneProgress = z.object({ CopiedBytes: z.number(), TotalBytes: z.number() });
export type CloneProgress = z.infer<typeof cloneProgress>;

export const PROGRESS_TYPE = 'application/x-ndjson';
export const EXPORT_TYPE = 'application/x-tar';
/** What an export will roughly be, in bytes, when the plugin knows (for a progress bar). */
export const ESTIMATE_HEADER = 'X-Custom-Estimated-Bytes';

/** Where an import of `name` is sent. */
export function importPath(name: string): string {
  return `${CUSTOM.import.path}?${new URLSearchParams({ Name: name }).toString()}`;
}

/** The import's request body, from its query: {"Name"}. */
export function importQuery(query: string): Record<string, unknown> {
  const name = new URLSearchParams(query).get('Name');
  if (name === null) throw new RequestError(`${CUSTOM.import.method} needs ?Name=<volume> in its path`);
  return { Name: name };
}
