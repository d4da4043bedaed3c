import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

// Text-like data as volumes really hold: access logs and JSON records, with
// deterministic variety (a fixed LCG), so compression ratios are repeatable.
function* textLines(): Generator<string> {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const paths = ['/api/v1/items', '/api/v1/users', '/healthz', '/static/app.js', '/login'];
  for (let i = 0; ; i++) {
    const r = next();
    if (r % 3 === 0) {
      yield `{"id":${i},"user":"user-${r % 5000}","score":${(r % 10000) / 100},"tags":["a${r % 17}","b${r % 23}"],"active":${r % 2 === 0}}\n`;
    } else {
      yield `2026-11-23T12:${String(((i / 60) % 60) | 0).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z INFO ${paths[r % paths.length]}/${r % 997} status=${r % 7 === 0 ? 404 : 200} bytes=${r % 65536} duration_ms=${r % 313}\n`;
    }
  }
}

/** Writes `bytes` of text-like data to `path`. */
export async function writeTextCorpus(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    let written = 0;
    let batch: string[] = [];
    let batchBytes = 0;
    for (const line of textLines()) {
      batch.push(line);
      batchBytes += line.length;
      if (batchBytes >= 1 << 20 || written + batchBytes >= bytes) {
        const chunk = Buffer.from(batch.join('')).subarray(0, bytes - written);
        await handle.write(chunk);
        written += chunk.length;
        batch = [];
        batchBytes = 0;
        if (written >= bytes) break;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `bytes` of random (incompressible) data to `path`. */
export async function writeRandom(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let written = 0; written < bytes; written += 1 << 20) {
      await handle.write(randomBytes(Math.min(1 << 20, bytes - written)));
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
