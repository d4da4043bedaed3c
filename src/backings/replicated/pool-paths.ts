import { join } from 'node:path';
import { META_FILE } from '../../state/layout.js';
import { parseVolumeMeta, type MetaRead } from '../../state/volume-meta.js';
import type { SystemTools } from '../../system/index.js';

// Everything inside a pool volume was written by some peer. Before the plugin
// lists, reads or deletes there, each directory on the way must be a real
// directory (lstat: a symlink is never followed), each file is read without
// following a symlink or blocking on a FIFO, with a byte cap and a deadline,
// and only real directories are ever deleted. A `.trash -> /` planted in the
// pool must not make every host's sweep empty its own root.

/** `pool/a/b/…`, but only if every component after the pool root is a real directory; else undefined. */
/** One path component, never a way out: not empty, not . or .., no slash. */
function isPlainPart(part: string): boolean {
  return part !== '' && part !== '.' && part !== '..' && !part.includes('/');
}

export async function realDirectory(tools: SystemTools, pool: string, ...parts: string[]): Promise<string | undefined> {
  let path = pool;
  for (const part of parts) {
    if (!isPlainPart(part)) return undefined;
    path = join(path, part);
    if ((await tools.pathKind(path)) !== 'directory') return undefined;
  }
  return path;
}

/** The entries of a real directory of the pool ([] when it is missing or not a real directory). */
export async function listReal(tools: SystemTools, pool: string, ...parts: string[]): Promise<string[]> {
  const dir = await realDirectory(tools, pool, ...parts);
  return dir === undefined ? [] : tools.listDirectory(dir);
}

/** Deletes `pool/…/entry` if it is a real directory (whatever is inside: rm never follows a link); a symlink or file is only unlinked. */
export async function removeEntry(tools: SystemTools, pool: string, ...parts: string[]): Promise<void> {
  const entry = parts.at(-1);
  const parent = await realDirectory(tools, pool, ...parts.slice(0, -1));
  if (parent === undefined || entry === undefined || !isPlainPart(entry)) return;
  const path = join(parent, entry);
  const kind = await tools.pathKind(path);
  if (kind === 'missing') return;
  // fs.rm does not follow symbolic links, at the top or inside: a link is removed, never its target.
  await tools.removeTree(path);
}

/** A small file of the pool, read the safe way; undefined when it is missing or refused. */
export async function readPoolFile(tools: SystemTools, path: string): Promise<string | undefined> {
  try {
    return (await tools.readKeyFile(path)).toString('utf8');
  } catch {
    return undefined;
  }
}

/** volume.json of a pool volume's directory. */
export async function readPoolMeta(tools: SystemTools, dir: string): Promise<MetaRead> {
  const text = await readPoolFile(tools, join(dir, META_FILE));
  return text === undefined
    ? { problem: `${META_FILE} missing or refused (not a plain root-owned file)`, missing: true }
    : parseVolumeMeta(text);
}
