import { hostname } from 'node:os';
import { join } from 'node:path';

export interface Config {
  /** Unix socket the daemon dials. */
  readonly socket: string;
  /** lowdb state file lives here (and, later, the key store). */
  readonly stateDir: string;
  /** Image files, one directory per volume. */
  readonly dataDir: string;
  /** Mount roots, one per volume (a managed plugin's propagatedMount). */
  readonly mountDir: string;
  /** Cap on every external command; Docker gives a managed plugin 30 s per request. */
  readonly commandTimeoutMs: number;
  readonly logLevel: string;
  /** Per-volume LUKS keys (0700 directory, 0400 files). */
  readonly keyDir: string;
  /** Host key-encryption key that seals generated keys; unset means keys are stored unsealed. */
  readonly kekFile?: string;
  /** GlusterFS pool for replicated volumes. */
  readonly gluster: GlusterConfig;
}

export interface GlusterConfig {
  /** This host's name in the pool (a brick host; never localhost or 127.0.0.1). */
  readonly host: string;
  /** Brick hosts in order of preference; just [host] on a single host. */
  readonly peers: readonly string[];
  /** Directory for bricks, the same path on every peer. */
  readonly brickRoot: string;
  /** glusterd's socket, when not /var/run/glusterd.socket. */
  readonly socket?: string;
  readonly timeoutMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function positiveInteger(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${key}=${JSON.stringify(raw)} must be a positive integer`);
  }
  return value;
}

function absolutePath(env: Env, key: string, fallback: string): string {
  const value = env[key] || fallback;
  if (!value.startsWith('/')) throw new Error(`${key}=${JSON.stringify(value)} must be an absolute path`);
  return value;
}

export function loadConfig(env: Env = process.env): Config {
  const stateDir = absolutePath(env, 'CUSTOM_STATE_DIR', '/var/lib/custom-volume');
  return Object.freeze({
    socket: absolutePath(env, 'CUSTOM_SOCKET', '/run/docker/plugins/custom.sock'),
    stateDir,
    dataDir: absolutePath(env, 'CUSTOM_DATA_DIR', join(stateDir, 'volumes')),
    mountDir: absolutePath(env, 'CUSTOM_MOUNT_DIR', join(stateDir, 'mounts')),
    commandTimeoutMs: positiveInteger(env, 'CUSTOM_COMMAND_TIMEOUT_MS', 20_000),
    logLevel: env['CUSTOM_LOG_LEVEL'] || 'info',
    keyDir: absolutePath(env, 'CUSTOM_KEY_DIR', join(stateDir, 'keys')),
    ...(env['CUSTOM_KEK_FILE'] ? { kekFile: absolutePath(env, 'CUSTOM_KEK_FILE', '') } : {}),
    gluster: glusterConfig(env, stateDir),
  });
}

function glusterConfig(env: Env, stateDir: string): GlusterConfig {
  const host = env['CUSTOM_GLUSTER_HOST'] || hostname();
  const listed = (env['CUSTOM_GLUSTER_PEERS'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  // This host first: its brick is local and it serves the mount's volfile.
  const peers = [host, ...listed.filter((peer) => peer !== host)];
  return Object.freeze({
    host,
    peers,
    brickRoot: absolutePath(env, 'CUSTOM_GLUSTER_BRICK_ROOT', join(stateDir, 'bricks')),
    ...(env['CUSTOM_GLUSTER_SOCKET'] ? { socket: absolutePath(env, 'CUSTOM_GLUSTER_SOCKET', '') } : {}),
    timeoutMs: positiveInteger(env, 'CUSTOM_GLUSTER_TIMEOUT_MS', 15_000),
  });
}
