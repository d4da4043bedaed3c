import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { dockerd, plugin, usePluginAndDockerd } from '../helpers/stack.js';
import { CLI, runCli } from '../helpers/cli.js';
import { loopsUnder, mountsUnder } from '../helpers/host.js';
import { removeContainer, runDetached, runOnce } from '../helpers/containers.js';
import { sealBlock } from '../../src/api/export-format.js';

// export and import through the real plugin process, the CLI and a real
// dockerd: a tree with owners, modes, links and a sparse file goes from a
// plain ext4 volume into a compressed one of another size, identical file by
// file; damaged, truncated, oversized and hostile streams change nothing.

usePluginAndDockerd('transfer');

const cli = (args: string[], input?: { inputFile: string }) =>
  runCli(['--socket', plugin.socket, ...args], { timeout: 300_000, ...(input ?? {}) });
const create = (name: string, options: string[]) => dockerd.docker(['volume', 'create', '-d', plugin.driver, ...options, name]);

const TREE = [
  'mkdir -p /d/dir/deep && echo hello > /d/dir/deep/file',
  'head -c 3000000 /dev/urandom > /d/random',
  'chown 1234:5678 /d/random && chmod 0640 /d/random',
  'ln /d/random /d/hardlink && ln -s dir/deep/file /d/symlink',
  'dd if=/dev/urandom of=/d/sparse bs=4096 count=1 seek=10000 2>/dev/null',
  'mkdir /d/private && chmod 0700 /d/private && chown 42:42 /d/private && touch /d/private/x',
].join(' && ');
// Every entry with owner, mode, size, link count and content hash: what must match after the trip.
const LISTING =
  'cd /d && find . | sort | while read f; do if [ -d "$f" ]; then stat -c "%n %u:%g %a %F" "$f"; else s=-; [ -f "$f" ] && s=$(sha256sum "$f" | cut -c1-16); echo "$(stat -c "%n %u:%g %a %s %h %F" "$f") $s"; fi; done; readlink symlink';
// (A directory's size and link count are the filesystem's own, not the data's.)

test.serial('plain ext4 → compressed of another size: every file, owner, mode and link identical; the file is a tar', async (t) => {
  await create('from-plain', ['-o', 'size=64M']);
  await runOnce(dockerd, ['from-plain:/d'], TREE);
  const before = await runOnce(dockerd, ['from-plain:/d'], LISTING);
  const file = join(plugin.root, 'from-plain.tar');
  const exported = await cli(['--json', 'export', 'from-plain', file]);
  t.is(exported.exitCode, 0, exported.stderr);
  const report = JSON.parse(exported.stdout) as { bytes: number; sha256: string };
  const content = await readFile(file);
  t.is(content.length, report.bytes + 512, 'the tar, then one seal block');
  t.is(createHash('sha256').update(content.subarray(0, report.bytes)).digest('hex'), report.sha256);
  const listed = await execa('tar', ['-tvf', file]);
  t.regex(listed.stdout, /1234\/5678 .*\.\/random/, 'a plain tar with numeric owners');
  t.deepEqual(await mountsUnder(plugin.mountDir), [], 'mounted for the export only');

  await create('to-compressed', ['-o', 'type=compressed', '-o', 'size=200M']);
  const imported = await cli(['import', 'to-compressed', file]);
  t.is(imported.exitCode, 0, imported.stderr);
  t.regex(imported.stdout, new RegExp(`^to-compressed: imported .* \\(sha256 ${report.sha256}\\)$`));
  t.is(await runOnce(dockerd, ['to-compressed:/d'], LISTING), before);

  // Through a pipe: export - | import -.
  await create('piped', ['-o', 'size=320M', '-o', 'fs=xfs']);
  const piped = await execa(
    'sh',
    ['-c', `"$0" "$1" --socket "$2" export from-plain - | "$0" "$1" --socket "$2" import piped -`, process.execPath, CLI, plugin.socket],
    { reject: false },
  );
  t.is(piped.exitCode, 0, piped.stderr);
  t.is(await runOnce(dockerd, ['piped:/d'], LISTING), before);
  await dockerd.docker(['volume', 'rm', 'from-plain', 'to-compressed', 'piped']);
});

test.serial(
  'a damaged, truncated or oversized stream, or a busy or full volume: refused, the volume as it was, nothing left',
  async (t) => {
    await create('source', ['-o', 'size=64M']);
    await runOnce(dockerd, ['source:/d'], 'head -c 20000000 /dev/urandom > /d/big && echo small > /d/small');
    const file = join(plugin.root, 'source.tar');
    t.is((await cli(['export', 'source', file])).exitCode, 0);
    const whole = await readFile(file);
    await create('target', ['-o', 'size=64M']);
    const empty = await runOnce(dockerd, ['target:/d'], 'ls -A /d');

    const damaged = Buffer.from(whole);
    damaged[5_000_000] = damaged[5_000_000]! ^ 0xff;
    await writeFile(join(plugin.root, 'damaged.tar'), damaged);
    const refused = await cli(['import', 'target', join(plugin.root, 'damaged.tar')]);
    t.is(refused.exitCode, 1);
    t.regex(
      refused.stderr,
      /volume "target": could not be imported \(the volume is as it was\): the stream does not match its sha256 .*nothing was imported/,
    );

    await writeFile(join(plugin.root, 'short.tar'), whole.subarray(0, 7_000_000));
    const short = await cli(['import', 'target', join(plugin.root, 'short.tar')]);
    t.is(short.exitCode, 1);
    t.regex(short.stderr, /volume "target": could not be imported/);
    t.is(await runOnce(dockerd, ['target:/d'], 'ls -A /d'), empty, 'still empty');

    // 20 MB into 16 MiB: no space left; nothing of it stays.
    await create('tiny', ['-o', 'size=16M']);
    const full = await cli(['import', 'tiny', file]);
    t.is(full.exitCode, 1);
    t.regex(full.stderr, /volume "tiny": could not be imported \(the volume is as it was\): the files do not fit: no space left on device/);
    t.is(await runOnce(dockerd, ['tiny:/d'], 'ls -A /d; df -k /d | tail -1 | awk \'{print ($3 < 4096) ? "free" : "used"}\''), 'free');

    const c = await runDetached(dockerd, ['target:/d'], 'sleep 600');
    const busy = await cli(['import', 'target', file]);
    t.regex(busy.stderr, /volume "target": is mounted by 1 container; import while they run is refused/);
    await removeContainer(dockerd, c);

    t.is((await cli(['import', 'target', file])).exitCode, 0);
    const again = await cli(['import', 'target', file]);
    t.regex(again.stderr, /volume "target": could not be imported .*holds files .*import fills an empty volume only/);
    t.is((await runOnce(dockerd, ['target:/d'], 'cat /d/small')).trim(), 'small');
    t.regex((await cli(['import', 'nosuch', file])).stderr, /volume "nosuch": no such volume on this host; create it first/);
    t.regex((await cli(['export', 'nosuch', join(plugin.root, 'x.tar')])).stderr, /volume "nosuch": no such volume/);
    await t.throwsAsync(stat(join(plugin.root, 'x.tar')), undefined, 'a failed export leaves no file');
    t.deepEqual(
      (await readdir(plugin.root)).filter((f) => f.includes('.partial')),
      [],
    );

    await dockerd.docker(['volume', 'rm', 'source', 'target', 'tiny']);
    t.deepEqual(await mountsUnder(plugin.mountDir), []);
    t.deepEqual(await loopsUnder(plugin.root), []);
  },
);

test.serial('a hostile stream (.. members, a symlink out, then a file through it) writes nothing outside the volume', async (t) => {
  const work = join(plugin.root, 'hostile');
  const outside = join(plugin.root, 'outside');
  await mkdir(join(work, 'tree'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(work, 'tree', 'ok'), 'ok\n');
  await execa('ln', ['-s', outside, join(work, 'tree', 'escape')]);
  await writeFile(join(work, 'payload'), 'pwned\n');
  // ./ok, ./escape -> outside, then ./escape/payload and ../payload.
  await execa('tar', ['-cf', join(work, 'a.tar'), '-C', join(work, 'tree'), '.']);
  await execa('tar', ['-rf', join(work, 'a.tar'), '-C', work, '--transform', 's,^payload,./escape/payload,', 'payload']);
  await execa('tar', ['-rf', join(work, 'a.tar'), '-C', work, '--transform', 's,^payload,../payload,', '--absolute-names', 'payload']);
  const tarBytes = await readFile(join(work, 'a.tar'));
  const seal = sealBlock({ sha256: createHash('sha256').update(tarBytes).digest('hex'), bytes: tarBytes.length });
  await writeFile(join(work, 'sealed.tar'), Buffer.concat([tarBytes, seal]));
  await create('victim', ['-o', 'size=64M']);
  const result = await cli(['import', 'victim', join(work, 'sealed.tar')]);
  t.log(result.stdout || result.stderr);
  t.deepEqual(await readdir(outside), [], 'nothing written through the symlink');
  await t.throwsAsync(stat(join(plugin.mountDir, 'payload')));
  const mounts = join(plugin.mountDir);
  t.false((await readdir(mounts)).includes('payload'), 'nothing beside the volume');
  if (result.exitCode === 0) {
    t.is((await runOnce(dockerd, ['victim:/d'], 'cat /d/ok')).trim(), 'ok');
  } else {
    t.regex(result.stderr, /volume "victim": could not be imported \(the volume is as it was\): tar exited/);
    t.is(await runOnce(dockerd, ['victim:/d'], 'ls -A /d'), '');
  }
  await dockerd.docker(['volume', 'rm', 'victim']);
});
