import test from 'ava';
import { parseBooleanWord } from '../../../src/lib/boolean.js';
import { loadConfig } from '../../../src/config.js';

test('yes words in any case are true, no words false', (t) => {
  for (const word of ['true', 'yes', '1', 'on', 'TRUE', 'Yes', 'ON']) t.true(parseBooleanWord(word), word);
  for (const word of ['false', 'no', '0', 'off', 'FALSE', 'No', 'Off']) t.false(parseBooleanWord(word), word);
});

test('any other word is no boolean', (t) => {
  for (const word of ['', 'maybe', '2', 'y', ' true', 'constructor']) t.is(parseBooleanWord(word), undefined, word);
});

test('the environment reads the same words as the options, and names the setting it refuses', (t) => {
  t.true(loadConfig({ CUSTOM_GLUSTER_TLS: 'on' }).gluster.tls);
  t.false(loadConfig({ CUSTOM_GLUSTER_TLS: '' }).gluster.tls);
  t.false(loadConfig({ CUSTOM_GLUSTER_TLS: 'no' }).gluster.tls);
  t.throws(() => loadConfig({ CUSTOM_GLUSTER_TLS: 'maybe' }), { message: /^CUSTOM_GLUSTER_TLS="maybe" must be 1 or 0/ });
});
