import { readFile } from 'node:fs/promises';
import { runTool } from './run.js';

export interface MountEntry {
  readonly source: string;
  readonly target: string;
  readonly fsType: string;
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

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    const target = left?.split(' ')[4];
    const [fsType, source] = right?.split(' ') ?? [];
    if (target === undefined || fsType === undefined || source === undefined) continue;
    entries.push({
      target: unescapeMountField(target),
      fsType,
      source: unescapeMountField(source),
    });
  }
  return entries;
}

export async function listMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}
