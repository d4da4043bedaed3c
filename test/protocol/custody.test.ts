import test from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPluginProcess } from '../helpers/plugin-process.js';
import { callSocket } from '../helpers/plugin.js';
import { RECOVERY_MS, waitFor } from '../helpers/wait.js';

// The plugin as its own process, as systemd or Docker start it: no core
// dumps, the keys counted (never shown) at start, and a KEK kept with the
// keys it seals named as a problem, in the log and by doctor.

test('the plugin cannot dump core, counts its keys at start, and names a KEK kept inside its state directory', async (t) => {
  const plugin = await startPluginProcess('custody');
  t.teardown(() => plugin.stop());
  const kek = join(plugin.stateDir, 'kek');
  await mkdir(plugin.stateDir, { recursive: true });
  await writeFile(kek, randomBytes(32).toString('hex'), { mode: 0o400 });
  await plugin.kill('SIGTERM');
  await plugin.start({ CUSTOM_KEK_FILE: kek });

  const limits = await readFile(`/proc/${plugin.pid()}/limits`, 'utf8');
  t.regex(limits, /^Max core file size\s+0\s+0\s+bytes/m);

  // Both are logged once recovery has finished, behind the open socket, the warning last.
  const warned = /"msg":"CUSTOM_KEK_FILE lies inside the plugin's state directory, with the keys it seals"/;
  const logs = await waitFor(
    'the start-up log to warn of the KEK',
    () => plugin.logs(),
    (text) => warned.test(text),
    RECOVERY_MS,
  );
  t.regex(logs, /"keys":\{"current":0,"previous":0,"unsealed":0,"unreadable":0,"keyfile":0\},"msg":"volume keys"/);
  t.regex(logs, warned);

  const doctor = (await callSocket(plugin.socket, 'Custom.Doctor', {})).body['Doctor'] as {
    findings: Array<{ severity: string; what: string; fix: string }>;
  };
  t.like(
    doctor.findings.find((f) => f.what.startsWith('CUSTOM_KEK_FILE')),
    { severity: 'problem', what: "CUSTOM_KEK_FILE lies inside the plugin's state directory, with the keys it seals" },
  );
  t.notRegex(plugin.logs(), new RegExp((await readFile(kek, 'utf8')).slice(0, 16)), 'never the KEK itself');
});
