import { join } from 'node:path';
import type { VolumeContext } from '../../src/backings/backing.js';
import { ImageStackBacking } from '../../src/backings/image-stack.js';
import { LuksLayer } from '../../src/backings/luks-layer.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { SystemTools } from '../../src/system/index.js';
import type { ImageSpec } from '../../src/state/schema.js';
import { volumeId } from '../../src/volumes/names.js';
import { volumePaths } from '../../src/volumes/paths.js';
import { scrubHost } from './host.js';
import { makeTempDir, removeTempDir } from './temp.js';

/** The image-stack backing as the plugin wires it, with keys under `keyDir`. */
export function imageBacking(tools: SystemTools, keyDir = '/nonexistent/keys'): ImageStackBacking {
  return new ImageStackBacking(tools, new LuksLayer(tools, new KeyStore(keyDir, undefined)));
}

/** Volume `name` of `spec`, created now, its paths under `root` (volumes/, mounts/): what the service gives a backing. */
export function volumeIn(root: string, name: string, spec: ImageSpec): VolumeContext {
  const id = volumeId(name);
  return {
    record: { name, id, spec, createdAt: new Date().toISOString(), leases: {} },
    paths: volumePaths({ dataDir: join(root, 'volumes'), mountDir: join(root, 'mounts') }, id),
  };
}

/** Runs `run` in a fresh temp directory (`custom-<prefix>-…`); then unmounts and detaches what it left there, and removes it. */
export async function withScrubbedRoot(prefix: string, run: (root: string) => Promise<void>): Promise<void> {
  const root = await makeTempDir(prefix);
  try {
    await run(root);
  } finally {
    await scrubHost(root);
    await removeTempDir(root);
  }
}
