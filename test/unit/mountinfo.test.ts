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
    { target: '/', fsType: 'ext4', source: '/dev/vda', majMin: '254:0', root: '/' },
    { target: '/var/lib/custom/mounts/a b-0123', fsType: 'xfs', source: '/dev/loop3', majMin: '7:3', root: '/' },
    { target: '/x', fsType: 'tmpfs', source: 'tmpfs', majMin: '0:50', root: '/' },
  ]);
});

test('lines with several optional fields are parsed', (t) => {
  const line = '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 unbindable - ext3 /dev/root rw,errors=continue';
  t.deepEqual(parseMountInfo(line), [{ target: '/mnt2', fsType: 'ext3', source: '/dev/root', majMin: '98:0', root: '/mnt1' }]);
});

test("a container's bind mount of a volume shows the device and the /_data root", (t) => {
  const line = '612 590 7:5 /_data /data rw,relatime - ext4 /dev/loop5 rw';
  t.like(parseMountInfo(line)[0], { majMin: '7:5', root: '/_data', target: '/data', source: '/dev/loop5' });
});

test('the host scan reads each mount namespace once and keeps only bind mounts (root not /)', async (t) => {
  const { mkdir, writeFile, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { scanBindMounts } = await import('../../src/system/mount-users.js');
  const { makeTempDir } = await import('../helpers/temp.js');
  const proc = await makeTempDir('fake-proc');
  t.teardown(() => rm(proc, { recursive: true, force: true }));
  const host = '22 1 254:0 / / rw - ext4 /dev/vda rw\n99 22 7:3 / /var/lib/custom/mounts/v rw - ext4 /dev/loop3 rw\n';
  const container =
    '600 590 0:80 / / rw - overlay overlay rw\n612 600 7:3 /_data /data rw - ext4 /dev/loop3 rw\n613 600 254:0 /var/lib/docker/containers/x/hosts /etc/hosts rw - ext4 /dev/vda rw\n';
  for (const [pid, text] of [
    ['1', host],
    ['2', host],
    ['300', container],
    ['301', container],
    ['self', host],
  ] as const) {
    await mkdir(join(proc, pid));
    await writeFile(join(proc, pid, 'mountinfo'), text);
  }
  const scan = await scanBindMounts(proc);
  t.is(scan.namespaces, 2, 'two namespaces, each read once');
  t.deepEqual(scan.mounts.map((m) => `${m.majMin} ${m.root}`).sort(), ['254:0 /var/lib/docker/containers/x/hosts', '7:3 /_data']);
});
