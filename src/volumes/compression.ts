import type { Compression, CompressionAlgorithm } from '../state/schema.js';

const LEVELS: Record<CompressionAlgorithm, { min: number; max: number } | undefined> = {
  zstd: { min: 1, max: 15 },
  zlib: { min: 1, max: 9 },
  lzo: undefined,
};

export const DEFAULT_COMPRESSION = 'zstd:1';

/** `zstd`, `zstd:3`, `lzo`, `zlib:9` → Compression; a problem in words otherwise. */
export function parseCompression(text: string, force: boolean): Compression | string {
  const [name, levelText, ...rest] = text.split(':');
  // Own properties only: "constructor" or "toString" must not pass as an algorithm.
  if (name === undefined || !Object.hasOwn(LEVELS, name) || rest.length > 0) {
    return 'use zstd, zstd:1..15, lzo, zlib or zlib:1..9';
  }
  const algorithm = name as CompressionAlgorithm;
  if (levelText === undefined) return { algorithm, force };
  const range = LEVELS[algorithm];
  if (!range) return `${algorithm} has no levels; use ${algorithm}`;
  const level = Number(levelText);
  if (!/^\d+$/.test(levelText) || level < range.min || level > range.max) {
    return `the ${algorithm} level must be ${range.min} to ${range.max}`;
  }
  return { algorithm, level, force };
}
