import { quoted } from '../lib/quoted.js';
import { z } from 'zod';
import { aboutVolume, endpoint, errReply, noFields, stringField } from './endpoint.js';

// Docker's volume plugin protocol (VolumeDriver, API v1.2), as dockerd 20.10
// sends it: no Content-Type, compact JSON and a newline. The daemon shows an
// Err to the user verbatim.

export const scope = z.enum(['local', 'global']);
export type Scope = z.infer<typeof scope>;

/** Driver options, `-o key=value`: every value a string. */
export type VolumeOptions = Record<string, string>;

/** What is wrong with Opts, or undefined (keys are taken as they came, "__proto__" too). */
function optionsProblem(opts: unknown): string | undefined {
  if (opts === null || opts === undefined) return undefined;
  if (typeof opts !== 'object' || Array.isArray(opts)) return 'Opts must be an object of strings';
  const bad = Object.entries(opts).find(([, value]) => typeof value !== 'string');
  return bad && `option ${quoted(bad[0])} must be a string`;
}

export const nameRequest = z.object({ Name: stringField('Name') }).transform(({ Name }) => ({ name: Name }));

// Opts is checked by hand: z.record would drop a "__proto__" key silently,
// where the spec must refuse it as an unknown option.
const createRequest = z
  .object({ Name: stringField('Name'), Opts: z.custom<VolumeOptions | null>().optional() })
  .superRefine(aboutVolume(({ Opts }) => optionsProblem(Opts)))
  .transform(({ Name, Opts }) => ({ name: Name, opts: Opts ?? null }));

const mountRequest = z
  .object({ Name: stringField('Name'), ID: stringField('ID') })
  .superRefine(aboutVolume(({ ID }) => (ID === '' || ID.length > 256 ? 'mount ID must be 1 to 256 characters' : undefined)))
  .transform(({ Name, ID }) => ({ name: Name, id: ID }));

/** A volume's Status: what `docker volume inspect` shows. */
export const volumeStatus = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

const mountpointReply = z.object({ Mountpoint: z.string(), Err: z.string() });

export const DOCKER = {
  activate: endpoint('Plugin.Activate', noFields, z.object({ Implements: z.array(z.string()) })),
  capabilities: endpoint('VolumeDriver.Capabilities', noFields, z.object({ Capabilities: z.object({ Scope: scope }) })),
  create: endpoint('VolumeDriver.Create', createRequest, errReply),
  remove: endpoint('VolumeDriver.Remove', nameRequest, errReply),
  mount: endpoint('VolumeDriver.Mount', mountRequest, mountpointReply),
  unmount: endpoint('VolumeDriver.Unmount', mountRequest, errReply),
  path: endpoint('VolumeDriver.Path', nameRequest, mountpointReply),
  get: endpoint(
    'VolumeDriver.Get',
    nameRequest,
    z.object({
      Volume: z.object({ Name: z.string(), Mountpoint: z.string(), CreatedAt: z.string(), Status: volumeStatus }),
      Err: z.string(),
    }),
  ),
  list: endpoint(
    'VolumeDriver.List',
    noFields,
    z.object({ Volumes: z.array(z.object({ Name: z.string(), Mountpoint: z.string() })), Err: z.string() }),
  ),
} as const;
