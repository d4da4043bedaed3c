import { quoted } from '../lib/quoted.js';
// The host service's two files, as `make run` writes them (scripts/run-plugin.sh
// through write-unit.ts): the systemd unit, and the environment file that holds
// the plugin's settings across runs. Pure: text in, text out.

export type Env = Readonly<Record<string, string | undefined>>;

const SETTING = /^CUSTOM_[A-Za-z0-9_]+$/;

// Not read by the plugin itself but by libdevmapper in the dmsetup and
// cryptsetup it runs, which inherit its environment (system/run.ts extends it);
// the README documents it for hosts without udev.
const INHERITED_SETTINGS: ReadonlySet<string> = new Set(['DM_DISABLE_UDEV']);

// Test hooks (CUSTOM_TEST_PAUSE_AT, the test helpers' CUSTOM_TEST_TMP) are never
// kept for the host service: a kept pause would stop the plugin at that step on
// every start, boot included, before Docker. Fault tests start their own plugin.
const TEST_HOOK = /^CUSTOM_TEST_/;

/** Whether `name` is a test hook that the environment file never keeps. */
export function isTestHook(name: string): boolean {
  return TEST_HOOK.test(name);
}

/** The plugin's settings present in `env` (CUSTOM_*, DM_DISABLE_UDEV), sorted; present but empty counts. */
export function settingNames(env: Env): string[] {
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && (SETTING.test(name) || INHERITED_SETTINGS.has(name)))
    .sort();
}

// systemd reads a line break as the end of the assignment, and no environment
// holds a NUL: such a value would reach the plugin cut short, or not at all.
function refuseUnsafe(name: string, value: string): void {
  if (/[\n\r\0]/.test(value)) {
    throw new Error(
      `${name} contains a line break or a NUL byte, which the plugin's environment file cannot hold; set it to a value without one, or give it empty (${name}= make run) to remove it`,
    );
  }
}

/**
 * The settings for the environment file: a setting given non-empty replaces
 * the file's, one given empty removes it, one not given at all is kept (a plain
 * `make run` after `git pull` keeps the KEK). Other lines of the file (an
 * administrator's) are kept too; test hooks never are.
 */
export function mergeEnvironment(existingFileText: string | undefined, given: Env): Record<string, string> {
  const merged = existingFileText === undefined ? {} : parseEnvironmentFile(existingFileText);
  for (const name of settingNames(given)) {
    const value = given[name] ?? '';
    if (isTestHook(name)) continue;
    if (value === '') delete merged[name];
    else {
      refuseUnsafe(name, value);
      merged[name] = value;
    }
  }
  for (const name of Object.keys(merged)) {
    // An empty value is the same as none to the plugin (config.ts); the file stays minimal.
    if (isTestHook(name) || merged[name] === '') delete merged[name];
  }
  return merged;
}

const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Escaped as systemd itself writes environment files (env-file.c): these four after a backslash, inside double quotes. */
const SHELL_NEED_ESCAPE = '"\\`$';

const HEADER = `# Settings of the custom volume plugin's host service (custom-volume.service),
# written by \`make run\` (scripts/run-plugin.sh), which keeps what is here:
#   CUSTOM_KEK_FILE=/etc/custom-volume/kek make run   sets one, keeps the others
#   CUSTOM_KEK_FILE= make run                         removes one
# An edit here takes effect at the plugin's next start (make run, or systemctl restart custom-volume).
# The settings are in README.md, "Configuration (environment)".
`;

/** The file systemd's EnvironmentFile= reads: a header, then `KEY="value"` lines, sorted. */
export function renderEnvironmentFile(vars: Readonly<Record<string, string>>): string {
  const lines = Object.keys(vars)
    .sort()
    .map((name) => {
      const value = vars[name] ?? '';
      if (!VALID_NAME.test(name)) throw new Error(`${quoted(name)} is not a valid environment variable name`);
      refuseUnsafe(name, value);
      return `${name}="${[...value].map((c) => (SHELL_NEED_ESCAPE.includes(c) ? `\\${c}` : c)).join('')}"\n`;
    });
  return HEADER + lines.join('');
}

const WHITESPACE = ' \t\n\r';
const NEWLINE = '\n\r';
const COMMENTS = '#;';

type ParseState =
  | 'preKey'
  | 'key'
  | 'preValue'
  | 'value'
  | 'valueEscape'
  | 'singleQuote'
  | 'doubleQuote'
  | 'doubleQuoteEscape'
  | 'comment'
  | 'commentEscape';

/**
 * Reads an environment file as systemd does (parse_env_file_internal in
 * env-file.c, followed state by state), so a hand-edited file merges as the
 * service would see it: comments (# ;), unquoted values with backslash escapes
 * and trailing blanks dropped, '…' literal, "…" with \" \\ \` \$ unescaped and
 * any other backslash kept. No $VAR expansion: EnvironmentFile= does none.
 * Names that are not valid are dropped, as systemd drops them.
 */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let state: ParseState = 'preKey';
  let key = '';
  let value = '';
  // Where trailing blanks of the key or unquoted value start; -1: none.
  let keyBlank = -1;
  let valueBlank = -1;
  const push = () => {
    const name = keyBlank < 0 ? key : key.slice(0, keyBlank);
    if (VALID_NAME.test(name)) vars[name] = value;
    key = '';
    value = '';
  };
  const chompValue = () => {
    if (valueBlank >= 0) value = value.slice(0, valueBlank);
  };
  for (const c of text) {
    switch (state) {
      case 'preKey':
        if (COMMENTS.includes(c)) state = 'comment';
        else if (!WHITESPACE.includes(c)) {
          state = 'key';
          keyBlank = -1;
          key = c;
        }
        break;
      case 'key':
        if (NEWLINE.includes(c)) {
          state = 'preKey'; // no '=': not an assignment
          key = '';
        } else if (c === '=') {
          state = 'preValue';
          valueBlank = -1;
        } else {
          if (!WHITESPACE.includes(c)) keyBlank = -1;
          else if (keyBlank < 0) keyBlank = key.length;
          key += c;
        }
        break;
      case 'preValue':
        if (NEWLINE.includes(c)) {
          state = 'preKey';
          push();
        } else if (c === "'") state = 'singleQuote';
        else if (c === '"') state = 'doubleQuote';
        else if (c === '\\') state = 'valueEscape';
        else if (!WHITESPACE.includes(c)) {
          state = 'value';
          value += c;
        }
        break;
      case 'value':
        if (NEWLINE.includes(c)) {
          state = 'preKey';
          chompValue();
          push();
        } else if (c === '\\') {
          state = 'valueEscape';
          valueBlank = -1;
        } else {
          if (!WHITESPACE.includes(c)) valueBlank = -1;
          else if (valueBlank < 0) valueBlank = value.length;
          value += c;
        }
        break;
      case 'valueEscape':
        state = 'value';
        if (!NEWLINE.includes(c)) value += c; // an escaped line break continues the line
        break;
      case 'singleQuote':
        if (c === "'") state = 'preValue';
        else value += c;
        break;
      case 'doubleQuote':
        if (c === '"') state = 'preValue';
        else if (c === '\\') state = 'doubleQuoteEscape';
        else value += c;
        break;
      case 'doubleQuoteEscape':
        state = 'doubleQuote';
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== '\n') value += `\\${c}`;
        break;
      case 'comment':
        if (c === '\\') state = 'commentEscape';
        else if (NEWLINE.includes(c)) state = 'preKey';
        break;
      case 'commentEscape':
        state = NEWLINE.includes(c) ? 'preKey' : 'comment';
        break;
    }
  }
  switch (state) {
    case 'value':
      chompValue();
      push();
      break;
    case 'preValue':
    case 'valueEscape':
    case 'singleQuote':
    case 'doubleQuote':
    case 'doubleQuoteEscape':
      push();
      break;
    case 'preKey':
    case 'key':
    case 'comment':
    case 'commentEscape':
      break;
  }
  return vars;
}

export interface UnitPaths {
  /** The node binary. */
  readonly node: string;
  /** The plugin's entry point, dist/src/main.js. */
  readonly mainJs: string;
  /** The settings (renderEnvironmentFile); a missing file is no error. */
  readonly environmentFile: string;
}

function checkPath(what: string, path: string): void {
  if (!path.startsWith('/')) throw new Error(`${what} must be an absolute path, not ${quoted(path)}`);
  // The unit is line-based: systemd strips a line's trailing blanks, and a trailing backslash continues it.
  if (/[\n\r\0]/.test(path) || /[\s\\]$/.test(path)) {
    throw new Error(
      `${what} ${quoted(path)} cannot be written in a systemd unit (a line break, a NUL, or a blank or backslash at its end)`,
    );
  }
}

// The executable of ExecStart=: systemd refuses one with a quote, a backslash or a
// control character ("Executable name contains special characters", fatal), so
// such a path is refused here, with the path to move. Double-quoted so blanks
// stay inside it; % doubled (specifiers). No $ substitution happens in it.
function execPath(what: string, path: string): string {
  checkPath(what, path);
  if (/["'\\\x00-\x1f\x7f]/.test(path)) {
    throw new Error(
      `${what} ${quoted(path)} holds a quote, a backslash or a control character, which systemd refuses in an executable's path; install it elsewhere`,
    );
  }
  return `"${path.replace(/%/g, '%%')}"`;
}

// An ExecStart= argument: double-quoted so blanks stay inside it (and a ";" is
// no command separator), \ and " C-escaped, % doubled (specifiers), $ doubled
// (systemd substitutes $VAR in arguments).
function execArgument(what: string, path: string): string {
  checkPath(what, path);
  return `"${path.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[%$]/g, (c) => c + c)}"`;
}

// EnvironmentFile= takes the rest of the line as the path, quotes included:
// only specifiers need escaping.
function environmentFilePath(path: string): string {
  checkPath('the environment file', path);
  return path.replace(/%/g, '%%');
}

/**
 * The unit. Ordered before docker.service, which at boot restores containers
 * whose volumes the plugin must serve. After the network is up (wanted, as
 * systemd.special(7) asks): replicated volumes reach peers on other hosts.
 * After glusterd (wanted, not required):
 * replicated volumes mount from it, and at shutdown the plugin stops before it;
 * `make run` starts it anyway when GlusterFS is installed, and a glusterd that
 * is not installed is no error for Wants=. KillMode=process: the volumes'
 * helpers (GlusterFS clients) outlive a restart, and volumes stay mounted.
 * LimitCORE=0: keys live in the plugin's memory, never in a core dump.
 */
export function renderUnit(paths: UnitPaths): string {
  return `# Written by \`make run\` (scripts/run-plugin.sh): an edit here is lost at the next run.
# The settings are in ${paths.environmentFile}.
[Unit]
Description=custom Docker volume plugin
Before=docker.service
Wants=network-online.target glusterd.service
After=local-fs.target network-online.target glusterd.service

[Service]
EnvironmentFile=-${environmentFilePath(paths.environmentFile)}
ExecStart=${execPath('node', paths.node)} ${execArgument('the plugin', paths.mainJs)}
KillMode=process
Restart=always
RestartSec=1
LimitCORE=0

[Install]
WantedBy=multi-user.target docker.service
`;
}
