import test from 'ava';
import { readdir } from 'node:fs/promises';
import { startTestPlugin } from '../helpers/plugin.js';
import { loopsUnder, volumeFiles } from '../helpers/host.js';
import { createSystemTools } from '../../src/system/index.js';

const tools = createSystemTools(20_000);

// On a host without dm-crypt (this machine's kernel), Create fails at once
// with a clear Err and touches nothing. On a kernel with dm-crypt this test
// is not registered: the guest suite's encrypted tests run there instead.
const dmOnHost = await tools.probeDmCrypt();
if (!dmOnHost.available)
  test('without dm-crypt, an encrypted Create is refused at once and leaves nothing', async (t) => {
    const fx = await startTestPlugin('nodm');
    t.teardown(() => fx.close());
    const started = Date.now();
    const res = await fx.call('VolumeDriver.Create', { Name: 'secret', Opts: { type: 'encrypted', size: '64M' } });
    t.true(Date.now() - started < 2000);
    t.regex(String(res.body['Err']), /^volume "secret": dm-crypt is not available on this host: the kernel has no device-mapper/);
    t.deepEqual((await fx.call('VolumeDriver.List', {})).body['Volumes'], []);
    t.deepEqual(await volumeFiles(fx.config.dataDir), []);
    t.deepEqual(await readdir(fx.config.keyDir).catch(() => []), []);
    t.deepEqual(await loopsUnder(fx.root), []);
  });

test('the start-up check reports which volume types this host can serve', async (t) => {
  const { checkHost } = await import('../../src/volumes/doctor.js');
  const { imageBacking } = await import('../helpers/backing.js');
  const images = imageBacking(tools);
  const types = await checkHost({ plain: images, encrypted: images, compressed: images, replicated: images });
  t.is(types.plain, 'available');
  t.is(types.compressed, 'available');
  const dm = await tools.probeDmCrypt();
  t.is(
    types.encrypted,
    dm.available
      ? 'available'
      : `unavailable: dm-crypt is not available on this host: ${dm.reason}; encrypted volumes need a kernel with device-mapper and dm_crypt`,
  );
});
