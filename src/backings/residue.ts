import { basename, dirname, join } from 'node:path';
import type { SystemTools } from '../system/index.js';
import { IMAGE_NAME, type VolumePaths } from './backing.js';
import { detachAll } from './loop-image.js';
import { unmountFilesystem } from './filesystem.js';
import { mapperName, mapperPath } from './luks-layer.js';

export interface ResidueRoots {
  readonly dataDir: string;
  readonly mountDir: string;
}

function isDirectChild(parent: string, path: string): boolean {
  return dirname(path) === parent;
}

/**
 * What is still live on the host under our roots: the ids of volumes that
 * have a mount or a loop device. Recovery compares it with the leases.
 */
export class HostResidue {
  constructor(
    private readonly tools: SystemTools,
    private readonly roots: ResidueRoots,
  ) {}

  async liveIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const mount of await this.tools.listMounts()) {
      if (isDirectChild(this.roots.mountDir, mount.target)) ids.add(basename(mount.target));
    }
    const loops = await this.tools.listLoops();
    if (loops.length === 0) return ids;
    // Loop devices are matched to volume directories by the image's identity.
    const owners = new Map<string, string>();
    for (const id of await this.tools.listDirectory(this.roots.dataDir)) {
      const identity = await this.tools.fileIdentity(join(this.roots.dataDir, id, IMAGE_NAME));
      if (identity) owners.set(identity, id);
    }
    for (const loop of loops) {
      const id = loop.backingIdentity ? owners.get(loop.backingIdentity) : undefined;
      if (id) ids.add(id);
    }
    return ids;
  }

  /** Unmounts, closes and detaches what belongs to no volume we know; keeps files. */
  async release(id: string, paths: VolumePaths): Promise<void> {
    await unmountFilesystem(this.tools, paths);
    // An encrypted orphan's mapping holds its loop device open.
    if (await this.tools.pathExists(mapperPath(id))) await this.tools.luksClose(mapperName(id));
    await detachAll(this.tools, paths.image);
  }
}
