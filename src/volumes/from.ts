import { quoted } from '../lib/quoted.js';
import type { VolumeRecord, VolumeSpec } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { checkSnapshotName, validateName } from './names.js';
import { ownValue } from '../lib/own-property.js';
import { parseBoolean, type SpecDefaults, type VolumeOptions } from './spec.js';

// `-o from=SRC[@SNAP]`: a new volume made as a copy of another (or of one of
// its snapshots). It takes the source's type, size and options; only what
// concerns the new volume's own life may be given beside it.

export interface CloneSource {
  readonly source: string;
  readonly snapshot?: string;
}

const WITH_FROM = ['from', 'type', 'protect', 'retain'];

/** The `from` option, checked; undefined when there is none. */
export function parseFrom(volume: string, options: VolumeOptions | null): CloneSource | undefined {
  const value = ownValue(options ?? {}, 'from');
  if (value === undefined) return undefined;
  const extra = Object.keys(options ?? {}).filter((key) => !WITH_FROM.includes(key));
  if (extra.length > 0) {
    throw new VolumeError(
      'INVALID_OPTION',
      volume,
      `with from=${value} the new volume takes the source's type, size and options, so ${extra.map((key) => `-o ${key}`).join(', ')} cannot be given; drop it (grow the copy afterwards with custom-volume resize)`,
    );
  }
  const at = value.lastIndexOf('@');
  const source = at < 0 ? value : value.slice(0, at);
  const snapshot = at < 0 ? undefined : value.slice(at + 1);
  if (source === volume) throw new VolumeError('INVALID_OPTION', volume, 'from= names the volume itself; name another volume to copy');
  try {
    validateName(source);
  } catch {
    throw new VolumeError(
      'INVALID_OPTION',
      volume,
      `from=${quoted(value)} does not name a volume; use from=SOURCE or from=SOURCE@SNAPSHOT`,
    );
  }
  if (snapshot !== undefined) checkSnapshotName(volume, snapshot);
  return { source, ...(snapshot === undefined ? {} : { snapshot }) };
}

/** The new volume's spec: the source's, with the key kept the way this host keeps new ones. */
export function cloneSpec(
  volume: string,
  from: CloneSource,
  source: VolumeRecord | undefined,
  options: VolumeOptions | null,
  defaults: SpecDefaults,
): VolumeSpec {
  if (!source) {
    throw new VolumeError(
      'VOLUME_NOT_FOUND',
      volume,
      `from=${from.source}: no such volume on this host (a clone is made from a volume this host has)`,
    );
  }
  const { spec } = source;
  if (spec.type === 'replicated') {
    throw new VolumeError(
      'PRECONDITION_FAILED',
      volume,
      `from=${from.source}: a replicated volume cannot be cloned (it has no image to copy); copy its files with custom-volume export ${from.source} - | custom-volume import ${volume} -`,
    );
  }
  const type = ownValue(options ?? {}, 'type');
  if (type !== undefined && type !== spec.type) {
    throw new VolumeError(
      'INVALID_OPTION',
      volume,
      `type=${type} differs from ${from.source}'s type=${spec.type}; a clone has its source's type (export and import copy files across types)`,
    );
  }
  const retain = ownValue(options ?? {}, 'retain');
  const { retain: _sourceRetain, ...rest } = spec;
  const own = retain !== undefined && parseBoolean(volume, 'retain', retain) ? { retain: true } : {};
  if (rest.type !== 'encrypted' || rest.keySource === 'keyfile') return { ...rest, ...own } as VolumeSpec;
  return { ...rest, ...own, keySource: defaults.generatedKeySource };
}
