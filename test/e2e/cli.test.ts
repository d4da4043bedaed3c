import test from 'ava';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { TEST_IMAGE } from '../helpers/dockerd.js';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { CLI, runCli } from '../helpers/cli.js';
import { volumeFiles } from '../helpers/host.js';
import { composeProject } from '../helpers/compose.js';

// The operator CLI (custom-volume) as a real process against the plugin as a
// real process, with a real dockerd: protection against docker volume rm and
// compose down -v, the owner of the volume root, ls/inspect, exit codes.

usePluginAndDockerd('cli');

const cli = (args: string[]) => runCli(['--socket', plugin.socket, ...args], { timeout: 60_000 });
const volumes = async () => (await dockerd.docker(['volume', 'ls', '-q'])).stdout.split('\n');

test.serial('-o uid, gid and mode: a container running as that user owns the volume root', async (t) => {
  await dockerd.docker([
    'volume',
    'create',
    '-d',
    plugin.driver,
    '-o',
    'size=32M',
    '-o',
    'uid=1234',
    '-o',
    'gid=2345',
    '-o',
    'mode=0750',
    'owned',
  ]);
  const seen = await dockerd.docker([
    'run',
    '--rm',
    '--network',
    'none',
    '--user',
    '1234:2345',
    '-v',
    'owned:/d',
    TEST_IMAGE,
    'sh',
    '-c',
    'stat -c "%u %g %a" /d && echo mine > /d/f && cat /d/f',
  ]);
  t.is(seen.stdout, '1234 2345 750\nmine');
  const other = await dockerd.docker(
    ['run', '--rm', '--network', 'none', '--user', '4321', '-v', 'owned:/d', TEST_IMAGE, 'sh', '-c', 'echo x > /d/g'],
    {
      reject: false,
    },
  );
  t.not(other.exitCode, 0, 'another user cannot write there (mode 0750)');
  const status = JSON.parse((await dockerd.docker(['volume', 'inspect', '-f', '{{json .Status}}', 'owned'])).stdout) as Record<
    string,
    unknown
  >;
  t.like(status, { uid: 1234, gid: 2345, mode: '0750' });
  await dockerd.docker(['volume', 'rm', 'owned']);
});

test.serial('protect: docker volume rm is refused with the fix named; custom-volume unprotect lets it go', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', '-o', 'protect=true', 'precious']);
  await dockerd.docker(['run', '--rm', '--network', 'none', '-v', 'precious:/d', TEST_IMAGE, 'sh', '-c', 'echo kept > /d/f']);
  const rm = await dockerd.docker(['volume', 'rm', 'precious'], { reject: false });
  t.not(rm.exitCode, 0);
  t.regex(rm.stderr, /volume "precious": is protected against removal .*run `custom-volume unprotect precious` first/);
  t.true((await volumes()).includes('precious'));
  t.is((await dockerd.docker(['run', '--rm', '--network', 'none', '-v', 'precious:/d', TEST_IMAGE, 'cat', '/d/f'])).stdout, 'kept');

  const listed = await cli(['--json', 'ls']);
  t.is(listed.exitCode, 0, listed.stderr);
  t.like(
    (JSON.parse(listed.stdout) as Array<Record<string, unknown>>).find((v) => v['name'] === 'precious'),
    { protected: true, type: 'plain', size: '32 MiB' },
  );
  const table = await cli(['ls']);
  t.regex(table.stdout, /^NAME\s+TYPE\s+SIZE\s+LEASES\s+PROTECTED\s+CREATED$/m);
  t.regex(table.stdout, /^precious\s+plain\s+32 MiB\s+0\s+yes\s+\d{4}-/m);

  const un = await cli(['unprotect', 'precious']);
  t.is(un.exitCode, 0, un.stderr);
  t.is(un.stdout, 'precious: not protected');
  t.is((await cli(['unprotect', 'precious'])).stdout, 'precious: not protected (already)');
  await dockerd.docker(['volume', 'rm', 'precious']);
  t.false((await volumes()).includes('precious'));
});

test.serial('protect guards compose down -v; protection survives a plugin killed with its state file lost', async (t) => {
  const compose = await composeProject(dockerd, join(plugin.root, 'compose-protect'), 'guarded', {
    version: '3.7',
    command: 'echo db > /data/f',
    mounts: ['db:/data'],
    driver: plugin.driver,
    volumes: { db: { size: '32M' } },
  });
  t.is((await compose(['up', '--no-color'])).exitCode, 0);
  t.is((await cli(['protect', 'guarded_db'])).stdout, 'guarded_db: protected');
  // Killed, and its state file lost: the protection comes back from the volume's volume.json.
  await plugin.kill('SIGKILL');
  await rm(join(plugin.stateDir, 'state.json'));
  await plugin.start();
  const down = await compose(['down', '-v']);
  t.regex(`${down.stdout}${down.stderr}`, /is protected against removal/);
  t.true((await volumes()).includes('guarded_db'), 'the volume is still there');
  t.is((await dockerd.docker(['run', '--rm', '--network', 'none', '-v', 'guarded_db:/d', TEST_IMAGE, 'cat', '/d/f'])).stdout, 'db');
  await cli(['unprotect', 'guarded_db']);
  t.is((await compose(['down', '-v'])).exitCode, 0);
  t.false((await volumes()).includes('guarded_db'));
  t.deepEqual(await volumeFiles(join(plugin.stateDir, 'volumes')), []);
});

test.serial('inspect shows where the volume lives and its leases with their age; exit codes mean something', async (t) => {
  await dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=32M', 'seen']);
  const c = (await dockerd.docker(['run', '-d', '--network', 'none', '-v', 'seen:/d', TEST_IMAGE, 'sleep', '600'])).stdout;
  t.teardown(() => dockerd.docker(['rm', '-f', c], { reject: false }).then(() => undefined));
  const json = await cli(['--json', 'inspect', 'seen']);
  t.is(json.exitCode, 0, json.stderr);
  const detail = JSON.parse(json.stdout) as {
    protected: boolean;
    status: Record<string, unknown>;
    host: { dir: string; image: string; mounted: boolean; devices: string[] };
    leases: Array<{ id: string; count: number; ageSeconds: number }>;
  };
  t.like(detail, { protected: false, status: { type: 'plain', mounted: true, leases: 1 }, host: { mounted: true } });
  t.true(detail.host.image.startsWith(join(plugin.stateDir, 'volumes')), detail.host.image);
  t.true(
    detail.host.devices.some((d) => d.startsWith('/dev/loop')),
    detail.host.devices.join(','),
  );
  t.is(detail.leases.length, 1);
  t.true(detail.leases[0]!.ageSeconds >= 0 && detail.leases[0]!.count === 1);
  const human = await cli(['inspect', 'seen']);
  t.regex(human.stdout, /^mounted\s+yes, at \//m);
  t.regex(human.stdout, /^LEASE \(MOUNT ID\)\s+COUNT\s+AGE\s+SINCE$/m);

  const missing = await cli(['inspect', 'nosuch']);
  t.is(missing.exitCode, 1);
  t.regex(missing.stderr, /custom-volume: volume "nosuch": no such volume/);
  t.is((await cli(['protect'])).exitCode, 2, 'usage error');
  const unreachable = await execa(process.execPath, [CLI, '--socket', join(plugin.root, 'none.sock'), 'ls'], { reject: false });
  t.is(unreachable.exitCode, 3);
  t.regex(unreachable.stderr, /cannot reach the plugin at .*none\.sock/);
  await dockerd.docker(['rm', '-f', c]);
  await dockerd.docker(['volume', 'rm', 'seen']);
});
