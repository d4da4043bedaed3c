import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from './durable-file.js';
import { META_FILE } from './layout.js';
import { validateRecord, type VolumeRecord } from './schema.js';

// Each volume's directory holds its own small record (never a key, never a
// lease): with it the state file is an index that can be rebuilt.

const META_VERSION = 1;

export async function writeVolumeMeta(dir: string, record: VolumeRecord): Promise<void> {
  const meta = {
    version: META_VERSION,
    name: record.name,
    id: record.id,
    spec: record.spec,
    createdAt: record.createdAt,
    ...(record.protected ? { protected: true } : {}),
  };
  await writeFileDurably(join(dir, META_FILE), `${JSON.stringify(meta, null, 1)}\n`);
}

export type MetaRead = { record: VolumeRecord } | { problem: string; missing: boolean };

/** The record in `dir/volume.json` (with no leases), or why there is none. */
export async function readVolumeMeta(dir: string): Promise<MetaRead> {
  let text: string;
  try {
    text = await readFile(join(dir, META_FILE), 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { problem: missing ? `no ${META_FILE}` : `${META_FILE} unreadable: ${(error as Error).message}`, missing };
  }
  return parseVolumeMeta(text);
}

/** A volume.json's text (read by the caller, maybe from a less trusted place) → its record or the problem. */
export function parseVolumeMeta(text: string): MetaRead {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: `${META_FILE} is not JSON`, missing: false };
  }
  if (typeof raw !== 'object' || raw === null || (raw as { version?: unknown }).version !== META_VERSION) {
    return { problem: `${META_FILE} has no supported version`, missing: false };
  }
  const { version: _version, ...fields } = raw as Record<string, unknown>;
  const checked = validateRecord({ ...fields, leases: {} });
  return 'problem' in checked ? { problem: `${META_FILE}: ${checked.problem}`, missing: false } : checked;
}
