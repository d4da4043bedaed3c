import { readFile } from 'node:fs/promises';
import { runTool } from './run.js';
import { changing, LISTING_TTL_MS, snapshotCache } from './snapshot-cache.js';

export interface MountEntry {
  readonly source: string;
  readonly target: string;
  readonly fsType: string;
  /** The filesystem's device number, e.g. "7:3" (a loop device) or "0:52" (btrfs, FUSE). */
  readonly majMin: string;
  /** The directory of that filesystem mounted here: "/" for a whole mount, "/_data" for a bind of it. */
  readonly root: string;
}

export async function mountDevice(
  device: string,
  target: string,
  fsType: string,
  options: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const args = ['-t', fsType];
  if (options.length > 0) args.push('-o', options.join(','));
  await runTool('mount', [...args, '--', device, target], { timeoutMs });
}

export async function unmount(target: string, timeoutMs: number): Promise<void> {
  await runTool('umount', ['--', target], { timeoutMs });
}

/** A directory of a mounted filesystem, mounted again at `target` (what a container's volume is, too). */
export async function bindMount(source: string, target: string, timeoutMs: number): Promise<void> {
  await runTool('mount', ['--bind', '--', source, target], { timeoutMs });
}

/** Lazy unmount: gone from the tree now; bind mounts made from it, and open files, keep working. */
export async function detachMount(target: string, timeoutMs: number): Promise<void> {
  await runTool('umount', ['--lazy', '--', target], { timeoutMs });
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    const [, , majMin, root, target] = left?.split(' ') ?? [];
    const [fsType, source] = right?.split(' ') ?? [];
    if (majMin === undefined || root === undefined || target === undefined || fsType === undefined || source === undefined) continue;
    entries.push({
      target: unescapeMountField(target),
      fsType,
      source: unescapeMountField(source),
      majMin,
      root: unescapeMountField(root),
    });
  }
  return entries;
}

export async function listMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The mount wrappers, the mount table shared for a moment and renewed by our own changes. */
export function mountTools(timeoutMs: number) {
  const mounts = snapshotCache(listMounts, LISTING_TTL_MS);
  return {
    mount: (device: string, target: string, fsType: string, options: readonly string[]) =>
      changing(mounts, () => mountDevice(device, target, fsType, options, timeoutMs)),
    unmount: (target: string) => changing(mounts, () => unmount(target, timeoutMs)),
    bindMount: (source: string, target: string) => changing(mounts, () => bindMount(source, target, timeoutMs)),
    detachMount: (target: string) => changing(mounts, () => detachMount(target, timeoutMs)),
    listMounts: () => mounts.get(),
    /** For mounts made by other tools (the GlusterFS client): the next listing is read afresh. */
    forgetMounts: () => mounts.invalidate(),
  };
}
