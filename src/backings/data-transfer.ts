import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CommandError, type SystemTools } from '../system/index.js';
import { SealReader, Sealer, sealBlock, type StreamSeal } from '../api/export-format.js';
import type { VolumePaths } from './backing.js';

// A volume's files as a portable, sealed stream (export-format.ts), for
// every type alike: what containers see under the mounted volume's _data.
// An import unpacks into a staging directory beside _data, checks the seal,
// syncs, and only then renames the tree over the (empty) _data: a damaged,
// truncated or refused stream, or a client that goes away, leaves the volume
// as it was.

const STAGING_PREFIX = '.import-';

export class DataTransfer {
  constructor(private readonly tools: SystemTools) {}

  /** Writes the sealed stream of the mounted volume's files to `sink` and ends it. */
  async exportTo(paths: VolumePaths, sink: Writable): Promise<StreamSeal> {
    const tar = this.tools.packTree(paths.mountpoint);
    const sealer = new Sealer();
    try {
      await Promise.all([pipeline(tar.stdout!, sealer, sink, { end: false }), tar.done]);
    } catch (error) {
      tar.kill();
      throw error;
    }
    const seal = sealer.seal();
    await new Promise<void>((resolve, reject) => sink.end(sealBlock(seal), () => resolve()).once('error', reject));
    return seal;
  }

  /**
   * Unpacks the sealed stream `source` into the mounted volume, whose _data
   * must be empty. Resolves with the seal once the tree is in place.
   */
  async importFrom(paths: VolumePaths, source: Readable): Promise<StreamSeal> {
    const present = await this.tools.listDirectory(paths.mountpoint);
    if (present.length > 0) {
      throw new Error(
        `holds files (${present.length} entries at its top); import fills an empty volume only. Create a new volume (any type or size) and import into it, or empty this one first`,
      );
    }
    for (const entry of await this.tools.listDirectory(paths.mountRoot)) {
      if (entry.startsWith(STAGING_PREFIX)) await this.tools.removeTree(join(paths.mountRoot, entry)); // an import that died
    }
    const staging = join(paths.mountRoot, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
    await this.tools.makeNewDirectory(staging);
    try {
      const reader = new SealReader();
      const tar = this.tools.unpackTree(staging);
      const input = untilClosed(tar.stdin!);
      // The client may go away: tar is stopped then, not left waiting on its input.
      let clientError: unknown;
      const feeding = pipeline(source, reader, input).catch((error: unknown) => {
        clientError = error;
        tar.kill();
      });
      try {
        await tar.done;
      } catch (error) {
        if (clientError !== undefined) throw clientError;
        // tar's own reason (no space left, a refused member) is the answer at once; the rest of the stream is dropped.
        throw explainTar(error);
      }
      await feeding;
      if (clientError !== undefined) throw clientError;
      const problem = reader.verdict();
      if (problem) throw new Error(`${problem}; nothing was imported`);
      const seal = readSeal(reader);
      // Durable before it lands (tar does not fsync); then the commit: rename(2)
      // puts the tree in place of the empty _data in one step.
      await this.tools.syncFilesystem(staging);
      await this.tools.replaceEmptyDirectory(staging, paths.mountpoint);
      return seal;
    } catch (error) {
      await this.tools.removeTree(staging);
      throw error;
    }
  }
}

/**
 * Writes into `input` until its reader closes it, then drops the rest: tar
 * stops reading at its end-of-archive blocks and may exit before the last
 * padding arrives, while the seal must still see every byte. (tar's exit
 * status says whether it was content with what it read.)
 */
function untilClosed(input: NodeJS.WritableStream): Writable {
  let closed = false;
  let waiting: (() => void) | undefined;
  const close = () => {
    closed = true;
    waiting?.();
    waiting = undefined;
  };
  // A write into a pipe whose reader exited fails with EPIPE, or never calls back once the stream is destroyed.
  input.on('error', close);
  input.on('close', close);
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (closed) return done();
      waiting = () => done();
      input.write(chunk, () => {
        waiting = undefined;
        done();
      });
    },
    final(done) {
      if (closed) return done();
      waiting = () => done();
      input.end(() => {
        waiting = undefined;
        done();
      });
    },
  });
}

/** tar out of space says "Wrote only … bytes" or "No space left on device": that is the answer, in words. */
function explainTar(error: unknown): unknown {
  if (error instanceof CommandError && /Wrote only|No space left/.test(error.stderr)) {
    return new Error(
      'the files do not fit: no space left on device while unpacking. Create a larger volume (or grow this one with custom-volume resize) and import again',
      { cause: error },
    );
  }
  return error;
}

function readSeal(reader: SealReader): StreamSeal {
  const seal = reader.seal();
  if (!seal) throw new Error('the stream has no seal');
  return seal;
}
