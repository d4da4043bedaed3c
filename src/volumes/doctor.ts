import { join } from 'node:path';
import type { VolumeRecord, VolumeType } from '../state/schema.js';
import type { KeyStore } from '../keys/key-store.js';
import { kekFindings, type KekPlacement } from '../keys/custody.js';
import type { Backings, VolumeResolver } from './ports.js';
import type { ClaimLedger } from './claims.js';
import type { HostView } from './host.js';
import type { StuckVolumes } from './hung.js';
import type { KeyedMutex } from '../lib/keyed-mutex.js';
import type { PathRoots } from './paths.js';
import type { StateStore } from '../state/store.js';
import { formatSize } from './size.js';
import { parseVolumeSpec } from './spec.js';

/** What doctor reads of the service. */
export interface DoctorPort extends Pick<VolumeResolver, 'context'> {
  readonly state: Pick<StateStore, 'all'>;
  readonly host: Pick<HostView, 'bootId' | 'inventory' | 'freeBytes'>;
  readonly backings: Backings;
  readonly roots: Pick<PathRoots, 'dataDir'>;
  readonly policy: { readonly overcommit: number };
  readonly locks: Pick<KeyedMutex, 'isLocked'>;
  readonly stuck: Pick<StuckVolumes, 'all'>;
  readonly claims: Pick<ClaimLedger, 'total'>;
}

/** For each volume type: "available", or "unavailable: <why>". Logged at start-up. */
export async function checkHost(backings: Backings): Promise<Record<VolumeType, string>> {
  const result = {} as Record<VolumeType, string>;
  for (const type of Object.keys(backings) as VolumeType[]) {
    try {
      const problem = await backings[type].preflight(parseVolumeSpec('doctor', { type }));
      result[type] = problem ? `unavailable: ${problem}` : 'available';
    } catch (error) {
      result[type] = `unavailable: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return result;
}

/** Generated keys not sealed under the current KEK (reseal fixes them), or that open with no KEK at hand. */
async function keyFindings(records: readonly VolumeRecord[], keys: KeyStore): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const record of records) {
    if (record.spec.type !== 'encrypted' || record.spec.keyfile) continue;
    const sealing = await keys.sealing(record.id);
    if (sealing === 'unreadable') {
      findings.push({
        severity: 'problem',
        volume: record.name,
        what: 'its stored key cannot be read or opened with the configured KEK',
        fix: 'restore the key file, or configure the KEK it was sealed with (CUSTOM_KEK_FILE, or CUSTOM_KEK_PREVIOUS_FILE while rotating)',
      });
    } else if (sealing === 'previous') {
      findings.push({
        severity: 'warning',
        volume: record.name,
        what: 'its key is sealed with the previous KEK (CUSTOM_KEK_PREVIOUS_FILE)',
        fix: 'run custom-volume reseal, then drop CUSTOM_KEK_PREVIOUS_FILE',
      });
    } else if (sealing === 'unsealed' && keys.source === 'sealed') {
      findings.push({
        severity: 'warning',
        volume: record.name,
        what: 'its key is stored unsealed although a KEK is configured (made before the KEK was)',
        fix: 'run custom-volume reseal',
      });
    }
  }
  return findings;
}

export interface Finding {
  /** 'problem': something is wrong (doctor exits non-zero); 'warning': worth knowing. */
  readonly severity: 'problem' | 'warning';
  readonly volume?: string;
  readonly what: string;
  readonly fix: string;
}

export interface Diagnosis {
  readonly types: Record<VolumeType, string>;
  readonly volumes: number;
  readonly dataDir: string;
  readonly freeBytes: number;
  /** What sparse images may still claim of the data directory's filesystem. */
  readonly unclaimedBytes: number;
  readonly findings: readonly Finding[];
}

/**
 * The host against the plugin's state: types it cannot serve, devices and
 * mounts nothing accounts for, state and disk that disagree, leases from an
 * earlier boot, frozen filesystems, overcommit. Reads only; changes nothing.
 */
export async function diagnose(service: DoctorPort, keys?: KeyStore, custody?: KekPlacement): Promise<Diagnosis> {
  const { state, host, backings, roots, policy } = service;
  const records = state.all();
  const types = await checkHost(backings);
  const inventory = await host.inventory();
  const findings: Finding[] = [];
  const byId = new Map(records.map((record) => [record.id, record]));
  // A volume whose lock is held is at work (a create, a grow, a snapshot): its state is not a finding.
  const busy = (id: string) => service.locks.isLocked(id);

  for (const record of records.filter((r) => !busy(r.id))) {
    const type = types[record.spec.type];
    if (type !== 'available') {
      findings.push({
        severity: 'problem',
        volume: record.name,
        what: `is type=${record.spec.type}, which this host cannot serve now: ${type}`,
        fix: 'fix the host (see the reason), or move the volume to a host that can serve it (custom-volume export/import)',
      });
    }
    if (record.spec.type !== 'replicated' && !inventory.dirs.includes(record.id)) {
      findings.push({
        severity: 'problem',
        volume: record.name,
        what: `is recorded, but its storage directory ${service.context(record).paths.dir} is missing`,
        fix: `restore the directory from a backup, or drop the record: docker volume rm ${record.name}`,
      });
    }
    for (const [id, lease] of Object.entries(record.leases)) {
      if (lease.boot !== '' && lease.boot !== host.bootId) {
        findings.push({
          severity: 'problem',
          volume: record.name,
          what: `holds lease ${id} from an earlier boot (${lease.since})`,
          fix: 'restart the plugin: its start-up check releases leases no container backs',
        });
      }
    }
  }
  // Only directories with an image: a replicated volume's local directory may outlive its removal on another host.
  for (const id of inventory.imageDirs) {
    if (!byId.has(id) && !busy(id)) {
      findings.push({
        severity: 'problem',
        what: `the directory ${join(roots.dataDir, id)} belongs to no volume in the state`,
        fix: 'restart the plugin to adopt it (it rebuilds records from volume.json), or move it away if it is not a volume',
      });
    }
  }
  const mounted = new Set(inventory.mounts.map((mount) => mount.id));
  for (const mount of inventory.mounts) {
    if (!byId.has(mount.id)) {
      findings.push({
        severity: 'problem',
        what: `${mount.target} is mounted but belongs to no volume the plugin knows`,
        fix: `umount ${mount.target}, once you know nothing uses it`,
      });
    }
  }
  for (const loop of inventory.loops) {
    if (loop.id !== undefined && busy(loop.id)) continue;
    const record = loop.id === undefined ? undefined : byId.get(loop.id);
    const held = loop.mappings.length > 0 ? ` (holding mapping ${loop.mappings.join(', ')})` : '';
    if (!record) {
      findings.push({
        severity: 'problem',
        what: `loop device ${loop.device} is attached to ${loop.backingFile}, which is no volume's image${held}`,
        fix: `${loop.mappings.map((m) => `cryptsetup close ${m}; `).join('')}losetup -d ${loop.device}`,
      });
    } else if (!mounted.has(record.id)) {
      findings.push({
        severity: 'problem',
        volume: record.name,
        what: `loop device ${loop.device} is attached to its image, but nothing has the volume mounted${held}`,
        fix: `${loop.mappings.map((m) => `cryptsetup close ${m}; `).join('')}losetup -d ${loop.device} (the plugin's periodic check also releases it)`,
      });
    }
  }
  // A marker under a held lock is a snapshot or clone at work.
  for (const id of inventory.frozen.filter((frozen) => !service.locks.isLocked(frozen))) {
    findings.push({
      severity: 'problem',
      volume: byId.get(id)?.name ?? id,
      what: 'its filesystem was frozen for a snapshot that never finished: writes to it block',
      fix: 'restart the plugin (it thaws it at start), or fsfreeze --unfreeze on its mount',
    });
  }
  for (const stuck of service.stuck.all()) {
    findings.push({
      severity: 'problem',
      volume: stuck.name,
      what: `is busy: ${stuck.detail} (since ${stuck.since}); its requests are refused until that process ends`,
      fix: 'bring back the storage it waits on (a FUSE server, GlusterFS bricks, a network mount), or reboot; the plugin checks the volume again once the process ends',
    });
  }
  for (const [type, backing] of Object.entries(backings)) {
    for (const leftover of (await backing.leftovers?.().catch(() => [])) ?? []) {
      findings.push({ severity: leftover.severity, what: `${type}: ${leftover.what}`, fix: leftover.fix });
    }
  }
  if (keys)
    findings.push(
      ...(await keyFindings(
        records.filter((r) => !busy(r.id)),
        keys,
      )),
    );
  if (custody) findings.push(...(await kekFindings(custody)));
  const freeBytes = await host.freeBytes();
  const unclaimedBytes = await service.claims.total(records.filter((record) => record.spec.type !== 'replicated'));
  if (unclaimedBytes > freeBytes) {
    findings.push({
      severity: unclaimedBytes > freeBytes * policy.overcommit ? 'problem' : 'warning',
      what: `sparse images may still claim ${formatSize(unclaimedBytes)}, and ${formatSize(freeBytes)} is free in ${roots.dataDir}: if they fill up, writes in every volume fail`,
      fix: 'free space on that filesystem, or create volumes with -o sparse=false (preallocated)',
    });
  }
  return { types, volumes: records.length, dataDir: roots.dataDir, freeBytes, unclaimedBytes, findings };
}
