import type { Readable, Writable } from 'node:stream';
import type { VolumeContext } from '../backings/backing.js';
import type { DataTransfer } from '../backings/data-transfer.js';
import type { StreamSeal } from '../api/export-format.js';
import type { VolumeRecord } from '../state/schema.js';
import { VolumeError } from './errors.js';
import { totalLeases } from './leases.js';
import type { RecordAccess, VolumeResolver } from './ports.js';
import type { ClaimLedger } from './claims.js';
import type { StateStore } from '../state/store.js';
import type { Logger } from '../log.js';
import { step } from './steps.js';

// export and import (/Custom.Export, /Custom.Import): a volume's files as a
// sealed tar, into or out of any type. Each holds the volume's lock for the
// whole stream (a Mount of it waits), and mounts the volume for the time
// being if nobody has.

export const PLAINTEXT_REFUSED =
  'is encrypted, and an export is its files in plain text (a tar any host can import, whatever its keys). Say so with --plaintext, and encrypt the stream for where it goes, e.g. custom-volume export --plaintext NAME - | age -r KEY > NAME.tar.age';

/** What export and import use of the service. */
export interface TransferPort extends VolumeResolver, RecordAccess {
  readonly state: Pick<StateStore, 'get'>;
  readonly claims: Pick<ClaimLedger, 'remeasure'>;
  readonly log: Logger;
}

export class TransferOperations {
  constructor(
    private readonly service: TransferPort,
    private readonly transfer: DataTransfer,
  ) {}

  /**
   * Streams the volume's files to the sink `open` returns (called once the
   * export can start, with the bytes it will roughly be).
   */
  async export(name: string, plaintext: boolean, open: (estimateBytes: number | undefined) => Writable): Promise<StreamSeal> {
    // Refused before anything is mounted or opened (a volume's type never changes).
    if (this.service.state.get(name)?.spec.type === 'encrypted' && !plaintext) {
      throw new VolumeError('PRECONDITION_FAILED', name, PLAINTEXT_REFUSED);
    }
    return this.withMounted(name, async (record, volume) => {
      const status = await this.service.backingOf(record).status(volume);
      const used = typeof status['usedBytes'] === 'number' ? status['usedBytes'] : undefined;
      const started = performance.now();
      const seal = await this.transfer.exportTo(volume.paths, open(used));
      this.service.log.info({ volume: name, bytes: seal.bytes, ms: Math.round(performance.now() - started) }, 'exported');
      return seal;
    });
  }

  /** Unpacks a sealed stream into the volume, which nothing may have mounted and whose files must be none yet. */
  async import(name: string, source: Readable): Promise<StreamSeal> {
    return this.withMounted(name, async (record, volume) => {
      const leases = totalLeases(record.leases);
      if (leases > 0) {
        throw new VolumeError(
          'VOLUME_IN_USE',
          name,
          `is mounted by ${leases} container${leases === 1 ? '' : 's'}; import while they run is refused (they would see files appear halfway). Stop them and import again`,
        );
      }
      const elsewhere = (await this.service.backingOf(record).usersElsewhere?.(volume)) ?? [];
      if (elsewhere.length > 0) {
        throw new VolumeError(
          'VOLUME_IN_USE',
          name,
          `is mounted on other hosts (${elsewhere.join(', ')}); stop the containers there first`,
        );
      }
      const started = performance.now();
      const seal = await step(name, 'could not be imported (the volume is as it was)', () =>
        this.transfer.importFrom(volume.paths, source),
      );
      await this.service.claims.remeasure(record);
      this.service.log.info({ volume: name, bytes: seal.bytes, ms: Math.round(performance.now() - started) }, 'imported');
      return seal;
    });
  }

  private async withMounted<T>(name: string, work: (record: VolumeRecord, volume: VolumeContext) => Promise<T>): Promise<T> {
    const missing =
      'no such volume on this host; create it first (docker volume create -d custom -o type=… -o size=… NAME), then import into it';
    return this.service.withRecord(
      name,
      async (record) => {
        const volume = this.service.context(record);
        const backing = this.service.backingOf(record);
        const wasActive = await backing.isActive(volume);
        if (!wasActive) await step(name, 'could not be mounted', () => backing.activate(volume));
        let result: T;
        try {
          result = await work(record, volume);
        } catch (error) {
          if (!wasActive) {
            await backing
              .deactivate(volume)
              .catch((cause: unknown) => this.service.log.error({ volume: name, err: cause }, 'could not unmount again'));
          }
          throw error;
        }
        if (!wasActive) await step(name, 'could not be unmounted again', () => backing.deactivate(volume));
        return result;
      },
      missing,
    );
  }
}
