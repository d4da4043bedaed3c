import test from 'ava';
import { execa } from 'execa';
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import {
  isTestHook,
  mergeEnvironment,
  parseEnvironmentFile,
  renderEnvironmentFile,
  renderUnit,
  settingNames,
} from '../../src/install/host-unit.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

// The host service's files (`make run`): the settings a user gives must reach
// the plugin under systemd, and stay there across runs. The CLI runs for real
// (built, with node), on temp paths.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'install', 'write-unit.js');

let dir = '';
test.before(async () => {
  dir = await makeTempDir('host-unit');
});
test.after.always(() => removeTempDir(dir));

let runs = 0;
/** Runs the built CLI with exactly `env` (plus PATH): none of the test runner's own settings. */
async function writeUnit(env: Record<string, string>, extra: readonly string[] = []) {
  const run = ++runs;
  const envFile = join(dir, `env-${run}`);
  const unitFile = join(dir, `unit-${run}.service`);
  const result = await runCli(env, ['--environment-file', envFile, '--unit', unitFile, ...extra]);
  return { envFile, unitFile, result };
}

function runCli(env: Record<string, string>, args: readonly string[]) {
  return execa(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    extendEnv: false,
    reject: false,
  });
}

const HOSTILE: Record<string, string> = {
  CUSTOM_QUOTES: 'a "quoted" word and \'single\' ones',
  CUSTOM_BACKSLASHES: 'back\\slash, \\n and a last \\',
  CUSTOM_DOLLARS: '$HOME and ${PATH} and $$',
  CUSTOM_BACKTICKS: '`id` and $(id)',
  CUSTOM_BLANKS: '  leading, inner  and trailing\tblanks  ',
  CUSTOM_EQUALS: 'key=value==more=',
  CUSTOM_COMMENT: '# not a comment ; nor this',
  CUSTOM_UNICODE: 'é ✓ 日本',
  CUSTOM_EMPTY: '',
};

test('the environment file reads back every value, however hostile', (t) => {
  const text = renderEnvironmentFile(HOSTILE);
  t.deepEqual(parseEnvironmentFile(text), HOSTILE);
  // One KEY="value" line each, sorted, after a header of comments.
  const lines = text.trimEnd().split('\n');
  const assignments = lines.filter((line) => !line.startsWith('#'));
  t.true(lines.slice(0, lines.length - assignments.length).length >= 3, 'a header comment');
  t.deepEqual(
    assignments.map((line) => line.slice(0, line.indexOf('='))),
    Object.keys(HOSTILE).sort(),
  );
  for (const line of assignments) t.regex(line, /^[A-Z_]+=".*"$/);
  t.true(text.includes('make run'), 'the header says who writes it');
  t.true(text.includes('CUSTOM_KEK_FILE= make run'), 'and how to remove a setting');
});

test('the environment file is read as systemd reads it', (t) => {
  const text = [
    '# a comment',
    '; another one',
    '   PLAIN=   unquoted,  inner  blanks kept   ',
    'SINGLE=\'literal \\ $HOME "x"\'',
    'DOUBLE="a\\"b\\\\c\\$d\\`e\\qf"',
    'ESCAPED=a\\ b\\\\c',
    'CONTINUED="first \\',
    'second"',
    'NO_EQUALS_SIGN',
    '9INVALID=dropped',
    'SPACED_KEY  =  v',
    'JOINED="a"\'b\'c',
    'EMPTY=',
    'LAST=no final newline',
  ].join('\n');
  t.deepEqual(parseEnvironmentFile(text), {
    PLAIN: 'unquoted,  inner  blanks kept',
    SINGLE: 'literal \\ $HOME "x"',
    // \" \\ \$ \` unescape; any other backslash stays, as in a shell.
    DOUBLE: 'a"b\\c$d`e\\qf',
    ESCAPED: 'a b\\c',
    CONTINUED: 'first second',
    SPACED_KEY: 'v',
    JOINED: 'abc',
    EMPTY: '',
    LAST: 'no final newline',
  });
});

test('settings are the CUSTOM_* variables and DM_DISABLE_UDEV, present even when empty', (t) => {
  t.deepEqual(
    settingNames({
      CUSTOM_B: '1',
      CUSTOM_A: '',
      CUSTOM_UNSET: undefined,
      DM_DISABLE_UDEV: '1',
      PATH: '/usr/bin',
      CUSTOMER: 'x',
      XCUSTOM_A: 'x',
    }),
    ['CUSTOM_A', 'CUSTOM_B', 'DM_DISABLE_UDEV'],
  );
});

test('merge: given replaces, given empty removes, not given is kept; test hooks and other variables never come in', (t) => {
  const existing = renderEnvironmentFile({
    CUSTOM_KEK_FILE: '/etc/custom-volume/kek',
    CUSTOM_LOG_LEVEL: 'debug',
    CUSTOM_SOCKET: '/run/old.sock',
    CUSTOM_TEST_PAUSE_AT: 'left-by-hand',
    ADMIN_ADDED: 'kept',
  });
  const merged = mergeEnvironment(existing, {
    CUSTOM_SOCKET: '/run/new.sock',
    CUSTOM_LOG_LEVEL: '',
    CUSTOM_LEASE_GRACE_MS: '5000',
    CUSTOM_TEST_PAUSE_AT: 'create:after-image',
    DM_DISABLE_UDEV: '1',
    PATH: '/usr/bin',
    HOME: '/root',
  });
  t.deepEqual(merged, {
    ADMIN_ADDED: 'kept',
    CUSTOM_KEK_FILE: '/etc/custom-volume/kek',
    CUSTOM_LEASE_GRACE_MS: '5000',
    CUSTOM_SOCKET: '/run/new.sock',
    DM_DISABLE_UDEV: '1',
  });
  t.deepEqual(mergeEnvironment(undefined, { CUSTOM_SOCKET: '/run/a.sock', CUSTOM_KEK_FILE: '' }), { CUSTOM_SOCKET: '/run/a.sock' });
  // A plain run after `git pull`: nothing given, everything kept.
  t.deepEqual(mergeEnvironment(renderEnvironmentFile(merged), { PATH: '/usr/bin' }), merged);
});

test('a value with a line break or a NUL is refused, naming the variable and the fix', (t) => {
  for (const value of ['/etc/kek\n', '/etc/\nkek', '/etc/kek\r', '/etc/k\0ek']) {
    const error = t.throws(() => mergeEnvironment(undefined, { CUSTOM_KEK_FILE: value }));
    t.true(error?.message.includes('CUSTOM_KEK_FILE'), error?.message);
    t.true(error?.message.includes('line break'), error?.message);
    t.true(error?.message.includes('CUSTOM_KEK_FILE= make run'), error?.message);
  }
  t.throws(() => renderEnvironmentFile({ CUSTOM_X: 'a\nb' }), { message: /CUSTOM_X contains a line break/ });
  t.throws(() => renderEnvironmentFile({ 'NOT VALID': 'x' }), { message: /not a valid environment variable name/ });
});

/** The unit's `Key=value` lines by section. */
function unitSections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) sections.set(header[1]!, (current = []));
    else current.push(line);
  }
  return sections;
}

test('the unit: before Docker, restarted, no core dumps, settings from the environment file', (t) => {
  const text = renderUnit({
    node: '/opt/node 20/bin/node',
    mainJs: '/srv/custom volume/dist/src/main.js',
    environmentFile: '/etc/default/custom-volume',
  });
  const sections = unitSections(text);
  t.deepEqual([...sections.keys()], ['Unit', 'Service', 'Install']);
  const unit = sections.get('Unit') ?? [];
  t.true(unit.includes('Before=docker.service'), unit.join('\n'));
  t.true(unit.some((line) => /^After=.*\blocal-fs\.target\b/.test(line)));
  t.true(unit.some((line) => /^After=.*\bnetwork-online\.target\b/.test(line)));
  t.true(unit.some((line) => line.startsWith('Description=')));
  const service = sections.get('Service') ?? [];
  for (const line of [
    'EnvironmentFile=-/etc/default/custom-volume',
    'ExecStart="/opt/node 20/bin/node" "/srv/custom volume/dist/src/main.js"',
    'KillMode=process',
    'Restart=always',
    'RestartSec=1',
    'LimitCORE=0',
  ]) {
    t.true(service.includes(line), `${line} missing from:\n${service.join('\n')}`);
  }
  t.false(
    service.some((line) => line.startsWith('Environment=')),
    'no setting is baked into the unit',
  );
  t.deepEqual(sections.get('Install'), ['WantedBy=multi-user.target docker.service']);
});

test('the unit quotes paths as systemd reads them, and refuses what systemd would refuse', (t) => {
  const text = renderUnit({
    node: '/opt/a b/50%/node',
    mainJs: '/srv/"x" \\ $HOME 50%;/main.js',
    environmentFile: '/etc/default/custom volume%',
  });
  t.true(text.includes('\nExecStart="/opt/a b/50%%/node" "/srv/\\"x\\" \\\\ $$HOME 50%%;/main.js"\n'), text);
  t.true(text.includes('\nEnvironmentFile=-/etc/default/custom volume%%\n'), text);
  const paths = { node: '/usr/bin/node', mainJs: '/srv/main.js', environmentFile: '/etc/default/custom-volume' };
  t.throws(() => renderUnit({ ...paths, node: '/opt/"q"/node' }), { message: /quote, a backslash/ });
  t.throws(() => renderUnit({ ...paths, mainJs: 'dist/src/main.js' }), { message: /absolute path/ });
  t.throws(() => renderUnit({ ...paths, mainJs: '/srv/a\nExecStartPre=/bin/false' }), { message: /line break/ });
  t.throws(() => renderUnit({ ...paths, environmentFile: '/etc/default/x ' }), { message: /blank or backslash at its end/ });
});

// The settings the README documents: every table row whose first cell is a
// `CUSTOM_*` name, so a new row is checked without touching this test.
async function documentedSettings(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const names = [...readme.matchAll(/^\|\s*`(CUSTOM_[A-Z0-9_]+)`\s*\|/gm)].map((match) => match[1]!);
  return [...new Set(names)];
}

// A value loadConfig accepts and that differs from its default. Paths are as
// hostile as a path can be; a new setting that is not a path, a duration or
// one of these needs its own line here (the test says which).
function testValue(name: string, index: number): string {
  const special: Record<string, string> = {
    CUSTOM_LOG_LEVEL: 'debug',
    CUSTOM_GLUSTER_POOL: 'cv_test_pool',
    CUSTOM_GLUSTER_TLS: '1',
    CUSTOM_OVERCOMMIT: '2.5',
    CUSTOM_GLUSTER_HOST: 'host-under-test',
    // This host's own name too: without CUSTOM_GLUSTER_HOST the plugin is hostname(), which must be a peer.
    CUSTOM_GLUSTER_PEERS: `host-under-test,${hostname()},peer-b:/srv/bricks b`,
    CUSTOM_TEST_PAUSE_AT: 'tool:mkfs.xfs',
  };
  if (special[name] !== undefined) return special[name];
  if (name.endsWith('_MS')) return String(4321 + 7 * index);
  return `/var/tmp/"cv" $HOME \\ a=b/${name.toLowerCase()}`;
}

test('every documented setting reaches the plugin through the environment file', async (t) => {
  const documented = await documentedSettings();
  t.true(documented.length >= 20, `found only ${documented.join(' ')}`);
  t.true(documented.includes('CUSTOM_KEK_FILE'));
  const given = Object.fromEntries(documented.map((name, index) => [name, testValue(name, index)]));

  const { envFile, unitFile, result } = await writeUnit(given, [
    '--node',
    '/usr/bin/node',
    '--main',
    '/srv/custom/dist/src/main.js',
    '--print-env',
  ]);
  t.is(result.exitCode, 0, result.stderr);
  t.is((await stat(envFile)).mode & 0o777, 0o600, 'it may name secret paths');
  const written = parseEnvironmentFile(await readFile(envFile, 'utf8'));
  for (const name of documented) {
    // The test hook is never written for the host service (host-unit.ts says why).
    if (isTestHook(name)) t.false(name in written, `${name} was written`);
    else t.is(written[name], given[name], `${name} did not reach the environment file`);
  }
  // --print-env hands the script the same settings.
  const printed = Object.fromEntries(
    result.stdout
      .split('\0')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  t.deepEqual(printed, written);
  // Names only on the terminal: a value may be a secret's path.
  for (const value of Object.values(given).filter((value) => value.length > 5)) {
    t.false(result.stderr.includes(value), `a value was printed: ${result.stderr}`);
  }
  const unit = await readFile(unitFile, 'utf8');
  t.true(unit.includes(`\nEnvironmentFile=-${envFile}\n`), unit);
  t.true(unit.includes('\nExecStart="/usr/bin/node" "/srv/custom/dist/src/main.js"\n'), unit);

  // And the plugin reads each one: its configuration changes without it.
  for (const name of documented) {
    // The test hook is checked with its value put back: loadConfig does read it.
    const environment = isTestHook(name) ? { ...written, [name]: given[name] } : written;
    const without = { ...environment };
    delete without[name];
    t.notDeepEqual(loadConfig(environment), loadConfig(without), `${name} is documented, but the plugin's configuration ignores it`);
  }
});

test('every setting the plugin reads is documented', async (t) => {
  const source = await readFile(join(ROOT, 'src', 'config.ts'), 'utf8');
  const read = new Set([...source.matchAll(/'(CUSTOM_[A-Z0-9_]+)'/g)].map((match) => match[1]!));
  t.true(read.size >= 20, [...read].join(' '));
  const documented = new Set(await documentedSettings());
  t.deepEqual(
    [...read].filter((name) => !documented.has(name)),
    [],
    'add these to the README table',
  );
});

test('a later run keeps what it is not given, replaces what it is given, removes what it is given empty', async (t) => {
  const first = await writeUnit({ CUSTOM_KEK_FILE: '/etc/custom-volume/kek', CUSTOM_LOG_LEVEL: 'debug', CUSTOM_SOCKET: '/run/a.sock' });
  t.is(first.result.exitCode, 0, first.result.stderr);
  const second = await runCli({ CUSTOM_LOG_LEVEL: '', CUSTOM_SOCKET: '/run/b.sock' }, ['--environment-file', first.envFile]);
  t.is(second.exitCode, 0, second.stderr);
  t.deepEqual(parseEnvironmentFile(await readFile(first.envFile, 'utf8')), {
    CUSTOM_KEK_FILE: '/etc/custom-volume/kek',
    CUSTOM_SOCKET: '/run/b.sock',
  });
  t.regex(second.stderr, /kept from before: CUSTOM_KEK_FILE/);
  t.regex(second.stderr, /removed: CUSTOM_LOG_LEVEL/);
});

test('a setting the plugin would refuse, or one with a line break, is refused before anything is written', async (t) => {
  const relative = await writeUnit({ CUSTOM_KEK_FILE: 'etc/kek' });
  t.is(relative.result.exitCode, 1);
  t.regex(relative.result.stderr, /CUSTOM_KEK_FILE=.* must be an absolute path\. Nothing was written/);
  await t.throwsAsync(stat(relative.envFile), { code: 'ENOENT' });
  await t.throwsAsync(stat(relative.unitFile), { code: 'ENOENT' });

  const broken = await writeUnit({ CUSTOM_KEK_FILE: '/etc/kek\nCUSTOM_SOCKET=/tmp/evil.sock' });
  t.is(broken.result.exitCode, 1);
  t.regex(broken.result.stderr, /CUSTOM_KEK_FILE contains a line break/);
  await t.throwsAsync(stat(broken.envFile), { code: 'ENOENT' });
});
