import test from 'ava';
import { PassThrough } from 'node:stream';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPlugin } from '../../src/plugin.js';
import { volumeId } from '../../src/volumes/names.js';
import { callSocket } from '../helpers/plugin.js';
import { makeTempDir, removeTempDir, testConfig } from '../helpers/temp.js';
import { scrubHost } from '../helpers/host.js';

async function withLoggedPlugin(
  run: (
    call: (m: string, b: unknown) => ReturnType<typeof callSocket>,
    lines: () => Array<Record<string, unknown>>,
    root: string,
  ) => Promise<void>,
) {
  const root = await makeTempDir('logging');
  const config = testConfig(root);
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const plugin = await startPlugin(config, pino({ level: 'info' }, stream));
  try {
    await plugin.recovered;
    await run(
      (m, b) => callSocket(config.socket, m, b),
      () =>
        text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      root,
    );
  } finally {
    await plugin.stop();
    await scrubHost(root);
    await removeTempDir(root);
  }
}

test('every request is logged as one JSON object with method, volume, status, duration and error', async (t) => {
  await withLoggedPlugin(async (call, lines) => {
    await call('VolumeDriver.Create', { Name: 'logged', Opts: { size: '32M' } });
    await call('VolumeDriver.Get', { Name: 'missing' });
    const requests = lines().filter((l) => l['msg'] === 'request' || l['msg'] === 'request failed');
    const create = requests.find((l) => l['method'] === 'VolumeDriver.Create');
    t.like(create, { volume: 'logged', status: 200 });
    t.is(typeof create?.['durationMs'], 'number');
    const get = requests.find((l) => l['method'] === 'VolumeDriver.Get');
    t.like(get, { volume: 'missing', err: 'volume "missing": no such volume' });
    await call('VolumeDriver.Remove', { Name: 'logged' });
  });
});

test('values of unknown options (a passphrase, say) reach neither the log nor the Err', async (t) => {
  await withLoggedPlugin(async (call, lines) => {
    const secret = 'hunter2-do-not-log';
    const res = await call('VolumeDriver.Create', { Name: 'x', Opts: { passphrase: secret, password: secret, size: '1G' } });
    t.regex(String(res.body['Err']), /option "passphrase", "password" is refused: Docker stores driver options in plain text/);
    t.false(res.raw.includes('hunter2'));
    const all = JSON.stringify(lines());
    t.true(all.includes('"optionKeys":["passphrase","password","size"]'));
    t.false(all.includes('hunter2'), 'a value was logged');
  });
});

test('echoed values of known options are cut to 64 characters', async (t) => {
  await withLoggedPlugin(async (call) => {
    const res = await call('VolumeDriver.Create', { Name: 'x', Opts: { fs: 'z'.repeat(500) } });
    t.regex(String(res.body['Err']), /fs="z{64}…" is not supported/);
  });
});

test('Create refuses a leftover storage directory, says so, and leaves it untouched', async (t) => {
  await withLoggedPlugin(async (call, _lines, root) => {
    const dir = join(root, 'state', 'volumes', volumeId('leftover'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'disk.img'), 'earlier data');
    const res = await call('VolumeDriver.Create', { Name: 'leftover', Opts: { size: '32M' } });
    t.regex(
      String(res.body['Err']),
      /^volume "leftover": its storage directory already exists \(.*\) without a record; .*left untouched\. Move it away/,
    );
    t.is(await readFile(join(dir, 'disk.img'), 'utf8'), 'earlier data');
    t.deepEqual((await call('VolumeDriver.List', {})).body['Volumes'], []);
  });
});
