import { ImageStackBacking } from '../../src/backings/image-stack.js';
import { LuksLayer } from '../../src/backings/luks-layer.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { SystemTools } from '../../src/system/index.js';

/** The image-stack backing as the plugin wires it, with keys under `keyDir`. */
export function imageBacking(tools: SystemTools, keyDir = '/nonexistent/keys'): ImageStackBacking {
  return new ImageStackBacking(tools, new LuksLayer(tools, new KeyStore(keyDir, undefined)));
}
