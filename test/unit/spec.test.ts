import test from 'ava';
import { parseVolumeSpec } from '../../src/volumes/spec.js';
import { VolumeError } from '../../src/volumes/errors.js';

test('type=encrypted defaults to aes-xts-plain64 with a 512-bit generated key', (t) => {
  t.deepEqual(parseVolumeSpec('v', { type: 'encrypted', size: '1G' }), {
    type: 'encrypted',
    fs: 'ext4',
    sizeBytes: 1024 ** 3,
    cipher: 'aes-xts-plain64',
    keySizeBits: 512,
    keySource: 'generated',
  });
});

test('with a host KEK, generated keys are sealed', (t) => {
  const spec = parseVolumeSpec('v', { type: 'encrypted' }, { generatedKeySource: 'sealed' });
  t.like(spec, { keySource: 'sealed' });
});

test('keyfile, cipher and retain are parsed', (t) => {
  t.deepEqual(
    parseVolumeSpec('v', {
      type: 'encrypted',
      keyfile: '/etc/keys/v.key',
      cipher: 'serpent-xts-plain64',
      retain: 'true',
      fs: 'xfs',
      size: '1G',
    }),
    {
      type: 'encrypted',
      fs: 'xfs',
      sizeBytes: 1024 ** 3,
      cipher: 'serpent-xts-plain64',
      keySizeBits: 512,
      keySource: 'keyfile',
      keyfile: '/etc/keys/v.key',
      retain: true,
    },
  );
  t.like(parseVolumeSpec('v', { retain: 'no' }), { type: 'plain' });
  t.false('retain' in parseVolumeSpec('v', { retain: 'false' }));
});

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
  t.like(parseVolumeSpec('v', { size: '20000001' }), { sizeBytes: 20 * 1024 ** 2 });
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
test(
  'unknown keys are listed with the valid ones',
  rejects,
  { colour: 'red', sise: '1G' },
  '"colour", "sise"',
  'valid options for type=plain are: type, size, fs, fstype, retain, uid, gid, mode, protect, sparse',
);

test(
  'passphrase is refused with the reason and the alternatives, value not echoed',
  rejects,
  { type: 'encrypted', passphrase: 'hunter2' },
  'option "passphrase" is refused',
  'plain text',
  'docker volume inspect',
  '-o keyfile=',
);
test('password is refused even on a plain volume', rejects, { password: 'x' }, 'option "password" is refused');
test('cipher on a plain volume', rejects, { cipher: 'aes-xts-plain64' }, 'option "cipher" applies only to type=encrypted');
test('unknown cipher', rejects, { type: 'encrypted', cipher: 'rot13' }, 'cipher="rot13" is not supported', 'aes-xts-plain64');
test('relative keyfile', rejects, { type: 'encrypted', keyfile: 'keys/v' }, 'must be an absolute path');
test('keyfile with ..', rejects, { type: 'encrypted', keyfile: '/etc/../root/k' }, 'without ".."');
test('retain=maybe', rejects, { retain: 'maybe' }, 'retain="maybe" is not a boolean');
test(
  'encrypted size must leave room for the LUKS header',
  rejects,
  { type: 'encrypted', size: '20M' },
  'too small for fs=ext4 with encryption',
  '32 MiB',
);
test('refused secrets are never echoed', (t) => {
  const error = t.throws(() => parseVolumeSpec('data', { type: 'encrypted', key: 'TOPSECRET' }));
  t.false(error?.message.includes('TOPSECRET'));
});

test('type=compressed defaults to btrfs with zstd level 1', (t) => {
  t.deepEqual(parseVolumeSpec('v', { type: 'compressed', size: '1G' }), {
    type: 'compressed',
    fs: 'btrfs',
    sizeBytes: 1024 ** 3,
    compression: { algorithm: 'zstd', level: 1, force: false },
  });
});

test('compression levels and compress-force are parsed', (t) => {
  t.like(parseVolumeSpec('v', { type: 'compressed', compression: 'zstd:15', 'compress-force': 'true' }), {
    compression: { algorithm: 'zstd', level: 15, force: true },
  });
  t.like(parseVolumeSpec('v', { type: 'compressed', compression: 'lzo' }), { compression: { algorithm: 'lzo', force: false } });
  t.like(parseVolumeSpec('v', { type: 'compressed', compression: 'zlib:9' }), { compression: { algorithm: 'zlib', level: 9 } });
});

test('encrypted with compression stacks LUKS under btrfs compression', (t) => {
  t.like(parseVolumeSpec('v', { type: 'encrypted', compression: 'zstd:3' }), {
    type: 'encrypted',
    fs: 'btrfs',
    cipher: 'aes-xts-plain64',
    compression: { algorithm: 'zstd', level: 3, force: false },
  });
});

test('fs=btrfs works on a plain volume', (t) => {
  t.like(parseVolumeSpec('v', { fs: 'btrfs', size: '1G' }), { type: 'plain', fs: 'btrfs' });
});

test('zstd:16', rejects, { type: 'compressed', compression: 'zstd:16' }, 'compression="zstd:16" is not supported', 'level must be 1 to 15');
test('lzo:3', rejects, { type: 'compressed', compression: 'lzo:3' }, 'lzo has no levels');
test('zlib:10', rejects, { type: 'compressed', compression: 'zlib:10' }, 'level must be 1 to 9');
test('brotli', rejects, { type: 'compressed', compression: 'brotli' }, 'use zstd, zstd:1..15, lzo, zlib or zlib:1..9');
test(
  'compression on a plain volume',
  rejects,
  { compression: 'zstd' },
  'option "compression" applies only to type=encrypted or type=compressed',
);
test('compressed on ext4', rejects, { type: 'compressed', fs: 'ext4' }, 'compression needs fs=btrfs', 'not fs=ext4');
test('encrypted + compression on xfs', rejects, { type: 'encrypted', fs: 'xfs', compression: 'zstd' }, 'compression needs fs=btrfs');
test(
  'compress-force without compression',
  rejects,
  { type: 'encrypted', 'compress-force': 'true' },
  'compress-force applies only together with compression',
);
test(
  'encrypt=true points to type=encrypted',
  rejects,
  { type: 'compressed', encrypt: 'true' },
  'unknown option "encrypt": encryption is chosen with -o type=encrypted',
);
test(
  'cipher on a compressed volume',
  rejects,
  { type: 'compressed', cipher: 'aes-xts-plain64' },
  'option "cipher" applies only to type=encrypted',
);
test('btrfs below its minimum', rejects, { type: 'compressed', size: '100M' }, 'too small for fs=btrfs', '128 MiB');

// Keys and values are user input: nothing may be found on Object.prototype.
test(
  'compression=constructor',
  rejects,
  { type: 'compressed', compression: 'constructor' },
  'compression="constructor" is not supported',
  'use zstd, zstd:1..15, lzo, zlib or zlib:1..9',
);
test(
  'compression=toString:7',
  rejects,
  { type: 'compressed', compression: 'toString:7' },
  'compression="toString:7" is not supported',
  'use zstd',
);
test('compression=__proto__', rejects, { type: 'encrypted', compression: '__proto__' }, 'compression="__proto__" is not supported');
test('compression=hasOwnProperty:1', rejects, { type: 'compressed', compression: 'hasOwnProperty:1' }, 'is not supported', 'use zstd');
test(
  'cipher=constructor',
  rejects,
  { type: 'encrypted', cipher: 'constructor' },
  'cipher="constructor" is not supported',
  'use one of: aes-xts-plain64',
);
test('cipher=__proto__', rejects, { type: 'encrypted', cipher: '__proto__' }, 'cipher="__proto__" is not supported', 'aes-xts-plain64');
test('cipher=toString', rejects, { type: 'encrypted', cipher: 'toString' }, 'cipher="toString" is not supported');
test(
  'type=constructor',
  rejects,
  { type: 'constructor' },
  'type="constructor" is not supported',
  'plain, encrypted, compressed, replicated',
);
test('type=__proto__', rejects, { type: '__proto__' }, 'type="__proto__" is not supported');
test('fs=toString', rejects, { fs: 'toString' }, 'fs="toString" is not supported', 'ext4, xfs, btrfs');
test('replicas=constructor', rejects, { type: 'replicated', replicas: 'constructor' }, 'replicas="constructor" is not supported', '2, 3');
test(
  'option key constructor',
  rejects,
  { constructor: 'x' },
  'unknown option "constructor"',
  'valid options for type=plain are: type, size, fs, fstype, retain, uid, gid, mode, protect, sparse',
);
test(
  'option key hasOwnProperty',
  rejects,
  { type: 'encrypted', hasOwnProperty: 'x' },
  'unknown option "hasOwnProperty"',
  'valid options for type=encrypted are:',
);
test(
  'option key toString',
  rejects,
  { type: 'compressed', toString: 'x' },
  'unknown option "toString"',
  'valid options for type=compressed are:',
);
test(
  'option key __proto__, as the wire decoder builds it',
  rejects,
  JSON.parse('{"__proto__":"x","size":"1G"}') as Record<string, string>,
  'unknown option "__proto__"',
  'valid options for type=plain are:',
);
test('option key __proto__ holding a type', rejects, Object.fromEntries([['__proto__', 'encrypted']]), 'unknown option "__proto__"');

test('inherited properties are not options', (t) => {
  const inherited = Object.create({ type: 'encrypted', keyfile: '/k', size: '1G', sparse: 'false' }) as Record<string, string>;
  t.deepEqual(parseVolumeSpec('v', inherited), { type: 'plain', fs: 'ext4', sizeBytes: 10 * 1024 ** 3 });
});

test('sparse: absent by default, sparse=false is kept, sparse=true is the default', (t) => {
  t.false('sparse' in parseVolumeSpec('v', { size: '1G' }));
  t.false('sparse' in parseVolumeSpec('v', { size: '1G', sparse: 'true' }));
  t.like(parseVolumeSpec('v', { size: '1G', sparse: 'false' }), { type: 'plain', sparse: false });
  t.like(parseVolumeSpec('v', { type: 'encrypted', size: '1G', sparse: 'no' }), { type: 'encrypted', sparse: false });
  t.like(parseVolumeSpec('v', { type: 'compressed', size: '1G', sparse: 'off' }), { type: 'compressed', sparse: false });
});
test('sparse=maybe', rejects, { sparse: 'maybe' }, 'sparse="maybe" is not a boolean; use true or false');
test(
  'sparse on a replicated volume',
  rejects,
  { type: 'replicated', sparse: 'false' },
  'option "sparse" applies only to type=plain or type=encrypted or type=compressed',
  'no image to preallocate',
);
test(
  'unknown options list sparse for image types',
  rejects,
  { type: 'encrypted', colour: 'red' },
  'valid options for type=encrypted are: type, size, fs, fstype, retain, uid, gid, mode, protect, sparse, cipher, encryption, keyfile',
);
test(
  'unknown options do not list sparse for replicated',
  rejects,
  { type: 'replicated', colour: 'red' },
  'valid options for type=replicated are: type, size, retain, uid, gid, mode, replicas, arbiter',
);

test('a bad keyfile path is not echoed', (t) => {
  for (const keyfile of ['secret/relative.key', '/etc/../secret.key']) {
    const error = t.throws(() => parseVolumeSpec('data', { type: 'encrypted', keyfile }), { instanceOf: VolumeError });
    t.is(error?.code, 'INVALID_OPTION');
    t.regex(error?.message ?? '', /-o keyfile must be an absolute path on the host, without "\.\."/);
    t.false(error?.message.includes('secret'), error?.message);
  }
});
test(
  'an unknown key is shown with its control characters escaped',
  rejects,
  { 'col\u007four\u009b': 'red' },
  'unknown option "col\\u007four\\u009b"',
);
