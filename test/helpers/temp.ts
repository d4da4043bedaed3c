import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config.js';

/** A fresh directory under /var/tmp (real disk, not tmpfs: loop devices need O_DIRECT). */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env['CUSTOM_TEST_TMP'] ?? '/var/tmp', `custom-${prefix}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A fresh directory under the OS temp dir for one test (no loop device, so any disk will do), removed when it ends. */
export async function testTempDir(t: { teardown: (fn: () => Promise<void>) => void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `custom-${prefix}-`));
  t.teardown(() => removeTempDir(dir));
  return dir;
}

export function testConfig(root: string, overrides: Partial<Config> = {}): Config {
  return {
    socket: join(root, 'plugin.sock'),
    stateDir: join(root, 'state'),
    dataDir: join(root, 'state', 'volumes'),
    mountDir: join(root, 'state', 'mounts'),
    keyDir: join(root, 'state', 'keys'),
    gluster: {
      host: 'localhost',
      peers: [{ host: 'localhost', brickRoot: join(root, 'bricks') }],
      brickRoot: join(root, 'bricks'),
      sweepAgeMs: 60_000,
      poolMountDir: join(root, 'pools'),
      poolName: 'cv_pool',
      tls: false,
      tlsDir: '/usr/lib/ssl',
      timeoutMs: 5000,
    },
    commandTimeoutMs: 20_000,
    logLevel: 'silent',
    runtimeDir: '/run',
    leaseGraceMs: 30_000,
    leaseCheckMs: 3_600_000,
    overcommit: 1,
    ...overrides,
  };
}
