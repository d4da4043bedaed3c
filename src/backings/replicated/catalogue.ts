import { join } from 'node:path';
import type { MetaRead } from '../../state/volume-meta.js';
import { listReal, readPoolMeta, realDirectory } from './pool-paths.js';
import { validateRecord, type VolumeRecord } from '../../state/schema.js';
import type { GlusterTools, GlusterVolume, SystemTools } from '../../system/index.js';
import type { CatalogRead } from '../backing.js';
import { decode, glusterName, legacyVolumeId, META, POOL_KINDS, poolKind, type PoolKind } from './names.js';
import { VOLUMES_DIR } from '../../state/layout.js';
import { volumeId } from '../../state/volume-id.js';
import type { GlusterPools } from './pool.js';
import { withDeadline } from '../../lib/deadline.js';

const CATALOG_TTL_MS = 2000;
// Few at a time: each read over FUSE holds one of libuv's four threads while a peer is slow.
const READ_AT_ONCE = 2;
const STALE_AFTER_MS = 1000;
const ENTRY_REFRESH_MS = 30_000;
const REFRESH_PER_READ = 64;

interface MutableRead {
  records: VolumeRecord[];
  problems: Array<{ name: string; problem: string }>;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The record another host wrote into a legacy GlusterFS volume's user.*
 * options: input like any other, so validated (shape, and id against name).
 * Not ours, or retained: undefined.
 */
export function recordFromGluster(volume: GlusterVolume): { record: VolumeRecord } | { problem: string } | undefined {
  const id = legacyVolumeId(volume.name);
  const name = volume.options[`${META}name`];
  const spec = volume.options[`${META}spec`];
  if (id === undefined || !name || !spec || volume.options[`${META}retained`]) return undefined;
  const checked = validateRecord({
    name: decode(name),
    id,
    spec: parseJson(decode(spec)),
    createdAt: volume.options[`${META}created`] ?? new Date(0).toISOString(),
    leases: {},
  });
  if ('problem' in checked) return checked;
  const { spec: read } = checked.record;
  if (read.type !== 'replicated') return { problem: 'not a replicated volume' };
  return read.layout === undefined ? checked : { problem: 'a GlusterFS volume of its own cannot hold a pool-layout volume' };
}

/**
 * Every host's plugin lists the same replicated volumes (global scope): the
 * legacy ones from GlusterFS's volume options, the pool ones from each pool's
 * volumes/<id>/volume.json. Read at most every 2 s.
 */
export class GlusterCatalogue {
  private cached: { at: number; read: CatalogRead } | undefined;
  // A read that started before a change must not refill the cache with what the change made stale.
  private generation = 0;

  constructor(
    private readonly tools: SystemTools,
    private readonly gluster: GlusterTools,
    private readonly pools: GlusterPools,
  ) {}

  /** After this host changed a volume (id): the next read is fresh, and reads that volume's directory again. */
  invalidate(id?: string): void {
    this.generation += 1;
    this.cached = undefined;
    if (id !== undefined) for (const kind of POOL_KINDS) this.entries.delete(`${kind}/${id}`);
  }

  async read(): Promise<CatalogRead> {
    const cached = this.cached;
    if (cached && Date.now() - cached.at < CATALOG_TTL_MS) return cached.read;
    // One read at a time. A peer that hangs can stall reads of the pool for
    // GlusterFS's ping timeout: then the last read answers, a little stale,
    // rather than none.
    // A read started before an invalidate() is not shared: it may miss what this host just changed.
    if (this.inflight?.generation !== this.generation) {
      const started = { generation: this.generation, read: this.readNow() };
      this.inflight = started;
      void started.read
        .finally(() => {
          if (this.inflight === started) this.inflight = undefined;
        })
        .catch(() => undefined);
    }
    const inflight = this.inflight!.read;
    if (!cached) return inflight;
    return withDeadline(inflight, STALE_AFTER_MS, () => cached.read);
  }

  private inflight: { generation: number; read: Promise<CatalogRead> } | undefined;

  private async readNow(): Promise<CatalogRead> {
    const generation = this.generation;
    const read: MutableRead = { records: [], problems: [] };
    const volumes = await this.gluster.volumeInfo();
    for (const volume of volumes) {
      const entry = recordFromGluster(volume);
      if (entry && 'record' in entry) read.records.push(entry.record);
      else if (entry) read.problems.push({ name: volume.name, problem: entry.problem });
    }
    for (const kind of POOL_KINDS) {
      if (volumes.some((volume) => volume.name === this.pools.nameOf(kind))) await this.readPool(kind, read);
    }
    if (generation === this.generation) this.cached = { at: Date.now(), read };
    return read;
  }

  // volume.json is written once, before the commit rename: an entry read
  // once is kept, and re-read after ENTRY_REFRESH_MS (a volume removed and made
  // again under the same name on another host), a few per read.
  private readonly entries = new Map<string, { at: number; meta: MetaRead }>();

  private async readPool(kind: PoolKind, read: MutableRead): Promise<void> {
    const pool = await this.pools.mounted(kind);
    const dir = join(pool, VOLUMES_DIR);
    const listed = await listReal(this.tools, pool, VOLUMES_DIR);
    const key = (entry: string) => `${kind}/${entry}`;
    const present = new Set(listed.map(key));
    for (const cached of this.entries.keys()) if (cached.startsWith(`${kind}/`) && !present.has(cached)) this.entries.delete(cached);
    const now = Date.now();
    const unread = listed.filter((entry) => !this.entries.has(key(entry)));
    const stale = listed.filter((entry) => now - (this.entries.get(key(entry))?.at ?? now) > ENTRY_REFRESH_MS).slice(0, REFRESH_PER_READ);
    const toRead = [...unread, ...stale];
    const fresh = new Map<string, MetaRead>();
    const generation = this.generation;
    for (let start = 0; start < toRead.length; start += READ_AT_ONCE) {
      const batch = toRead.slice(start, start + READ_AT_ONCE);
      const metas = await Promise.all(
        batch.map(async (entry): Promise<MetaRead> =>
          (await realDirectory(this.tools, pool, VOLUMES_DIR, entry)) === undefined
            ? { problem: 'not a real directory', missing: false }
            : readPoolMeta(this.tools, join(dir, entry)),
        ),
      );
      // Only good reads are kept (and only by a read no local change overtook):
      // a read that failed (a slow peer, a torn file) is tried again next time.
      metas.forEach((meta, index) => {
        fresh.set(key(batch[index]!), meta);
        if ('record' in meta && generation === this.generation) this.entries.set(key(batch[index]!), { at: Date.now(), meta });
      });
    }
    for (const entry of listed) {
      const meta = fresh.get(key(entry)) ?? this.entries.get(key(entry))?.meta;
      if (!meta) continue;
      const where = `${this.pools.nameOf(kind)}:/${VOLUMES_DIR}/${entry}`;
      if ('problem' in meta) read.problems.push({ name: where, problem: meta.problem });
      else if (meta.record.id !== entry) read.problems.push({ name: where, problem: `volume.json names volume id ${meta.record.id}` });
      else if (meta.record.spec.type !== 'replicated' || meta.record.spec.layout !== 'pool' || poolKind(meta.record.spec) !== kind)
        read.problems.push({ name: where, problem: `not a pool-layout replicated volume of ${this.pools.nameOf(kind)}` });
      else read.records.push(meta.record);
    }
  }

  /** One volume by name, read now: the pool directory of its id, else a legacy GlusterFS volume. */
  async entry(name: string): Promise<VolumeRecord | undefined> {
    const id = volumeId(name);
    for (const kind of POOL_KINDS) {
      if (!(await this.pools.existing(kind))) continue;
      const pool = await this.pools.mounted(kind);
      const dir = await realDirectory(this.tools, pool, VOLUMES_DIR, id);
      if (dir === undefined) continue;
      const meta = await readPoolMeta(this.tools, dir);
      const spec = 'record' in meta ? meta.record.spec : undefined;
      if (
        'record' in meta &&
        meta.record.name === name &&
        meta.record.id === id &&
        spec?.type === 'replicated' &&
        spec.layout === 'pool' &&
        poolKind(spec) === kind
      ) {
        return meta.record;
      }
    }
    const [legacy] = await this.gluster.volumeInfo(glusterName(id)).catch(() => []);
    const entry = legacy ? recordFromGluster(legacy) : undefined;
    return entry && 'record' in entry && entry.record.name === name ? entry.record : undefined;
  }
}
