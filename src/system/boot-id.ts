import { readFile } from 'node:fs/promises';

/** The kernel's boot ID: a lease recorded under another one is from before a reboot. */
export async function readBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}
