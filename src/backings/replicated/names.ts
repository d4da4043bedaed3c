import type { ReplicatedSpec, VolumeRecord } from '../../state/schema.js';

// What the plugin calls things in GlusterFS. Every name is ours by pattern, so
// nothing of anyone else's is ever listed, swept or deleted.

/** A GlusterFS volume of one Docker volume (the layout before the pool): cv_<volume id>. */
const LEGACY_PREFIX = 'cv_';
/** User options on a legacy GlusterFS volume that carry its Docker record. */
export const META = 'user.custom-volume.';

export function glusterName(volumeId: string): string {
  return `${LEGACY_PREFIX}${volumeId}`;
}

/** The volume id of a legacy GlusterFS volume's name, or undefined when the name is not one. */
export function legacyVolumeId(glusterVolume: string): string | undefined {
  const id = glusterVolume.slice(LEGACY_PREFIX.length);
  return glusterVolume.startsWith(LEGACY_PREFIX) && VOLUME_ID.test(id) ? id : undefined;
}

/** volumeId(): a slug of at most 32 characters, a dash, 16 hex digits. */
const VOLUME_ID = /^[A-Za-z0-9_-]{1,32}-[0-9a-f]{16}$/;

/** A legacy volume's brick directory: <id> on a peer, <id>-b1…3 on a single host. */
export function isLegacyBrickName(entry: string): boolean {
  return VOLUME_ID.test(entry.replace(/-b[1-3]$/, ''));
}

/** The pool-wide GlusterFS volumes: one per replica layout, <pool name> and <pool name>_arbiter. */
export type PoolKind = 'replica' | 'arbiter';
export const POOL_KINDS: readonly PoolKind[] = ['replica', 'arbiter'];

export function poolVolumeName(base: string, kind: PoolKind): string {
  return kind === 'arbiter' ? `${base}_arbiter` : base;
}

export function poolKind(spec: ReplicatedSpec): PoolKind {
  return spec.arbiter ? 'arbiter' : 'replica';
}

export const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
export const decode = (text: string): string => Buffer.from(text, 'base64url').toString('utf8');

/** The record's replicated spec; any other type reaching a replicated backing is a wiring error. */
export function replicatedSpec(record: VolumeRecord): ReplicatedSpec {
  if (record.spec.type !== 'replicated') throw new Error(`volume ${record.name} is not replicated`);
  return record.spec;
}
