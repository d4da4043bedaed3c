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

const refusedName = test.macro({
  exec(t, name: string, ...fragments: string[]) {
    const error = t.throws(() => validateName(name), { instanceOf: VolumeError });
    t.is(error?.code, 'INVALID_NAME');
    const message = error?.message ?? '';
    for (const fragment of fragments) t.true(message.includes(fragment), `${message} lacks ${fragment}`);
    // Nothing raw: no control character, no lone surrogate, nothing a terminal or log would act on.
    t.false(/[\u0000-\u001f\u007f-\u009f]/u.test(message), `raw control character in ${JSON.stringify(message)}`);
    t.true((message as unknown as { isWellFormed(): boolean }).isWellFormed(), 'lone surrogate in the message');
  },
  title: (label = '') => `names are refused: ${label}`,
});

test('NUL', refusedName, 'a\u0000b', 'control character U+0000', '"a\\u0000b"', 'printable');
test('newline', refusedName, 'a\nb', 'control character U+000A', '"a\\nb"');
test('ESC', refusedName, 'x\u001b[2Jy', 'control character U+001B', '"x\\u001b[2Jy"');
test('DEL', refusedName, 'del\u007f', 'control character U+007F', '"del\\u007f"');
test('U+0085 (C1 next line)', refusedName, 'next\u0085line', 'control character U+0085', '"next\\u0085line"');
test('a lone high surrogate', refusedName, 'vol\ud800', 'not well-formed Unicode', 'lone UTF-16 surrogate', 'valid UTF-8', '"vol\\ud800"');
test('a lone low surrogate', refusedName, '\udc00vol', 'not well-formed Unicode', '"\\udc00vol"');
test(
  'a control character in a long name is shown escaped and cut to 40 characters',
  refusedName,
  `${'n'.repeat(39)}\u0000${'m'.repeat(100)}`,
  `"${'n'.repeat(39)}\\u0000…"`,
);

test('several malformed names map to the same id, so all of them are refused', (t) => {
  // UTF-8 has no form for a lone surrogate: Buffer encodes each as U+FFFD, so
  // distinct names would hash alike and share one volume's files.
  const high = 'data\ud800';
  const low = 'data\udc00';
  t.not(high, low);
  t.is(volumeId(high), volumeId(low));
  t.is(volumeId(high), volumeId('data\ufffd'));
  for (const name of [high, low]) {
    t.is(t.throws(() => validateName(name), { instanceOf: VolumeError })?.code, 'INVALID_NAME');
  }
  t.notThrows(() => validateName('data\ufffd'), 'the replacement character itself is ordinary text');
});

test('the 255-byte limit counts multibyte characters in UTF-8 bytes', (t) => {
  t.notThrows(() => validateName(`${'卷'.repeat(85)}`), '85 × 3 = 255 bytes');
  t.notThrows(() => validateName(`${'🐳'.repeat(63)}abc`), '63 × 4 + 3 = 255 bytes');
  const error = t.throws(() => validateName(`${'🐳'.repeat(63)}abcd`), { instanceOf: VolumeError });
  t.regex(error?.message ?? '', /256 bytes long; the limit is 255/);
  t.true(error?.message.includes(`"${'🐳'.repeat(40)}…"`), 'shown cut at 40 characters, never inside a surrogate pair');
});

test('ordinary odd names still pass', (t) => {
  for (const name of ['a b', 'tenant/vol', '../../etc', '__proto__', 'constructor', '🐳 data', 'ünïcødé-卷', '-rf', '.', 'x'.repeat(255)]) {
    t.notThrows(() => validateName(name), name);
  }
});
