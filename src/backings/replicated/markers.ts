import { join } from 'node:path';
import { writeFileDurably } from '../../state/durable-file.js';
import type { SystemTools } from '../../system/index.js';
import { HOSTS_DIR, VOLUMES_DIR } from '../../state/layout.js';
import { listReal, readPoolFile, realDirectory, removeEntry } from './pool-paths.js';

// volumes/<id>/hosts/<glusterd uuid>: "this host has the volume mounted".
// Written before the bind and removed after the unmount, so a Remove on
// another host that sees none can go ahead. A host that dies with it mounted
// leaves its marker until its plugin starts again and sweeps it.

export class HostMarkers {
  constructor(
    private readonly tools: SystemTools,
    private readonly hostId: () => Promise<string>,
    private readonly hostName: string,
  ) {}

  async mark(pool: string, id: string): Promise<void> {
    const dir = await realDirectory(this.tools, pool, VOLUMES_DIR, id, HOSTS_DIR);
    if (dir === undefined)
      throw new Error(`its directory /${VOLUMES_DIR}/${id}/${HOSTS_DIR} in the pool is missing or not a real directory`);
    await writeFileDurably(
      join(dir, await this.hostId()),
      `${JSON.stringify({ host: this.hostName, since: new Date().toISOString() })}\n`,
      0o600,
    );
  }

  async unmark(pool: string, id: string): Promise<void> {
    await removeEntry(this.tools, pool, VOLUMES_DIR, id, HOSTS_DIR, await this.hostId());
  }

  /** Other hosts' markers in a volume's directory (volumes/<id> or where it was moved), by host name. */
  async others(pool: string, ...dir: string[]): Promise<string[]> {
    const self = await this.hostId();
    const base = await realDirectory(this.tools, pool, ...dir, HOSTS_DIR);
    if (base === undefined) return [];
    const hosts: string[] = [];
    // Dot-files are writeFileDurably's temporaries, not markers.
    for (const entry of (await listReal(this.tools, pool, ...dir, HOSTS_DIR)).filter((e) => e !== self && !e.startsWith('.'))) {
      const text = (await readPoolFile(this.tools, join(base, entry))) ?? '';
      hosts.push((/"host":\s*"([^"]{1,253})"/.exec(text)?.[1] ?? entry).replace(/[^\w.:-]/g, '?'));
    }
    return hosts.sort();
  }

  /** This host's marker on a volume, with its age; undefined when there is none. */
  async ownAgeMs(pool: string, id: string): Promise<number | undefined> {
    const dir = await realDirectory(this.tools, pool, VOLUMES_DIR, id, HOSTS_DIR);
    if (dir === undefined) return undefined;
    const info = await this.tools.fileStat(join(dir, await this.hostId()));
    return info ? Date.now() - info.mtimeMs : undefined;
  }
}
