import { join } from 'node:path';
import type { VolumePaths } from '../backings/backing.js';

export interface PathRoots {
  readonly dataDir: string;
  readonly mountDir: string;
}

export function volumePaths(roots: PathRoots, id: string): VolumePaths {
  const dir = join(roots.dataDir, id);
  const mountRoot = join(roots.mountDir, id);
  return {
    dir,
    image: join(dir, 'disk.img'),
    mountRoot,
    mountpoint: join(mountRoot, '_data'),
  };
}
