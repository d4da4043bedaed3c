import test from 'ava';
import { parseMountInfo } from '../../src/system/mount.js';

test('mountinfo lines are parsed, with octal escapes decoded', (t) => {
  const text = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '99 22 7:3 / /var/lib/custom/mounts/a\\040b-0123 rw,relatime shared:50 - xfs /dev/loop3 rw,attr2',
    '100 22 0:50 / /x rw - tmpfs tmpfs rw',
    '',
  ].join('\n');
  t.deepEqual(parseMountInfo(text), [
    { target: '/', fsType: 'ext4', source: '/dev/vda' },
    { target: '/var/lib/custom/mounts/a b-0123', fsType: 'xfs', source: '/dev/loop3' },
    { target: '/x', fsType: 'tmpfs', source: 'tmpfs' },
  ]);
});

test('lines with several optional fields are parsed', (t) => {
  const line = '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 unbindable - ext3 /dev/root rw,errors=continue';
  t.deepEqual(parseMountInfo(line), [{ target: '/mnt2', fsType: 'ext3', source: '/dev/root' }]);
});
