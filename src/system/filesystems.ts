import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Availability } from './device-mapper.js';
import type { FilesystemType } from './mkfs.js';
import { runTool } from './run.js';

async function kernelHas(fs: string): Promise<boolean> {
  const text = await readFile('/proc/filesystems', 'utf8');
  return text.split('\n').some((line) => line.trim().split(/\s+/).pop() === fs);
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      await access(`${dir}/${command}`, constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Can this host format and mount `fs`? The kernel module is loaded if need be. */
export async function probeFilesystem(fs: FilesystemType, timeoutMs: number): Promise<Availability> {
  if (!(await onPath(`mkfs.${fs}`))) return { available: false, reason: `mkfs.${fs} is not installed` };
  if (await kernelHas(fs)) return { available: true };
  await runTool('modprobe', [fs], { timeoutMs }).catch(() => undefined);
  if (await kernelHas(fs)) return { available: true };
  return { available: false, reason: `the kernel does not support ${fs}` };
}
