import type { SystemTools } from '../system/index.js';

// cryptsetup reads at most 8 MiB of a key file.
const MAX_KEYFILE_BYTES = 8 * 1024 * 1024;

/** A user's key file must exist, be a regular file, not world-readable, 1 byte to 8 MiB. */
export async function checkKeyfile(tools: SystemTools, path: string): Promise<string | undefined> {
  const info = await tools.fileStat(path);
  if (!info) return `keyfile=${path}: no such file on the host`;
  if (!info.isFile) return `keyfile=${path}: not a regular file`;
  if ((info.mode & 0o004) !== 0) return `keyfile=${path}: is readable by everyone (mode ${info.mode.toString(8)}); chmod o-r it (0400 or 0600 is right)`;
  if (info.size === 0) return `keyfile=${path}: is empty`;
  if (info.size > MAX_KEYFILE_BYTES) return `keyfile=${path}: is larger than 8 MiB, the most cryptsetup reads`;
  return undefined;
}
