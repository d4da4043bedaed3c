import type { KeySealing, KeyStore } from '../keys/key-store.js';
import type { KeyedMutex } from '../lib/keyed-mutex.js';
import type { StateStore } from '../state/store.js';
import type { Logger } from '../log.js';

// reseal (/Custom.Reseal): every generated key sealed under the current KEK.
// The rotation: start the plugin with CUSTOM_KEK_FILE set to the new KEK and
// CUSTOM_KEK_PREVIOUS_FILE to the old one (keys open with either), reseal,
// then drop CUSTOM_KEK_PREVIOUS_FILE: the old KEK is no longer needed.

export interface ResealReport {
  /** Volumes whose key was resealed, by how it was kept before. */
  readonly resealed: Readonly<Record<'previous' | 'unsealed', string[]>>;
  readonly current: number;
  readonly failed: ReadonlyArray<{ readonly volume: string; readonly problem: string }>;
}

/** What reseal uses of the service. */
export interface ResealPort {
  readonly state: Pick<StateStore, 'all' | 'get'>;
  readonly locks: Pick<KeyedMutex, 'run'>;
  readonly log: Logger;
}

export const NO_KEK =
  'reseal needs a key-encryption key: set CUSTOM_KEK_FILE to the new KEK (and CUSTOM_KEK_PREVIOUS_FILE to the old one, if keys are sealed already), restart the plugin, then reseal';

export async function resealAll(service: ResealPort, keys: KeyStore): Promise<ResealReport> {
  const report = {
    resealed: { previous: [] as string[], unsealed: [] as string[] },
    current: 0,
    failed: [] as Array<{ volume: string; problem: string }>,
  };
  for (const record of service.state.all()) {
    if (record.spec.type !== 'encrypted' || record.spec.keyfile) continue;
    // Under the volume's lock: a create, rekey or remove of it is not halfway through its key.
    await service.locks.run(record.id, async () => {
      if (!service.state.get(record.name)) return;
      let before: KeySealing;
      try {
        before = await keys.reseal(record.id);
      } catch (error) {
        report.failed.push({ volume: record.name, problem: error instanceof Error ? error.message : String(error) });
        return;
      }
      if (before === 'current') report.current += 1;
      else if (before === 'previous' || before === 'unsealed') report.resealed[before].push(record.name);
    });
  }
  service.log.info(
    { resealed: report.resealed.previous.length + report.resealed.unsealed.length, current: report.current, failed: report.failed.length },
    'resealed keys',
  );
  return report;
}
