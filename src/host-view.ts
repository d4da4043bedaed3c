import type { SystemTools } from './system/index.js';
import type { HostView } from './volumes/host.js';
import { UsageSnapshot } from './volumes/usage.js';
import type { HostResidue } from './backings/residue.js';

/** The real HostView: /proc for users and the boot ID, statfs for space, the residue for live ids. */
export async function createHostView(tools: SystemTools, residue: HostResidue, dataDir: string): Promise<HostView> {
  const bootId = await tools.readBootId();
  return {
    bootId,
    scanUsers: async () => new UsageSnapshot((await tools.scanBindMounts()).mounts),
    liveIds: () => residue.liveIds(),
    freeBytes: async () => (await tools.filesystemUsage(dataDir)).availableBytes,
    discardStaging: (id, dir, owns) => residue.discardStaging(id, dir, owns),
  };
}
