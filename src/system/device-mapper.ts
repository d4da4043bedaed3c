import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runTool } from './run.js';

export interface Availability {
  readonly available: boolean;
  /** Why not, in words a user can act on. */
  readonly reason?: string;
}

async function cryptTargetLoaded(timeoutMs: number): Promise<boolean> {
  const { stdout } = await runTool('dmsetup', ['targets'], { timeoutMs });
  return stdout.split('\n').some((line) => line.trim().startsWith('crypt '));
}

// Can this host open LUKS volumes? `dmsetup targets` needs the device-mapper
// control node; the crypt target appears once dm_crypt is loaded (or built in).
export async function probeDmCrypt(timeoutMs: number): Promise<Availability> {
  try {
    if (await cryptTargetLoaded(timeoutMs)) return { available: true };
  } catch (error) {
    await runTool('modprobe', ['dm_mod'], { timeoutMs }).catch(() => undefined);
    try {
      if (await cryptTargetLoaded(timeoutMs)) return { available: true };
    } catch {
      const detail = error instanceof Error ? error.message : String(error);
      return { available: false, reason: `the kernel has no device-mapper (${detail})` };
    }
  }
  await runTool('modprobe', ['dm_crypt'], { timeoutMs }).catch(() => undefined);
  try {
    if (await cryptTargetLoaded(timeoutMs)) return { available: true };
  } catch {
    // fall through
  }
  return { available: false, reason: 'the kernel has device-mapper but no crypt target (dm_crypt could not be loaded)' };
}

// Device-mapper mappings as sysfs shows them: no process, nothing to hang.
// /sys/block/dm-N/dm/{name,uuid}, /sys/block/dm-N/slaves/<dev>, and
// /sys/block/<dev>/holders/dm-N for the mappings that sit on a device.

export interface Mapping {
  /** The name under /dev/mapper. */
  readonly name: string;
  /** The dm uuid; cryptsetup's LUKS mappings: CRYPT-LUKS2-<LUKS UUID without dashes>-<name at open>. */
  readonly uuid: string;
  /** Kernel names of the devices it sits on (e.g. loop3). */
  readonly backingDevices: readonly string[];
}

/** The LUKS UUID (32 hex digits, lower case, no dashes) in a dm-crypt mapping's dm uuid. */
export function luksUuidOfMapping(dmUuid: string): string | undefined {
  const match = /^CRYPT-LUKS[12]-([0-9a-fA-F]{32})-./.exec(dmUuid);
  return match?.[1]?.toLowerCase();
}

/** A LUKS header's UUID in the form luksUuidOfMapping returns. */
export function compactUuid(uuid: string): string {
  return uuid.replace(/-/g, '').toLowerCase();
}

/** dm-N entries of a holders/ directory listing (other holders, e.g. md, are not mappings). */
export function mappingDevices(entries: readonly string[]): string[] {
  return entries.filter((entry) => /^dm-\d+$/.test(entry)).sort();
}

async function readAttribute(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function listEntries(path: string): Promise<string[]> {
  return readdir(path).catch(() => [] as string[]);
}

async function mappingAt(sysRoot: string, dm: string): Promise<Mapping | undefined> {
  const name = await readAttribute(join(sysRoot, 'block', dm, 'dm', 'name'));
  if (name === undefined) return undefined;
  const uuid = (await readAttribute(join(sysRoot, 'block', dm, 'dm', 'uuid'))) ?? '';
  const backingDevices = (await listEntries(join(sysRoot, 'block', dm, 'slaves'))).sort();
  return { name, uuid, backingDevices };
}

/** The active mapping called `name`, if any. */
export async function mappingNamed(name: string, sysRoot = '/sys'): Promise<Mapping | undefined> {
  for (const dm of mappingDevices(await listEntries(join(sysRoot, 'block')))) {
    const mapping = await mappingAt(sysRoot, dm);
    if (mapping?.name === name) return mapping;
  }
  return undefined;
}

/** The mappings that sit on `device` (/dev/loop3 or loop3), whatever their names. */
export async function mappingsOn(device: string, sysRoot = '/sys'): Promise<Mapping[]> {
  const holders = mappingDevices(await listEntries(join(sysRoot, 'block', basename(device), 'holders')));
  const mappings = await Promise.all(holders.map((dm) => mappingAt(sysRoot, dm)));
  return mappings.filter((mapping): mapping is Mapping => mapping !== undefined);
}

export function mapperTools(timeoutMs: number) {
  return {
    mappingNamed: (name: string) => mappingNamed(name),
    mappingsOn: (device: string) => mappingsOn(device),
    probeDmCrypt: () => probeDmCrypt(timeoutMs),
  };
}
