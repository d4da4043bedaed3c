import { runTool } from './run.js';

// The plugin holds volume keys and the KEK in memory: a core dump would write
// them to disk. Node cannot call setrlimit or prctl(PR_SET_DUMPABLE) itself,
// so util-linux prlimit sets this process's RLIMIT_CORE to 0, soft and hard
// (it cannot be raised again). The systemd unit says LimitCORE=0 as well; a
// managed plugin has no rlimit setting in its config.json, so this is its only
// guard. A core_pattern that pipes to a helper (systemd-coredump, apport)
// still starts the helper; both honour the limit and store nothing.
export async function disableCoreDumps(timeoutMs: number): Promise<void> {
  await runTool('prlimit', ['--pid', String(process.pid), '--core=0:0'], { timeoutMs });
}
