import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { quoted } from '../../lib/quoted.js';

// Who may mount a replicated volume: the pool's peers, by address
// (GlusterFS's auth.allow matches the client's address). The plugin's own
// GlusterFS processes (self-heal, quota) authenticate otherwise and are not
// affected.

/** Every address of every peer, sorted; a peer name that does not resolve is an error that names it. */
export async function peerAddresses(hosts: readonly string[]): Promise<string[]> {
  const addresses = new Set<string>();
  for (const host of hosts) {
    if (isIP(host)) {
      addresses.add(host);
      continue;
    }
    let found;
    try {
      found = await lookup(host, { all: true });
    } catch (error) {
      throw new Error(
        `cannot resolve the GlusterFS peer ${quoted(host)} to an address for auth.allow (${(error as Error).message}); list peers by address in CUSTOM_GLUSTER_PEERS or make the name resolve`,
        { cause: error },
      );
    }
    for (const { address } of found) addresses.add(address);
  }
  return [...addresses].sort();
}

/**
 * The allow list to set, or undefined when it needs no change. GlusterFS's
 * default (unset, or "*") lets any address mount: it becomes the peers. A list
 * an operator set is kept and only gains peers it lacks; it is never narrowed.
 */
export function mergedAllowList(current: string | undefined, peers: readonly string[]): string | undefined {
  const kept =
    current === undefined || current.trim() === '*'
      ? []
      : current
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean);
  const merged = [...new Set([...kept, ...peers])];
  return merged.length === kept.length && kept.length > 0 ? undefined : merged.join(',');
}
