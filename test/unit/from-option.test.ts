import test from 'ava';
import { cloneSpec, parseFrom } from '../../src/volumes/from.js';
import type { VolumeRecord } from '../../src/state/schema.js';

// -o from=SRC[@SNAP]: parsed and checked before anything is touched.

const record = (spec: VolumeRecord['spec']): VolumeRecord => ({ name: 'src', id: 'src-0123456789abcdef', spec, createdAt: '', leases: {} });
const defaults = { generatedKeySource: 'sealed' as const };

test('from names a volume, or a volume and its snapshot', (t) => {
  t.is(parseFrom('dst', { size: '1G' }), undefined);
  t.deepEqual(parseFrom('dst', { from: 'src' }), { source: 'src' });
  t.deepEqual(parseFrom('dst', { from: 'src@nightly-1' }), { source: 'src', snapshot: 'nightly-1' });
  t.deepEqual(parseFrom('dst', { from: 'a@b@snap' }), { source: 'a@b', snapshot: 'snap' });
});

test('from refuses itself, other options, bad names and bad snapshot names, naming the volume', (t) => {
  t.throws(() => parseFrom('dst', { from: 'dst' }), { message: /volume "dst": from= names the volume itself/ });
  t.throws(() => parseFrom('dst', { from: 'src', size: '1G', fs: 'xfs' }), {
    message: /volume "dst": with from=src .* -o size, -o fs cannot be given/,
  });
  t.throws(() => parseFrom('dst', { from: '' }), { message: /volume "dst": from="" does not name a volume/ });
  t.throws(() => parseFrom('dst', { from: 'src@../x' }), { message: /volume "dst": snapshot name "..\/x" is not valid/ });
  t.notThrows(() => parseFrom('dst', { from: 'src', protect: 'true', retain: 'true', type: 'plain' }));
});

test("a clone takes its source's spec, keeps keys the way this host does, and refuses what cannot be cloned", (t) => {
  const plain = record({ type: 'plain', sizeBytes: 1024 ** 3, fs: 'xfs', retain: true });
  t.deepEqual(cloneSpec('dst', { source: 'src' }, plain, { from: 'src' }, defaults), { type: 'plain', sizeBytes: 1024 ** 3, fs: 'xfs' });
  t.deepEqual(cloneSpec('dst', { source: 'src' }, plain, { from: 'src', retain: 'true' }, defaults), {
    type: 'plain',
    sizeBytes: 1024 ** 3,
    fs: 'xfs',
    retain: true,
  });
  const encrypted = record({
    type: 'encrypted',
    sizeBytes: 1024 ** 3,
    fs: 'ext4',
    cipher: 'aes-xts-plain64',
    keySizeBits: 512,
    keySource: 'generated',
  });
  t.like(cloneSpec('dst', { source: 'src' }, encrypted, null, defaults), { keySource: 'sealed' });
  t.throws(() => cloneSpec('dst', { source: 'src' }, undefined, null, defaults), {
    message: /volume "dst": from=src: no such volume on this host/,
  });
  t.throws(() => cloneSpec('dst', { source: 'src' }, plain, { from: 'src', type: 'compressed' }, defaults), {
    message: /volume "dst": type=compressed differs from src's type=plain/,
  });
  const replicated = record({ type: 'replicated', replicas: 3, arbiter: false, layout: 'pool' });
  t.throws(() => cloneSpec('dst', { source: 'src' }, replicated, null, defaults), {
    message: /volume "dst": from=src: a replicated volume cannot be cloned/,
  });
});
