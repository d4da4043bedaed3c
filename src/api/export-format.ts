import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

// The export stream, shared by the plugin and the CLI: a GNU tar of the
// volume's files, then one 512-byte block that says what came before it:
//
//   custom-volume-export 1\nsha256 <64 hex>\nbytes <n>\n  (NUL-padded)
//
// tar stops at its end-of-archive blocks, so the file is still a tar that
// `tar -x` reads as it is; an import checks the block before anything lands.

export const TRAILER_BYTES = 512;
const MAGIC = 'custom-volume-export 1\n';

export interface StreamSeal {
  readonly sha256: string;
  readonly bytes: number;
}

export function sealBlock(seal: StreamSeal): Buffer {
  const block = Buffer.alloc(TRAILER_BYTES);
  block.write(`${MAGIC}sha256 ${seal.sha256}\nbytes ${seal.bytes}\n`, 'utf8');
  return block;
}

/** The seal in a trailer block, or undefined when the block is not one. */
export function readSealBlock(block: Buffer): StreamSeal | undefined {
  if (block.length !== TRAILER_BYTES) return undefined;
  const text = block.toString('utf8').replace(/\0+$/, '');
  const match = /^custom-volume-export 1\nsha256 ([0-9a-f]{64})\nbytes (\d{1,16})\n$/.exec(text);
  return match ? { sha256: match[1]!, bytes: Number(match[2]) } : undefined;
}

/** Passes bytes on, hashing and counting them; `seal()` once they ended. */
export class Sealer extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    done(null, chunk);
  }

  seal(): StreamSeal {
    return { sha256: this.hash.digest('hex'), bytes: this.count };
  }
}

/**
 * Reads a sealed stream: passes on all but its last 512 bytes (the tar),
 * hashing them; at the end `verdict()` says whether the seal matches, or why
 * not. `keepSeal`: passes the seal block on too (a copy of the whole stream).
 */
export class SealReader extends Transform {
  constructor(private readonly keepSeal = false) {
    super();
  }

  private readonly hash = createHash('sha256');
  private count = 0;
  private tail = Buffer.alloc(0);
  private digest: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const joined = Buffer.concat([this.tail, chunk]);
    const cut = Math.max(0, joined.length - TRAILER_BYTES);
    this.tail = joined.subarray(cut);
    if (cut === 0) return done();
    const passed = joined.subarray(0, cut);
    this.hash.update(passed);
    this.count += passed.length;
    done(null, passed);
  }

  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    done(null, this.keepSeal && this.tail.length > 0 ? this.tail : undefined);
  }

  /** The seal the stream ended with, once it ended (check verdict() first). */
  seal(): StreamSeal | undefined {
    return this.digest === undefined ? undefined : readSealBlock(this.tail);
  }

  /** undefined when the stream is whole; else what is wrong with it, in words. */
  verdict(): string | undefined {
    if (this.digest === undefined) return 'the stream ended early';
    const seal = readSealBlock(this.tail);
    if (!seal) return 'the stream does not end with a custom-volume export seal (truncated, or not made by custom-volume export)';
    if (seal.bytes !== this.count)
      return `the stream holds ${this.count} bytes of tar where its seal says ${seal.bytes} (truncated or damaged)`;
    if (seal.sha256 !== this.digest) return 'the stream does not match its sha256 (damaged in transit or on disk)';
    return undefined;
  }
}
