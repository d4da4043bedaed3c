import { SingleBar } from 'cli-progress';

// A progress bar on stderr for long transfers, only when a person watches
// (stderr is a terminal) and the output is not for a script.

export interface Progress {
  add(bytes: number): void;
  stop(): void;
}

const NONE: Progress = { add: () => undefined, stop: () => undefined };

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

export function startProgress(label: string, totalBytes: number | undefined, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return NONE;
  const known = totalBytes !== undefined && totalBytes > 0;
  const bar = new SingleBar({
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    format: (options, params) => {
      const done = mib(params.value);
      if (!known) return `${label} ${done}`;
      const width = options.barsize ?? 30;
      const filled = Math.round(Math.min(1, params.progress) * width);
      return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done} of ~${mib(params.total)}`;
    },
  });
  let value = 0;
  bar.start(known ? totalBytes : 1, 0);
  return {
    add(bytes) {
      value += bytes;
      // An estimate may be passed: the bar grows with it rather than overflowing.
      if (known && value > bar.getTotal()) bar.setTotal(value);
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}
