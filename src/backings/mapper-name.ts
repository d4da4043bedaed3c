import { join } from 'node:path';
import { quoted } from '../lib/quoted.js';

// dm names share one namespace per host: two plugin instances (two state
// directories) must not both call a mapping custom-<id>. Each puts its
// instance tag in the name; '' keeps the legacy name of earlier releases.

/** The kernel's limit: DM_NAME_LEN is 128 bytes with the terminating NUL. */
export const MAX_MAPPER_NAME = 127;

/** `custom-<instance>-<volumeId>` (`custom-<volumeId>` without an instance), at most 127 characters. */
export function mapperName(volumeId: string, instance = ''): string {
  if (!/^[0-9A-Za-z]*$/.test(instance)) throw new Error(`mapper instance tag ${quoted(instance)} must be letters and digits`);
  const prefix = instance ? `custom-${instance}-` : 'custom-';
  // A volume id ends in its hash: keep the end when the whole is too long.
  return `${prefix}${volumeId.slice(-(MAX_MAPPER_NAME - prefix.length))}`;
}

export function mapperPath(volumeId: string, instance = ''): string {
  return join('/dev/mapper', mapperName(volumeId, instance));
}

/** The device node of a mapping called `name`. */
export function mapperDevice(name: string): string {
  return join('/dev/mapper', name);
}
