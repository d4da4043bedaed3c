import type { VolumeType } from '../state/schema.js';
import type { Backings } from './service.js';
import { parseVolumeSpec } from './spec.js';

/** For each volume type: "available", or "unavailable: <why>". Logged at start-up. */
export async function checkHost(backings: Backings): Promise<Record<VolumeType, string>> {
  const result = {} as Record<VolumeType, string>;
  for (const type of Object.keys(backings) as VolumeType[]) {
    try {
      const problem = await backings[type].preflight(parseVolumeSpec('doctor', { type }));
      result[type] = problem ? `unavailable: ${problem}` : 'available';
    } catch (error) {
      result[type] = `unavailable: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return result;
}
