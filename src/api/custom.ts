import { z } from 'zod';
import { aboutVolume, endpoint, errReply, flagField, noFields, stringField } from './endpoint.js';
import { nameRequest } from './docker.js';
import { diagnosis, resealReport, snapshotInfo, volumeDetail, volumeRow } from './reports.js';

// The plugin's own endpoints (/Custom.*), for the operator CLI: what Docker's
// VolumeDriver API has no call for. Same socket, same {"Err"} convention.

const optionalSnapshot = <T extends { Snapshot?: string | undefined }>({ Snapshot }: T) =>
  Snapshot === undefined ? {} : { snapshot: Snapshot };

/** {"Name", "Protect": true|false}; Protect is checked after Name, and its Err names the volume. */
const protectRequest = z
  .object({ Name: stringField('Name'), Protect: z.custom<boolean>().optional() })
  .superRefine(aboutVolume(({ Protect }) => (typeof Protect === 'boolean' ? undefined : 'Protect must be true or false')))
  .transform(({ Name, Protect }) => ({ name: Name, protect: Protect === true }));

/** {"Name", "Size": "20G"}. */
const resizeRequest = z
  .object({ Name: stringField('Name'), Size: stringField('Size') })
  .transform(({ Name, Size }) => ({ name: Name, size: Size }));

/** {"Name", "Snapshot"?}: the Snapshot is checked first. */
const snapshotRequest = z
  .object({ Snapshot: stringField('Snapshot').optional(), Name: stringField('Name') })
  .transform((body) => ({ name: body.Name, ...optionalSnapshot(body) }));

/** {"Name", "Snapshot"}: Restore and SnapshotRemove name one. */
const namedSnapshotRequest = z
  .object({ Name: stringField('Name'), Snapshot: stringField('Snapshot') })
  .transform(({ Name, Snapshot }) => ({ name: Name, snapshot: Snapshot }));

/** {"Name": source, "Target", "Snapshot"?, "Protect"?, "Progress"?}: the flags are checked first. */
const cloneRequest = z
  .object({
    Protect: flagField('Protect'),
    Progress: flagField('Progress'),
    Snapshot: stringField('Snapshot').optional(),
    Name: stringField('Name'),
    Target: stringField('Target'),
  })
  .transform((body) => ({
    name: body.Name,
    target: body.Target,
    protect: body.Protect,
    progress: body.Progress,
    ...optionalSnapshot(body),
  }));

/** {"Name", "Plaintext"?}: the flag is checked first. */
const exportRequest = z
  .object({ Plaintext: flagField('Plaintext'), Name: stringField('Name') })
  .transform(({ Name, Plaintext }) => ({ name: Name, plaintext: Plaintext }));

const reply = <Shape extends z.ZodRawShape>(shape: Shape) => z.object({ ...shape, Err: z.string() });

export const CUSTOM = {
  list: endpoint('Custom.List', noFields, reply({ Volumes: z.array(volumeRow) })),
  inspect: endpoint('Custom.Inspect', nameRequest, reply({ Volume: volumeDetail })),
  /** Changed: false when it was so already. */
  protect: endpoint('Custom.Protect', protectRequest, reply({ Changed: z.boolean() })),
  resize: endpoint('Custom.Resize', resizeRequest, reply({ FromBytes: z.number().nullable(), ToBytes: z.number(), Changed: z.boolean() })),
  rekey: endpoint('Custom.Rekey', nameRequest, errReply),
  /** The Err names the keys that failed; the report comes all the same. */
  reseal: endpoint('Custom.Reseal', noFields, reply({ Reseal: resealReport })),
  doctor: endpoint('Custom.Doctor', noFields, reply({ Doctor: diagnosis })),
  snapshot: endpoint('Custom.Snapshot', snapshotRequest, reply({ Snapshot: snapshotInfo })),
  snapshots: endpoint('Custom.Snapshots', nameRequest, reply({ Snapshots: z.array(snapshotInfo) })),
  restore: endpoint('Custom.Restore', namedSnapshotRequest, reply({ SizeBytes: z.number() })),
  snapshotRemove: endpoint('Custom.SnapshotRemove', namedSnapshotRequest, errReply),
  /**
   * The same as a Create with -o from=NAME[@SNAPSHOT]. With "Progress": true
   * the answer is NDJSON: progress lines (cloneProgress), then this reply.
   */
  clone: endpoint('Custom.Clone', cloneRequest, errReply),
  /** The answer is the sealed tar itself (EXPORT_TYPE); an error before it starts is the usual {"Err"}. */
  export: endpoint('Custom.Export', exportRequest, errReply),
  /** The body is the sealed tar; the volume is named in the query (importPath). */
  import: endpoint('Custom.Import', nameRequest, reply({ Bytes: z.number(), Sha256: z.string() })),
} as const;
