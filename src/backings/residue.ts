import { basename, dirname, join } from 'node:path';
import type { SystemTools } from '../system/index.js';
import { detachAll } from './loop-image.js';
import { closeImageMappings } from './luks-layer.js';
import { FROZEN_MARK, IMAGE_NAME } from '../state/layout.js';

/** What is attached or mounted under our roots, for `custom-volume doctor`. */
export interface HostInventory {
  /** Mounts directly under the mount directory, by volume id. */
  readonly mounts: ReadonlyArray<{ readonly target: string; readonly id: string }>;
  /** Loop devices on a volume's image (id) or on any other file under the data directory (id undefined). */
  readonly loops: ReadonlyArray<{
    readonly device: string;
    readonly id: string | undefined;
    readonly backingFile: string;
    readonly mappings: readonly string[];
  }>;
  /** Volume directories in the data directory (hidden ones and lost+found left out). */
  readonly dirs: readonly string[];
  /** Those of them that hold an image. */
  readonly imageDirs: readonly string[];
  /** Volumes whose filesystem a snapshot froze and nothing thawed yet (a plugin killed meanwhile). */
  readonly frozen: readonly string[];
}

export interface ResidueRoots {
  readonly dataDir: string;
  readonly mountDir: string;
}

function isDirectChild(parent: string, path: string): boolean {
  return dirname(path) === parent;
}

/**
 * What is live on the host under our roots: the ids of volumes that have a
 * mount or a loop device. Recovery compares it with the leases; it releases
 * only volumes it knows, never an id without a record.
 */
export class HostResidue {
  constructor(
    private readonly tools: SystemTools,
    private readonly roots: ResidueRoots,
    private readonly removeKey: (id: string) => Promise<void>,
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

  async inventory(): Promise<HostInventory> {
    const mounts = (await this.tools.listMounts())
      .filter((mount) => isDirectChild(this.roots.mountDir, mount.target))
      .map((mount) => ({ target: mount.target, id: basename(mount.target) }));
    const dirs = (await this.tools.listDirectory(this.roots.dataDir)).filter((entry) => !entry.startsWith('.') && entry !== 'lost+found');
    const owners = new Map<string, string>();
    for (const id of dirs) {
      const identity = await this.tools.fileIdentity(join(this.roots.dataDir, id, IMAGE_NAME));
      if (identity) owners.set(identity, id);
    }
    const loops = [];
    for (const loop of await this.tools.listLoops()) {
      const id = loop.backingIdentity ? owners.get(loop.backingIdentity) : undefined;
      // Under .creating/ or .trash/: a create or remove at work, or finished by the next start.
      if (id === undefined && (!loop.backingFile.startsWith(`${this.roots.dataDir}/`) || loop.backingFile.includes('/.'))) continue;
      const mappings = (await this.tools.mappingsOn(loop.device)).map((mapping) => mapping.name);
      loops.push({ device: loop.device, id, backingFile: loop.backingFile, mappings });
    }
    const frozen = [];
    for (const id of dirs) if (await this.tools.pathExists(join(this.roots.dataDir, id, FROZEN_MARK))) frozen.push(id);
    return { mounts, loops, dirs, imageDirs: [...owners.values()], frozen };
  }

  // An interrupted create: it never was a volume, and no volume of its id can
  // exist while it is there (a Create finishes it first, under the id's lock),
  // so its mapping and key are its own.
  async discardStaging(id: string, dir: string, ownsIdentity: boolean): Promise<void> {
    const image = join(dir, IMAGE_NAME);
    if (ownsIdentity) await closeImageMappings(this.tools, image);
    await detachAll(this.tools, image);
    if (ownsIdentity) await this.removeKey(id);
    await this.tools.removeTree(dir);
  }
}
