import test from 'ava';
import { parseVolumeSpec } from '../../src/volumes/spec.js';
import { VolumeError } from '../../src/volumes/errors.js';

test('no options (Opts: null) gives a 10 GiB ext4 plain volume', (t) => {
  t.deepEqual(parseVolumeSpec('v', null), { type: 'plain', fs: 'ext4', sizeBytes: 10 * 1024 ** 3 });
});

test('size and fs are parsed', (t) => {
  t.deepEqual(parseVolumeSpec('v', { size: '2G', fs: 'xfs', type: 'plain' }), {
    type: 'plain',
    fs: 'xfs',
    sizeBytes: 2 * 1024 ** 3,
  });
});

test('sizes are rounded up to whole MiB', (t) => {
  t.is(parseVolumeSpec('v', { size: '20000001' }).sizeBytes, 20 * 1024 ** 2);
});

const rejects = test.macro((t, opts: Record<string, string>, ...fragments: string[]) => {
  const error = t.throws(() => parseVolumeSpec('data', opts), { instanceOf: VolumeError });
  t.is(error?.code, 'INVALID_OPTION');
  t.true(error?.message.startsWith('volume "data": '), error?.message);
  for (const fragment of fragments) t.true(error?.message.includes(fragment), `${error?.message} lacks ${fragment}`);
});

test('size=abc', rejects, { size: 'abc' }, 'size="abc" is not a size', 'k, M, G or T');
test('size=0', rejects, { size: '0' }, 'too small', 'minimum is 16 MiB');
test('size=-1G', rejects, { size: '-1G' }, 'not a size');
test('size below xfs minimum', rejects, { size: '100M', fs: 'xfs' }, 'too small for fs=xfs', '300 MiB');
test('size above maximum', rejects, { size: '100T' }, 'larger than the maximum');
test('fs=ntfs', rejects, { fs: 'ntfs' }, 'fs="ntfs" is not supported', 'ext4, xfs');
test('type=unknown', rejects, { type: 'unknown' }, 'type="unknown" is not supported', 'plain');
test('unknown keys are listed with the valid ones', rejects, { colour: 'red', sise: '1G' }, '"colour", "sise"', 'valid options are: type, size, fs');
