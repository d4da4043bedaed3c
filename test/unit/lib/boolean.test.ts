import test from 'ava';
import { parseBooleanWord } from '../../../src/lib/boolean.js';

test('yes words in any case are true, no words false', (t) => {
  for (const word of ['true', 'yes', '1', 'on', 'TRUE', 'Yes', 'ON']) t.true(parseBooleanWord(word), word);
  for (const word of ['false', 'no', '0', 'off', 'FALSE', 'No', 'Off']) t.false(parseBooleanWord(word), word);
});

test('any other word is no boolean', (t) => {
  for (const word of ['', 'maybe', '2', 'y', ' true', 'constructor']) t.is(parseBooleanWord(word), undefined, word);
});
