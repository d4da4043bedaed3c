import test from 'ava';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SealReader, Sealer, readSealBlock, sealBlock, TRAILER_BYTES } from '../../src/api/export-format.js';

// The export stream's seal: the tar's sha256 and length in one 512-byte block after it.

async function read(stream: Buffer, chunk = 1000): Promise<{ passed: Buffer; reader: SealReader }> {
  const parts: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunk) parts.push(stream.subarray(i, i + chunk));
  const reader = new SealReader();
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(parts),
    reader,
    new Writable({
      write(c: Buffer, _e, done) {
        out.push(c);
        done();
      },
    }),
  );
  return { passed: Buffer.concat(out), reader };
}

const tar = Buffer.alloc(10240 * 3, 0x61);
const sealed = Buffer.concat([tar, sealBlock({ sha256: createHash('sha256').update(tar).digest('hex'), bytes: tar.length })]);

test('a whole stream passes on its tar only, and its seal holds, whatever the chunking', async (t) => {
  for (const chunk of [1, 511, 512, 513, 4096, 1_000_000]) {
    const { passed, reader } = await read(sealed, chunk);
    t.true(passed.equals(tar), `chunk ${chunk}`);
    t.is(reader.verdict(), undefined);
    t.deepEqual(reader.seal(), { sha256: createHash('sha256').update(tar).digest('hex'), bytes: tar.length });
  }
});

test('a damaged, truncated, unsealed or empty stream is named for what it is', async (t) => {
  const damaged = Buffer.from(sealed);
  damaged[100] = 0x62;
  t.regex((await read(damaged)).reader.verdict() ?? '', /does not match its sha256/);
  t.regex((await read(sealed.subarray(0, sealed.length - 1024))).reader.verdict() ?? '', /does not end with a custom-volume export seal/);
  t.regex(
    (await read(Buffer.concat([tar.subarray(512), sealed.subarray(tar.length)]))).reader.verdict() ?? '',
    /holds 30208 bytes of tar where its seal says 30720/,
  );
  t.regex((await read(tar)).reader.verdict() ?? '', /does not end with a custom-volume export seal/);
  t.regex((await read(Buffer.alloc(0))).reader.verdict() ?? '', /does not end with a custom-volume export seal/);
});

test('the seal block is 512 bytes of text, and only well-formed blocks are read', (t) => {
  const block = sealBlock({ sha256: 'a'.repeat(64), bytes: 42 });
  t.is(block.length, TRAILER_BYTES);
  t.deepEqual(readSealBlock(block), { sha256: 'a'.repeat(64), bytes: 42 });
  t.is(readSealBlock(Buffer.alloc(512)), undefined);
  t.is(readSealBlock(block.subarray(0, 511)), undefined);
  const forged = Buffer.from(block);
  forged.write('custom-volume-export 2', 0);
  t.is(readSealBlock(forged), undefined);
});

test('the sealer passes every byte on and seals what passed', async (t) => {
  const sealer = new Sealer();
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([tar.subarray(0, 7), tar.subarray(7)]),
    sealer,
    new Writable({
      write(c: Buffer, _e, done) {
        out.push(c);
        done();
      },
    }),
  );
  t.true(Buffer.concat(out).equals(tar));
  t.deepEqual(sealer.seal(), { sha256: createHash('sha256').update(tar).digest('hex'), bytes: tar.length });
});
