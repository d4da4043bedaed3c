import test from 'ava';
import { XMLParser } from 'fast-xml-parser';
import { parseHealCount, parseVolumeInfo } from '../../src/system/gluster.js';
import { recordFromGluster } from '../../src/backings/replicated/catalogue.js';
import { glusterName } from '../../src/backings/replicated/names.js';
import { loadConfig } from '../../src/config.js';
import { parseVolumeSpec } from '../../src/volumes/spec.js';
import { VolumeError } from '../../src/volumes/errors.js';

// `gluster volume info --xml` as glusterfs 10.3 printed it (trimmed).
const INFO = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><volInfo><volumes>
<volume><name>cv_my_data_vol-ecb75417cbf8cad7</name><status>1</status><replicaCount>3</replicaCount><arbiterCount>0</arbiterCount>
<bricks><brick uuid="u1">10.77.0.1:/b/a<name>10.77.0.1:/b/a</name><isArbiter>0</isArbiter></brick>
<brick uuid="u2">10.77.0.2:/b/b<name>10.77.0.2:/b/b</name><isArbiter>0</isArbiter></brick></bricks>
<options><option><name>user.custom-volume.name</name><value>${Buffer.from('my data/vol').toString('base64url')}</value></option>
<option><name>user.custom-volume.spec</name><value>${Buffer.from(JSON.stringify({ type: 'replicated', replicas: 3, arbiter: false })).toString('base64url')}</value></option>
<option><name>user.custom-volume.created</name><value>2026-11-23T12:00:00.000Z</value></option></options></volume>
<volume><name>someone-elses</name><status>2</status><replicaCount>1</replicaCount><arbiterCount>0</arbiterCount><bricks><brick>h:/x<name>h:/x</name></brick></bricks><options/></volume>
</volumes></volInfo></cliOutput>`;

function infoDoc(xml: string): Record<string, unknown> {
  const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (n) => ['volume', 'brick', 'option'].includes(n) });
  return (parser.parse(xml) as { cliOutput: Record<string, unknown> }).cliOutput;
}

test('volume info XML is parsed into volumes, bricks and options', (t) => {
  const [ours, theirs] = parseVolumeInfo(infoDoc(INFO));
  t.like(ours, { name: 'cv_my_data_vol-ecb75417cbf8cad7', started: true, replicaCount: 3, arbiterCount: 0 });
  t.deepEqual(ours?.bricks, [
    { host: '10.77.0.1', path: '/b/a' },
    { host: '10.77.0.2', path: '/b/b' },
  ]);
  t.is(ours?.options['user.custom-volume.created'], '2026-11-23T12:00:00.000Z');
  t.like(theirs, { name: 'someone-elses', started: false });
  t.deepEqual(theirs?.options, {});
});

test('a Gluster volume of ours gives back the Docker record; other volumes are not ours', (t) => {
  const [ours, theirs] = parseVolumeInfo(infoDoc(INFO));
  t.deepEqual(recordFromGluster(ours!), {
    record: {
      name: 'my data/vol',
      id: 'my_data_vol-ecb75417cbf8cad7',
      spec: { type: 'replicated', replicas: 3, arbiter: false },
      createdAt: '2026-11-23T12:00:00.000Z',
      leases: {},
    },
  });
  t.is(recordFromGluster(theirs!), undefined);
  t.is(glusterName('my_data_vol-ecb75417cbf8cad7'), 'cv_my_data_vol-ecb75417cbf8cad7');
});

test('catalogue entries are validated: a bad spec or an id that does not match the name is a problem, not a record', (t) => {
  const [ours] = parseVolumeInfo(infoDoc(INFO));
  const spec = (value: string) => ({
    ...ours!,
    options: { ...ours!.options, 'user.custom-volume.spec': Buffer.from(value).toString('base64url') },
  });
  t.regex((recordFromGluster(spec('{not json')) as { problem: string }).problem, /spec/);
  t.regex(
    (recordFromGluster(spec(JSON.stringify({ type: 'replicated', replicas: 9, arbiter: false }))) as { problem: string }).problem,
    /replicas/,
  );
  t.regex(
    (recordFromGluster(spec(JSON.stringify({ type: 'plain', fs: 'ext4', sizeBytes: 4096 }))) as { problem: string }).problem,
    /not a replicated volume/,
  );
  const renamed = { ...ours!, name: 'cv_someone-0123456789abcdef' };
  t.regex((recordFromGluster(renamed) as { problem: string }).problem, /does not match the name/);
});

test('heal-count text is parsed per brick', (t) => {
  const text =
    'Gathering count of entries to be healed on volume v has been successful \n\nBrick 10.77.0.1:/b/a\nNumber of entries: 0\n\nBrick 10.77.0.3:/b/c\nNumber of entries: 17\n';
  t.deepEqual(
    [...parseHealCount(text)],
    [
      ['10.77.0.1:/b/a', 0],
      ['10.77.0.3:/b/c', 17],
    ],
  );
});

test('replicated options: default replica 3, arbiter with replicas=2, size as quota; new volumes go to the pool', (t) => {
  t.deepEqual(parseVolumeSpec('v', { type: 'replicated' }), { type: 'replicated', replicas: 3, arbiter: false, layout: 'pool' });
  t.deepEqual(parseVolumeSpec('v', { type: 'replicated', replicas: '2', arbiter: 'true', size: '1G' }), {
    type: 'replicated',
    replicas: 2,
    arbiter: true,
    quotaBytes: 1024 ** 3,
    layout: 'pool',
  });
});

const refuses = test.macro((t, opts: Record<string, string>, pattern: RegExp) => {
  const error = t.throws(() => parseVolumeSpec('r', opts), { instanceOf: VolumeError });
  t.regex(error?.message ?? '', pattern);
});
test(
  'replicas=2 without an arbiter warns of split brain',
  refuses,
  { type: 'replicated', replicas: '2' },
  /^volume "r": replicas=2 can split-brain.*arbiter=true/,
);
test('replicas=4', refuses, { type: 'replicated', replicas: '4' }, /replicas="4" is not supported; use one of: 2, 3/);
test('fs on a replicated volume', refuses, { type: 'replicated', fs: 'ext4' }, /fs does not apply to type=replicated/);
test('arbiter with replicas=3', refuses, { type: 'replicated', replicas: '3', arbiter: 'true' }, /use it with replicas=2/);
test('replicas on a plain volume', refuses, { replicas: '3' }, /option "replicas" applies only to type=replicated/);

test('peers: this host first, each with its brick root; one host alone by default', (t) => {
  const alone = loadConfig({ CUSTOM_GLUSTER_HOST: 'node1', CUSTOM_STATE_DIR: '/s' });
  t.deepEqual(alone.gluster.peers, [{ host: 'node1', brickRoot: '/s/bricks' }]);
  const pool = loadConfig({
    CUSTOM_GLUSTER_HOST: 'n2',
    CUSTOM_GLUSTER_PEERS: 'n1,n2:/data/b2, n3:/data/b3',
    CUSTOM_GLUSTER_BRICK_ROOT: '/bricks',
  });
  t.deepEqual(pool.gluster.peers, [
    { host: 'n2', brickRoot: '/data/b2' },
    { host: 'n1', brickRoot: '/bricks' },
    { host: 'n3', brickRoot: '/data/b3' },
  ]);
  t.is(pool.gluster.brickRoot, '/data/b2');
});

test("a host that is not in CUSTOM_GLUSTER_PEERS refuses to start: it would take its own bricks for another host's", (t) => {
  t.throws(() => loadConfig({ CUSTOM_GLUSTER_HOST: 'n4', CUSTOM_GLUSTER_PEERS: 'n1,n2,n3' }), {
    message: /CUSTOM_GLUSTER_HOST="n4" is not in CUSTOM_GLUSTER_PEERS \(n1, n2, n3\); set CUSTOM_GLUSTER_HOST/,
  });
});

test('replicas are reported as given: replicas=2 with an arbiter says 2, not 3', async (t) => {
  const { GlusterBacking } = await import('../../src/backings/replicated/backing.js');
  const { createSystemTools } = await import('../../src/system/index.js');
  const gluster = {
    volumeStatus: async () => [],
    healCount: async () => new Map<string, number>(),
    splitBrainCount: async () => 0,
    volumeInfo: async () => [],
  } as unknown as ConstructorParameters<typeof GlusterBacking>[1];
  const backing = new GlusterBacking(createSystemTools(5000), gluster, {
    host: 'n1',
    peers: [{ host: 'n1', brickRoot: '/b' }],
    brickRoot: '/b',
    sweepAgeMs: 1,
    poolMountDir: '/nonexistent/pools',
    poolName: 'cv_pool',
    tls: false,
    tlsDir: '/usr/lib/ssl',
    mountDir: '/nonexistent/mounts',
  });
  const spec = parseVolumeSpec('r', { type: 'replicated', replicas: '2', arbiter: 'true' });
  const record = { name: 'r', id: 'r-0', spec, createdAt: '2026-11-25T00:00:00.000Z', leases: {} };
  const paths = {
    dir: '/nonexistent/r',
    image: '/nonexistent/r/disk.img',
    mountRoot: '/nonexistent/m',
    mountpoint: '/nonexistent/m/_data',
    retainRoot: '/nonexistent/.retained',
  };
  t.like(await backing.status({ record, paths }), { replicas: 2, arbiter: true });
});
