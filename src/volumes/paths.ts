import { join } from 'node:path';
import type { VolumePaths } from '../backings/backing.js';
import { IMAGE_NAME, RETAINED_DIR, UNMOUNTED_DIR, VOLUME_ROOT_DIR } from '../state/layout.js';

export interface PathRoots {
  readonly dataDir: string;
  readonly mountDir: string;
}

export function volumePaths(roots: PathRoots, id: string): VolumePaths {
  const dir = join(roots.dataDir, id);
  const mountRoot = join(roots.mountDir, id);
  return {
    dir,
    image: join(dir, IMAGE_NAME),
    mountRoot,
    mountpoint: join(mountRoot, VOLUME_ROOT_DIR),
    retainRoot: join(roots.dataDir, RETAINED_DIR),
  };
}

/**
 * The same volume with its files in `dir` (being created, or being removed),
 * and a mount root inside `dir` that is never mounted: nothing done to it can
 * touch the mount of a live volume with the same id.
 */
export function volumePathsAt(roots: PathRoots, id: string, dir: string): VolumePaths {
  const mountRoot = join(dir, UNMOUNTED_DIR);
  return { ...volumePaths(roots, id), dir, image: join(dir, IMAGE_NAME), mountRoot, mountpoint: join(mountRoot, VOLUME_ROOT_DIR) };
}
