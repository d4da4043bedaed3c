import { join } from 'node:path';
import type { SystemTools } from '../system/index.js';
import type { VolumePaths } from './backing.js';
import type { UndoStack } from './undo.js';

// The block-device layer shared by the image-file backed types: a sparse file
// attached to one loop device. An image is never attached twice: two devices
// on one image mounted at once would corrupt it.

export async function provisionImage(
  tools: SystemTools,
  dir: string,
  image: string,
  sizeBytes: number,
  undo: UndoStack,
  sparse = true,
): Promise<void> {
  // Exclusive: a directory left by an earlier volume of this name (state
  // lost, image kept) is someone's data; refuse rather than adopt or delete it.
  await tools.makeNewDirectory(dir);
  undo.push('remove volume directory', () => tools.removeTree(dir));
  if (sparse) await tools.createSparseFile(image, sizeBytes);
  else await tools.createAllocatedFile(image, sizeBytes);
}

// Matched by the file's identity, not its path: the kernel prints a loop's
// backing file relative to the mount namespace that attached it, so after a
// managed plugin restarts the same image shows under another path.
export async function loopsOf(tools: SystemTools, image: string): Promise<string[]> {
  const identity = await tools.fileIdentity(image);
  if (identity === undefined) return [];
  const loops = await tools.listLoops();
  return loops.filter((loop) => loop.backingIdentity === identity).map((loop) => loop.device);
}

/** The image's loop device, attaching one if there is none. */
export async function ensureLoop(tools: SystemTools, image: string, undo: UndoStack): Promise<string> {
  const existing = await loopsOf(tools, image);
  if (existing[0] !== undefined) return existing[0];
  const device = await tools.attachLoop(image);
  undo.push(`detach ${device}`, () => tools.detachLoop(device));
  return device;
}

export async function detachAll(tools: SystemTools, image: string): Promise<void> {
  for (const device of await loopsOf(tools, image)) await tools.detachLoop(device);
}

/**
 * `retain=true`: the volume's directory is moved to <dataDir>/.retained/<id>-<time>
 * instead of being deleted, so the name can be used again and the data stays.
 */
export async function retainStorage(tools: SystemTools, paths: VolumePaths, id: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const destination = join(paths.retainRoot, `${id}-${stamp}`);
  await tools.moveDirectory(paths.dir, destination);
  return destination;
}
