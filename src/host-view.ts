import { readFile } from 'node:fs/promises';
import type { SystemTools } from './system/index.js';
import type { HostView } from './volumes/host.js';
import { UsageSnapshot } from './volumes/usage.js';
import type { HostResidue } from './backings/residue.js';

// In a private PID namespace (a managed plugin without "pidhost") the plugin
// sees no container, and would take every lease for stale: it then says it
// cannot tell. The host's namespace is the one where PID 2 is kthreadd.
const PRIVATE_PID_NAMESPACE =
  'the plugin runs in a private PID namespace and cannot see containers; a managed plugin needs "pidhost": true in its config.json';

async function seesHostProcesses(): Promise<boolean> {
  return (await readFile('/proc/2/comm', 'utf8').catch(() => '')).trim() === 'kthreadd';
}

/** The real HostView: /proc for users and the boot ID, statfs for space, the residue for live ids. */
export async function createHostView(tools: SystemTools, residue: HostResidue, dataDir: string): Promise<HostView> {
  const bootId = await tools.readBootId();
  const hostPids = await seesHostProcesses();
  return {
    bootId,
    scanUsers: async () => {
      if (!hostPids) throw new Error(PRIVATE_PID_NAMESPACE);
      return new UsageSnapshot((await tools.scanBindMounts()).mounts);
    },
    liveIds: () => residue.liveIds(),
    inventory: () => residue.inventory(),
    freeBytes: async () => (await tools.filesystemUsage(dataDir)).availableBytes,
    discardStaging: (id, dir, owns) => residue.discardStaging(id, dir, owns),
  };
}
