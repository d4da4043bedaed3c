import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import type { VolumeRecord } from '../state/schema.js';
import type { KeyStore, KeySealing } from './key-store.js';

/** Where the KEK lives against what it seals: `doctor` and the start-up log say it. */
export interface KekPlacement {
  /** CUSTOM_KEK_FILE and CUSTOM_KEK_PREVIOUS_FILE, as configured. */
  readonly kekFile?: string | undefined;
  readonly kekPreviousFile?: string | undefined;
  /** The plugin's state (state.json, images) and its key store. */
  readonly stateDir: string;
  readonly keyDir: string;
}

export interface CustodyFinding {
  readonly severity: 'problem' | 'warning';
  readonly what: string;
  readonly fix: string;
}

function inside(parent: string, path: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The path with its symbolic links resolved (as far as it exists). */
async function resolved(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}

async function deviceOf(path: string): Promise<number | undefined> {
  return stat(path).then(
    (info) => info.dev,
    () => undefined,
  );
}

const APART =
  'keep the KEK on another filesystem than the key store, one that is not in the same backup: a USB key, a tmpfs filled at boot, a secrets mount (managed plugin: docker plugin set custom kek.source=/etc/custom-volume, see the README, "Key custody")';

/**
 * A KEK beside what it seals protects nothing against a stolen disk or
 * backup: inside the plugin's state directory it is a problem (it is in
 * every backup of the state); on the key store's filesystem, a warning
 * (a stolen disk holds both). Compared by device number, so two bind mounts
 * of one host filesystem (the managed plugin's state and kek mounts) count
 * as the same filesystem.
 */
export async function kekFindings(placement: KekPlacement): Promise<CustodyFinding[]> {
  const findings: CustodyFinding[] = [];
  // The key store's directory appears with the first generated key: until then, the state's filesystem is where it will be.
  const keyDevice = (await deviceOf(placement.keyDir)) ?? (await deviceOf(placement.stateDir));
  for (const [setting, file] of [
    ['CUSTOM_KEK_FILE', placement.kekFile],
    ['CUSTOM_KEK_PREVIOUS_FILE', placement.kekPreviousFile],
  ] as const) {
    if (!file) continue;
    const [real, state, keys] = await Promise.all([resolved(file), resolved(placement.stateDir), resolved(placement.keyDir)]);
    if (inside(state, real) || inside(keys, real)) {
      findings.push({
        severity: 'problem',
        what: `${setting} lies inside the plugin's state directory, with the keys it seals`,
        fix: APART,
      });
    } else if (keyDevice !== undefined && (await deviceOf(file)) === keyDevice) {
      findings.push({
        severity: 'warning',
        what: `${setting} is on the same filesystem as the key store (${placement.keyDir})`,
        fix: APART,
      });
    }
  }
  return findings;
}

/** How many generated keys are kept which way, for the start-up log: counts only, never a key. */
export async function sealingCounts(records: readonly VolumeRecord[], keys: KeyStore): Promise<Record<KeySealing | 'keyfile', number>> {
  const counts: Record<KeySealing | 'keyfile', number> = { current: 0, previous: 0, unsealed: 0, unreadable: 0, keyfile: 0 };
  for (const record of records) {
    if (record.spec.type !== 'encrypted') continue;
    if (record.spec.keyfile) counts.keyfile += 1;
    else counts[await keys.sealing(record.id)] += 1;
  }
  return counts;
}
