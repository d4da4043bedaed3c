import test from 'ava';
import { startDockerd, type Dockerd } from './dockerd.js';
import { startPluginProcess, type PluginProcess } from './plugin-process.js';

// What most e2e files start before their tests and stop after them: the
// plugin as its own process, then a private dockerd that uses it. A file calls
// usePluginAndDockerd once, at its top, and its tests use `plugin` and
// `dockerd` from here: live bindings, set by the before hook. Each test file
// runs in a process of its own, so each file has its own pair.

export let plugin: PluginProcess;
export let dockerd: Dockerd;

/** Before this file's tests: the plugin (`env` added to its environment), then a dockerd, both named after `prefix`; after them, the other way round. */
export function usePluginAndDockerd(prefix: string, env: Readonly<Record<string, string>> = {}): void {
  test.before(async () => {
    plugin = await startPluginProcess(prefix, env);
    dockerd = await startDockerd(prefix);
  });
  test.after.always(async () => {
    await dockerd?.stop();
    await plugin?.stop();
  });
}
