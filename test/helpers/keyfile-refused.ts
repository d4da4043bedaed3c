import test from 'ava';
import { KeyFileRefused, readKeyFile, type KeyFileRefusal } from '../../src/system/keyfile-read.js';
import { checkKeyfile, loadKeyfile } from '../../src/backings/keyfile.js';

// The check every refused key file must pass, shared by the root-free tests
// (test/unit/keyfile) and those that give a file away with chown
// (test/system/keyfile): refused at once, for the reason given, alike by all
// three readers, and no message names the file or its directory.

/** The macro: `make` gives a key file (in `keyDir()`) that must be refused for `reason`; each fragment is in the problem. */
export function refusedKeyFile(keyDir: () => string) {
  return test.macro({
    async exec(t, make: () => Promise<string>, reason: KeyFileRefusal, ...fragments: string[]) {
      const path = await make();
      const started = Date.now();
      const error = await t.throwsAsync(readKeyFile(path), { instanceOf: KeyFileRefused });
      t.true(Date.now() - started < 1500, 'refused at once, without waiting on the file');
      t.is(error?.reason, reason);
      const problem = await checkKeyfile(readKeyFile, path);
      const thrown = await t.throwsAsync(loadKeyfile(readKeyFile, path));
      for (const text of [problem ?? '', thrown?.message ?? '', error?.message ?? '']) {
        t.false(text.includes(path), `the path is echoed: ${text}`);
        t.false(text.includes(keyDir()), `the directory is echoed: ${text}`);
      }
      t.true(problem?.startsWith('keyfile: '), String(problem));
      t.is(thrown?.message, String(problem));
      for (const fragment of fragments) t.true(problem?.includes(fragment), `${problem} lacks ${fragment}`);
    },
    title: (label = '') => `key files are refused: ${label}`,
  });
}
