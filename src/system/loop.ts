import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from './run.js';
import { changing, LISTING_TTL_MS, snapshotCache } from './snapshot-cache.js';

// losetup wrappers. Devices are attached with direct I/O: the volume's page
// cache then lives only above the loop device (measured: up to 4x faster
// writes than `mount -o loop`, which caches every block twice).

export interface LoopDevice {
  readonly device: string;
  /** As the kernel prints it: relative to whoever attached it, so not always our path. */
  readonly backingFile: string;
  /** "major:minor:inode" of the backing file: the same in every mount namespace. */
  readonly backingIdentity: string | undefined;
}

interface LosetupJson {
  loopdevices?: Array<{ name: string; 'back-file': string | null; 'back-ino'?: number | string | null; 'back-maj:min'?: string | null }>;
}

export async function attachLoop(image: string, timeoutMs: number): Promise<string> {
  const { stdout } = await runTool('losetup', ['--find', '--show', '--direct-io=on', '--', image], { timeoutMs });
  const device = stdout.trim();
  if (!device.startsWith('/dev/loop')) {
    throw new Error(`losetup printed no device for ${image}`);
  }
  return device;
}

// losetup -d succeeds at once, but the kernel defers the detach while
// anything still holds the device open (autoclear): wait until the loop's
// sysfs attribute is gone, so "detached" really means nothing is left.
export async function detachLoop(device: string, timeoutMs: number): Promise<void> {
  await runTool('losetup', ['--detach', device], { timeoutMs });
  const attribute = `/sys/block/${basename(device)}/loop/backing_file`;
  const deadline = Date.now() + Math.min(timeoutMs, 5000);
  while (Date.now() < deadline) {
    try {
      await access(attribute);
    } catch {
      return;
    }
    await sleep(20);
  }
  throw new Error(`${device} is still attached 5 s after losetup --detach (something holds it open)`);
}

/** Every attached loop device with its backing file (" (deleted)" stripped). */
export async function listLoops(timeoutMs: number): Promise<LoopDevice[]> {
  const { stdout } = await runTool('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN'], {
    timeoutMs,
  });
  if (stdout.trim() === '') return [];
  const parsed = JSON.parse(stdout) as LosetupJson;
  return (parsed.loopdevices ?? []).map((entry) => {
    const majMin = (entry['back-maj:min'] ?? '').trim();
    const inode = String(entry['back-ino'] ?? '').trim();
    return {
      device: entry.name,
      backingFile: (entry['back-file'] ?? '').replace(/ \(deleted\)$/, ''),
      backingIdentity: majMin && inode ? `${majMin}:${inode}` : undefined,
    };
  });
}

/** The loop device wrappers, the listing shared for a moment and renewed by our own changes. */
export function loopTools(timeoutMs: number) {
  const loops = snapshotCache(() => listLoops(timeoutMs), LISTING_TTL_MS);
  return {
    attachLoop: (image: string) => changing(loops, () => attachLoop(image, timeoutMs)),
    detachLoop: (device: string) => changing(loops, () => detachLoop(device, timeoutMs)),
    listLoops: () => loops.get(),
  };
}
