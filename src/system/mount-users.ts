import { readFile, readdir, readlink } from 'node:fs/promises';
import { parseMountInfo, type MountEntry } from './mount.js';

// Who really uses a volume: every container that has it holds a bind mount of
// the volume's data directory (mountinfo root "/_data") in its own mount
// namespace. The plugin's own mount, and its propagated copy on the host, are
// whole-filesystem mounts (root "/") and are not users. A managed plugin sees
// the host's processes only with "pidhost" in its config.json.

export interface BindMount extends MountEntry {
  /** A process in the mount namespace that holds it. */
  readonly pid: number;
}

export interface BindMountScan {
  readonly mounts: readonly BindMount[];
  readonly namespaces: number;
}

async function namespaceOf(pid: string): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined; // not allowed to look (a managed plugin without CAP_SYS_PTRACE)
  }
}

// Without the namespace link, the first mount ID of its mountinfo names the
// namespace as well: IDs are unique on the host, and each namespace's list
// starts with its own root mount.
function firstMountId(text: string): string {
  return `mountinfo:${text.slice(0, text.indexOf(' '))}`;
}

/** Every mount whose root is not "/" (a bind of a directory), once per mount namespace on the host. */
export async function scanBindMounts(proc = '/proc'): Promise<BindMountScan> {
  const seen = new Set<string>();
  const mounts: BindMount[] = [];
  for (const pid of await readdir(proc)) {
    if (!/^\d+$/.test(pid)) continue;
    const ns = proc === '/proc' ? await namespaceOf(pid) : undefined;
    if (ns !== undefined && seen.has(ns)) continue;
    let text: string;
    try {
      text = await readFile(`${proc}/${pid}/mountinfo`, 'utf8');
    } catch {
      continue; // the process exited meanwhile
    }
    const key = ns ?? firstMountId(text);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const entry of parseMountInfo(text)) {
      if (entry.root !== '/') mounts.push({ ...entry, pid: Number(pid) });
    }
  }
  return { mounts, namespaces: seen.size };
}
