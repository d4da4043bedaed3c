import test from 'ava';
import { quoted } from '../../../src/lib/quoted.js';

test('a printable string reads as JSON.stringify writes it', (t) => {
  for (const text of ['vol', 'a "b" c', 'back\\slash', 'ünïcødé-卷', 'tab\there', '']) t.is(quoted(text), JSON.stringify(text));
});

test('controls and invisible characters are escaped, not printed', (t) => {
  t.is(quoted('del\u007f'), '"del\\u007f"');
  t.is(quoted('next\u0085line'), '"next\\u0085line"');
  t.is(quoted('evil\u202etxt'), '"evil\\u202etxt"');
  t.is(quoted('line\u2028sep'), '"line\\u2028sep"');
});

test('a format character above U+FFFF is escaped whole, as its surrogate pair', (t) => {
  t.is(quoted('a\u{E0041}b'), '"a\\udb40\\udc41b"');
});
