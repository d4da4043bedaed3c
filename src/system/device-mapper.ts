import { runTool } from './run.js';

export interface Availability {
  readonly available: boolean;
  /** Why not, in words a user can act on. */
  readonly reason?: string;
}

async function cryptTargetLoaded(timeoutMs: number): Promise<boolean> {
  const { stdout } = await runTool('dmsetup', ['targets'], { timeoutMs });
  return stdout.split('\n').some((line) => line.trim().startsWith('crypt '));
}

// Can this host open LUKS volumes? `dmsetup targets` needs the device-mapper
// control node; the crypt target appears once dm_crypt is loaded (or built in).
export async function probeDmCrypt(timeoutMs: number): Promise<Availability> {
  try {
    if (await cryptTargetLoaded(timeoutMs)) return { available: true };
  } catch (error) {
    await runTool('modprobe', ['dm_mod'], { timeoutMs }).catch(() => undefined);
    try {
      if (await cryptTargetLoaded(timeoutMs)) return { available: true };
    } catch {
      const detail = error instanceof Error ? error.message : String(error);
      return { available: false, reason: `the kernel has no device-mapper (${detail})` };
    }
  }
  await runTool('modprobe', ['dm_crypt'], { timeoutMs }).catch(() => undefined);
  try {
    if (await cryptTargetLoaded(timeoutMs)) return { available: true };
  } catch {
    // fall through
  }
  return { available: false, reason: 'the kernel has device-mapper but no crypt target (dm_crypt could not be loaded)' };
}
