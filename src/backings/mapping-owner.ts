import { basename } from 'node:path';
import type { Mapping } from '../system/device-mapper.js';
import { compactUuid, luksUuidOfMapping } from '../system/device-mapper.js';

// "A /dev/mapper node of our name exists" does not make it ours: another
// plugin instance, an admin or a stale open may hold that name on another
// device. A mapping is this volume's when it sits on the volume's loop device
// and was opened from the volume's LUKS header (its dm uuid carries the
// header's UUID). Such a mapping is reused under whatever name it has (a
// release that changed the naming keeps mounted volumes mounted); any other
// mapping is neither reused nor closed.

export interface MappingTools {
  luksUUID(device: string): Promise<string>;
  mappingNamed(name: string): Promise<Mapping | undefined>;
  mappingsOn(device: string): Promise<Mapping[]>;
}

export function isMappingOf(mapping: Mapping, headerUuid: string): boolean {
  return luksUuidOfMapping(mapping.uuid) === compactUuid(headerUuid);
}

function foreignHolder(device: string, mapping: Mapping): Error {
  return new Error(
    `${device} (this volume's loop device) is held by the device-mapper mapping ${mapping.name}, which was not opened from this volume's LUKS header; the plugin will not use or close it. Find out who made it (dmsetup info ${mapping.name}) and remove it`,
  );
}

function nameTaken(name: string, mapping: Mapping): Error {
  const where = mapping.backingDevices.length > 0 ? mapping.backingDevices.join(', ') : 'no device';
  return new Error(
    `a device-mapper mapping named ${name} already exists on ${where}, not on this volume's loop device; it is not this volume's, so the plugin neither uses nor closes it. If it is left over, close it (cryptsetup close ${name}) and try again`,
  );
}

/**
 * The name of this volume's mapping already open on `device`, or undefined
 * when there is none and `name` is free to open. Throws when a foreign
 * mapping holds the device or the name.
 */
export async function ownOpenMapping(tools: MappingTools, device: string, name: string): Promise<string | undefined> {
  const holders = await tools.mappingsOn(device);
  const named = await tools.mappingNamed(name);
  if (holders.length === 0 && named === undefined) return undefined;
  const uuid = holders.length > 0 ? await tools.luksUUID(device) : '';
  const foreign = holders.find((holder) => !isMappingOf(holder, uuid));
  if (foreign) throw foreignHolder(device, foreign);
  if (holders[0]) return holders[0].name;
  throw nameTaken(name, named!);
}

/** Is `mapping` still the one we opened on `device`? */
export function sitsOn(mapping: Mapping, device: string): boolean {
  return mapping.backingDevices.includes(basename(device));
}

/** Names of this volume's mappings on `devices` (the image's loop devices); foreign ones are left out. */
export async function ownMappingsOn(tools: MappingTools, devices: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  for (const device of devices) {
    const holders = await tools.mappingsOn(device);
    if (holders.length === 0) continue;
    const uuid = await tools.luksUUID(device);
    names.push(...holders.filter((holder) => isMappingOf(holder, uuid)).map((holder) => holder.name));
  }
  return names;
}
