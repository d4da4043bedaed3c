import test from 'ava';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { TEST_IMAGE } from '../helpers/dockerd.js';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { runCli } from '../helpers/cli.js';
import { runDetached } from '../helpers/containers.js';

// custom-volume prune against a real dockerd: only volumes no container
// references (running or stopped) go, never a protected one, never without
// a confirmation.

usePluginAndDockerd('prune');

const cli = (args: string[]) =>
  runCli(['--socket', plugin.socket, ...args], { timeout: 120_000, env: { DOCKER_HOST: dockerd.host }, stdin: 'ignore' });
const create = (name: string, options: string[] = []) =>
  dockerd.docker(['volume', 'create', '-d', plugin.driver, '-o', 'size=64M', ...options, name]);

test.serial('prune removes only unreferenced volumes: a stopped container keeps its volume, protection holds', async (t) => {
  for (const name of ['running', 'stopped', 'unused', 'unused2']) await create(name);
  await create('guarded', ['-o', 'protect=true']);
  await runDetached(dockerd, ['running:/d'], 'sleep 600');
  await dockerd.docker(['create', '--network', 'none', '-v', 'stopped:/d', TEST_IMAGE, 'true']);

  const dry = await cli(['--json', 'prune', '--dry-run']);
  t.is(dry.exitCode, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as { wouldRemove: string[]; kept: Array<{ name: string; why: string }> };
  t.deepEqual(planned.wouldRemove, ['unused', 'unused2']);
  t.deepEqual(planned.kept, [
    { name: 'guarded', why: 'protected' },
    { name: 'running', why: 'used by a container' },
    { name: 'stopped', why: 'used by a container' },
  ]);

  const unconfirmed = await cli(['prune']);
  t.is(unconfirmed.exitCode, 2);
  t.regex(unconfirmed.stderr, /prune removes data: confirm on a terminal, or pass --force/);

  const pruned = await cli(['prune', '--force']);
  t.is(pruned.exitCode, 0, pruned.stderr);
  t.is(pruned.stdout, 'removed unused\nremoved unused2');
  const left = (await dockerd.docker(['volume', 'ls', '-q', '--filter', `driver=${plugin.driver}`])).stdout.split('\n').sort();
  t.deepEqual(left, ['guarded', 'running', 'stopped']);
  t.is((await cli(['prune', '--force'])).stdout, 'nothing to prune');
});

test.serial('doctor finds a loop device leaked on purpose and a stray directory, exits 1; clean again, exits 0', async (t) => {
  await create('leaky');
  const clean = await cli(['doctor']);
  t.is(clean.exitCode, 0, clean.stdout + clean.stderr);
  t.regex(clean.stdout, /plain +available/);
  t.regex(clean.stdout, /no problems found|warning/);
  const id = (await readdir(join(plugin.stateDir, 'volumes'))).find((entry) => entry.startsWith('leaky-'))!;
  const image = join(plugin.stateDir, 'volumes', id, 'disk.img');
  const device = (await execa('losetup', ['--find', '--show', image])).stdout.trim();
  t.teardown(() => execa('losetup', ['-d', device], { reject: false }).then(() => undefined));
  await mkdir(join(plugin.stateDir, 'volumes', 'stray-0123456789abcdef'));
  await writeFile(join(plugin.stateDir, 'volumes', 'stray-0123456789abcdef', 'disk.img'), '');
  const found = await cli(['--json', 'doctor']);
  t.is(found.exitCode, 1);
  const report = JSON.parse(found.stdout) as { findings: Array<{ severity: string; volume?: string; what: string; fix: string }> };
  t.like(
    report.findings.find((f) => f.volume === 'leaky'),
    {
      severity: 'problem',
      what: `loop device ${device} is attached to its image, but nothing has the volume mounted`,
      fix: `losetup -d ${device} (the plugin's periodic check also releases it)`,
    },
  );
  t.truthy(report.findings.find((f) => /stray-0123456789abcdef belongs to no volume/.test(f.what)));
  await execa('losetup', ['-d', device]);
  await rm(join(plugin.stateDir, 'volumes', 'stray-0123456789abcdef'), { recursive: true });
  t.is((await cli(['doctor'])).exitCode, 0);
  await dockerd.docker(['volume', 'rm', 'leaky']);
});
