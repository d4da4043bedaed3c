import type { MountIdentity } from '../backings/backing.js';

/** A bind mount seen in some mount namespace (see system/mount-users.ts). */
export interface SeenBindMount {
  readonly majMin: string;
  readonly source: string;
  /** The directory of its filesystem that is mounted ("/_data", "/volumes/<id>/_data"). */
  readonly root?: string;
}

// One scan of the host, asked about many volumes: the scan costs one read of
// mountinfo per mount namespace, each question a look-up.
export class UsageSnapshot {
  private readonly byMajMin = new Map<string, number[]>();
  private readonly bySource = new Map<string, number[]>();

  /** `takenAt`: when the host was read. A lease newer than that cannot be judged by it. */
  constructor(
    private readonly mounts: readonly SeenBindMount[],
    readonly takenAt: number = Date.now(),
  ) {
    mounts.forEach((mount, index) => {
      push(this.byMajMin, mount.majMin, index);
      push(this.bySource, mount.source, index);
    });
  }

  /** How many bind mounts of this volume exist on the host (a container each, usually). */
  usersOf(identity: MountIdentity): number {
    const hits = new Set<number>();
    // Anonymous device numbers (major 0: btrfs, FUSE) are unique per mount;
    // a loop or dm device's number is unique while it is attached.
    const inside = (index: number) => identity.subtree === undefined || isInside(this.mounts[index]?.root, identity.subtree);
    for (const majMin of identity.majMins) for (const index of this.byMajMin.get(majMin) ?? []) if (inside(index)) hits.add(index);
    for (const source of identity.sources) for (const index of this.bySource.get(source) ?? []) hits.add(index);
    return hits.size;
  }
}

/** Strictly below `dir`: the directory itself is the plugin's own mount of the volume. */
function isInside(root: string | undefined, dir: string): boolean {
  return root !== undefined && root.startsWith(`${dir}/`);
}

function push(map: Map<string, number[]>, key: string, index: number): void {
  const list = map.get(key);
  if (list) list.push(index);
  else map.set(key, [index]);
}
