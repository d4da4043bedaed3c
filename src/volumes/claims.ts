import type { Logger } from '../log.js';
import type { VolumeRecord } from '../state/schema.js';
import { eachLimited } from '../lib/each-limited.js';

const REFRESH_MS = 30_000;

/**
 * What each sparse image may still claim (its size minus what it has
 * allocated), kept between Creates: measuring a thousand images on every
 * Create would cost it tens of milliseconds. A cached figure errs on the safe
 * side: an image only fills up, so its claim only shrinks, and a Create
 * refuses sooner, never later. Stale figures are refreshed in the background.
 */
export class ClaimLedger {
  private readonly claims = new Map<string, number>();
  private refreshing: Promise<void> | undefined;
  private refreshedAt = 0;

  constructor(
    private readonly measure: (record: VolumeRecord) => Promise<number>,
    private readonly log: Logger,
  ) {}

  /** The claims of `records` together; any not measured yet are measured now. */
  async total(records: readonly VolumeRecord[]): Promise<number> {
    const missing = records.filter((record) => !this.claims.has(record.id));
    await this.measureAll(missing);
    if (missing.length === records.length) this.refreshedAt = Date.now();
    else if (Date.now() - this.refreshedAt > REFRESH_MS) this.refreshInBackground(records);
    return records.reduce((sum, record) => sum + (this.claims.get(record.id) ?? 0), 0);
  }

  async remeasure(record: VolumeRecord): Promise<void> {
    await this.measureAll([record]);
  }

  forget(id: string): void {
    this.claims.delete(id);
  }

  // A figure that cannot be had counts as the whole size: never promise space blindly.
  private async measureAll(records: readonly VolumeRecord[]): Promise<void> {
    await eachLimited(records, 16, async (record) => {
      const size = record.spec.type === 'replicated' ? 0 : record.spec.sizeBytes;
      this.claims.set(record.id, await this.measure(record).catch(() => size));
    });
  }

  private refreshInBackground(records: readonly VolumeRecord[]): void {
    if (this.refreshing) return;
    this.refreshedAt = Date.now();
    this.refreshing = this.measureAll(records)
      .catch((error: unknown) => this.log.warn({ err: error }, "could not refresh the images' claims"))
      .finally(() => (this.refreshing = undefined));
  }
}
