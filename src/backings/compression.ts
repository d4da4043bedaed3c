import type { Compression } from '../state/schema.js';
import type { CompressionUsage, SystemTools } from '../system/index.js';
import type { StatusValue } from './backing.js';

/** The btrfs mount option for a compression spec. */
export function compressionMountOption(compression: Compression): string {
  return `${compression.force ? 'compress-force' : 'compress'}=${describeCompression(compression)}`;
}

export function describeCompression(compression: Compression): string {
  return compression.level === undefined ? compression.algorithm : `${compression.algorithm}:${compression.level}`;
}

// compsize walks every file: instant on small volumes, seconds on huge ones.
// A measurement that came back fast is simply repeated on the next Get; one
// that was slow is served from cache (with its time) and refreshed behind.
const SLOW_MS = 200;
const LIMIT_MS = 1500;

interface Measurement {
  readonly usage: CompressionUsage;
  readonly at: string;
  readonly tookMs: number;
}

export class CompressionMeter {
  private readonly last = new Map<string, Measurement>();
  private readonly running = new Map<string, Promise<Measurement>>();

  constructor(private readonly tools: SystemTools) {}

  private measure(id: string, path: string): Promise<Measurement> {
    const running = this.running.get(id);
    if (running) return running;
    const started = performance.now();
    const next = this.tools
      .measureCompression(path, LIMIT_MS * 10)
      .then((usage) => {
        const measurement = { usage, at: new Date().toISOString(), tookMs: performance.now() - started };
        this.last.set(id, measurement);
        return measurement;
      })
      .finally(() => this.running.delete(id));
    this.running.set(id, next);
    return next;
  }

  async status(id: string, path: string | undefined): Promise<Record<string, StatusValue>> {
    const cached = this.last.get(id);
    let measurement = cached;
    if (path !== undefined && (!cached || cached.tookMs < SLOW_MS)) {
      measurement = await this.measure(id, path);
    } else if (path !== undefined) {
      void this.measure(id, path).catch(() => undefined);
    }
    if (!measurement) return {};
    const { logicalBytes, storedBytes } = measurement.usage;
    return {
      logicalBytes,
      storedBytes,
      compressionRatio: logicalBytes > 0 ? Math.round((storedBytes / logicalBytes) * 1000) / 1000 : null,
      compressionMeasuredAt: measurement.at,
    };
  }

  forget(id: string): void {
    this.last.delete(id);
  }
}
