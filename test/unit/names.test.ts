import test from 'ava';
import { validateName, volumeId } from '../../src/volumes/names.js';
import { VolumeError } from '../../src/volumes/errors.js';

const hostile = ['../../etc', 'a b', 'tenant/vol', '.', '..', 'ünïcødé-卷', '-rf', 'x'.repeat(255), '__proto__', 'a\nb', '\u0000'];

test('ids of hostile names are single safe path components', (t) => {
  for (const name of hostile) {
    const id = volumeId(name);
    t.regex(id, /^[A-Za-z0-9_-]{0,32}-[0-9a-f]{16}$/, name);
  }
});

test('ids are unique per name and stable', (t) => {
  const ids = new Set(hostile.map(volumeId));
  t.is(ids.size, hostile.length);
  t.is(volumeId('data'), volumeId('data'));
  t.not(volumeId('a/b'), volumeId('a_b'));
});

test('ids keep a readable slug', (t) => {
  t.true(volumeId('postgres-data').startsWith('postgres-data-'));
});

test('empty names are refused', (t) => {
  const error = t.throws(() => validateName(''), { instanceOf: VolumeError });
  t.is(error?.code, 'INVALID_NAME');
  t.regex(error?.message ?? '', /empty/);
});

test('names over 255 bytes are refused, counted in UTF-8 bytes', (t) => {
  t.notThrows(() => validateName('x'.repeat(255)));
  const error = t.throws(() => validateName('é'.repeat(128)), { instanceOf: VolumeError });
  t.regex(error?.message ?? '', /256 bytes long; the limit is 255/);
});
