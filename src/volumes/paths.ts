import { join } from 'node:path';
import { IMAGE_NAME, type VolumePaths } from '../backings/backing.js';

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
    mountpoint: join(mountRoot, '_data'),
  };
}

/** The same volume with its files in `dir` (being created, or being removed). */
export function volumePathsAt(roots: PathRoots, id: string, dir: string): VolumePaths {
  return { ...volumePaths(roots, id), dir, image: join(dir, IMAGE_NAME) };
}
