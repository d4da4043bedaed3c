import test, { type ExecutionContext } from 'ava';
import { parseProtect, parseVolumeSpec } from '../../src/volumes/spec.js';
import { VolumeError } from '../../src/volumes/errors.js';

// The create options of the day-2 issue: names other plugins use (fstype,
// encryption), the owner of the volume root, and protect.

const refused = (options: Record<string, string>, message: RegExp) => (t: ExecutionContext) => {
  const error = t.throws(() => parseVolumeSpec('data', options), { instanceOf: VolumeError });
  t.regex(error?.message ?? '', message);
};

test('fstype is another name for fs', (t) => {
  t.like(parseVolumeSpec('v', { fstype: 'xfs', size: '1G' }), { fs: 'xfs' });
  t.like(parseVolumeSpec('v', { fstype: 'xfs', fs: 'xfs', size: '1G' }), { fs: 'xfs' });
});
test(
  'fs and fstype that disagree are refused',
  refused({ fs: 'ext4', fstype: 'xfs' }, /fs="ext4" and fstype="xfs" disagree; fstype is another name for fs/),
);
test('a bad fstype is named as fstype', refused({ fstype: 'ntfs' }, /fstype="ntfs" is not supported; use one of: ext4, xfs, btrfs/));
test(
  'fstype on a replicated volume is refused',
  refused({ type: 'replicated', fstype: 'xfs' }, /fstype does not apply to type=replicated/),
);

test('encryption is another name for cipher', (t) => {
  t.like(parseVolumeSpec('v', { type: 'encrypted', encryption: 'serpent-xts-plain64' }), {
    cipher: 'serpent-xts-plain64',
    keySizeBits: 512,
  });
});
test(
  'cipher and encryption that disagree are refused',
  refused(
    { type: 'encrypted', cipher: 'aes-xts-plain64', encryption: 'serpent-xts-plain64' },
    /disagree; encryption is another name for cipher/,
  ),
);
test(
  'encryption on a plain volume says which type takes it',
  refused({ encryption: 'aes-xts-plain64' }, /option "encryption" applies only to type=encrypted/),
);

test('uid, gid and mode are kept in the spec, mode as octal', (t) => {
  t.deepEqual(parseVolumeSpec('v', { uid: '1000', gid: '100', mode: '0750' }).owner, { uid: 1000, gid: 100, mode: 0o750 });
  t.deepEqual(parseVolumeSpec('v', { mode: '2775' }).owner, { mode: 0o2775 });
  t.deepEqual(parseVolumeSpec('v', { type: 'replicated', uid: '0' }).owner, { uid: 0 });
  t.is(parseVolumeSpec('v', {}).owner, undefined, 'absent when none is given');
});
test(
  'a user name for uid is refused',
  refused({ uid: 'www-data' }, /uid="www-data" is not a numeric user id; use a number such as uid=1000/),
);
test('a negative gid is refused', refused({ gid: '-1' }, /gid="-1" is not a numeric group id/));
test('a uid beyond 32 bits is refused', refused({ uid: '4294967295' }, /uid="4294967295" is not a numeric user id/));
test('a decimal-looking mode is refused', refused({ mode: '755x' }, /mode="755x" is not an octal mode/));
test('a mode with 8 or 9 is refused', refused({ mode: '0789' }, /is not an octal mode/));

test(
  'protect on a replicated volume is refused, with why',
  refused(
    { type: 'replicated', protect: 'true' },
    /protect does not apply to type=replicated yet: every pool host's plugin may remove the volume/,
  ),
);

test('protect is a boolean option', (t) => {
  t.true(parseProtect('v', { protect: 'true' }));
  t.false(parseProtect('v', { protect: 'false' }));
  t.false(parseProtect('v', null));
  t.throws(() => parseProtect('v', { protect: 'maybe' }), { message: /protect="maybe" is not a boolean/ });
  t.false('protect' in parseVolumeSpec('v', { protect: 'true' }), 'not part of the spec');
});
