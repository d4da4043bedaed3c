import test from 'ava';
import { formatSize, parseSize } from '../../src/volumes/size.js';

const parses = test.macro({
  exec(t, input: string, expected: number | undefined) {
    t.is(parseSize(input), expected);
  },
  title: (_, input: string) => `parseSize(${JSON.stringify(input)})`,
});

test(parses, '4096', 4096);
test(parses, '100k', 100 * 1024);
test(parses, '512M', 512 * 1024 ** 2);
test(parses, '2G', 2 * 1024 ** 3);
test(parses, '2g', 2 * 1024 ** 3);
test(parses, '2GiB', 2 * 1024 ** 3);
test(parses, '2GB', 2 * 1024 ** 3);
test(parses, '1.5T', 1.5 * 1024 ** 4);
test(parses, 'abc', undefined);
test(parses, '', undefined);
test(parses, '1X', undefined);
test(parses, '-1G', undefined);
test(parses, '1e9', undefined);

test('formatSize', (t) => {
  t.is(formatSize(0), '0 B');
  t.is(formatSize(1024 ** 3), '1 GiB');
  t.is(formatSize(1.5 * 1024 ** 3), '1.5 GiB');
  t.is(formatSize(28_672), '28 KiB');
});
