import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

// What a test may have left on the host, looked up with the real tools.

export async function loopsUnder(dir: string): Promise<string[]> {
  const { stdout } = await execa('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
  if (stdout.trim() === '') return [];
  const parsed = JSON.parse(stdout) as { loopdevices?: Array<{ name: string; 'back-file': string | null }> };
  return (parsed.loopdevices ?? [])
    .filter((loop) => (loop['back-file'] ?? '').startsWith(`${dir}/`))
    .map((loop) => `${loop.name} ${loop['back-file']}`);
}

export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((target) => target.startsWith(`${dir}/`));
}

/** What a plugin left on the host: mounts under `mountRoot`, loop devices on files under `loopRoot`. */
export async function leftOnHost(mountRoot: string, loopRoot = mountRoot): Promise<{ mounts: string[]; loops: string[] }> {
  return { mounts: await mountsUnder(mountRoot), loops: await loopsUnder(loopRoot) };
}

/** For waits on a release: no mount and no loop device left. */
export const nothingLeft = ({ mounts, loops }: { mounts: readonly string[]; loops: readonly string[] }): boolean =>
  mounts.length === 0 && loops.length === 0;

/** Unmounts and detaches everything under dir (test clean-up after a failure). */
export async function scrubHost(dir: string): Promise<void> {
  for (const target of (await mountsUnder(dir)).reverse()) {
    await execa('umount', ['-l', target], { reject: false });
  }
  for (const entry of await loopsUnder(dir)) {
    await execa('losetup', ['-d', entry.split(' ')[0]!], { reject: false });
  }
}

/**
 * What a data directory holds: volume directories, and the entries of its
 * .creating/ and .trash/ (which stay, empty, once used). [] means clean.
 */
export async function volumeFiles(dataDir: string): Promise<string[]> {
  const entries: string[] = [];
  for (const entry of await readdir(dataDir).catch(() => [] as string[])) {
    if (entry === '.creating' || entry === '.trash') {
      for (const inner of await readdir(join(dataDir, entry))) entries.push(`${entry}/${inner}`);
    } else if (entry !== '.retained') {
      entries.push(entry);
    }
  }
  return entries;
}
