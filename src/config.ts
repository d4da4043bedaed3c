import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseBooleanWord } from './lib/boolean.js';
import { quoted } from './lib/quoted.js';

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
  /** A tmpfs for short-lived private files (FIFOs that hand over keys). */
  readonly runtimeDir: string;
  /** Per-volume LUKS keys (0700 directory, 0400 files). */
  readonly keyDir: string;
  /** Host key-encryption key that seals generated keys; unset means keys are stored unsealed. */
  readonly kekFile?: string;
  /** CUSTOM_KEK_PREVIOUS_FILE: the KEK being rotated away from; keys sealed with it still open until `reseal`. */
  readonly kekPreviousFile?: string;
  /** GlusterFS pool for replicated volumes. */
  readonly gluster: GlusterConfig;
  /** A lease younger than this is never released for lack of a user: its container may be starting. */
  readonly leaseGraceMs: number;
  /** How often leases are checked against the host's real users. */
  readonly leaseCheckMs: number;
  /** How many times the data filesystem's free space may be promised to sparse images (1: never more than it holds). */
  readonly overcommit: number;
  /** Test only: pause for ever at this named step (see volumes/checkpoints.ts). */
  readonly testPauseAt?: string;
}

export interface GlusterPeer {
  readonly host: string;
  /** Directory for this peer's bricks. */
  readonly brickRoot: string;
}

export interface GlusterConfig {
  /** This host's name in the pool (a brick host; never localhost or 127.0.0.1). */
  readonly host: string;
  /** Brick hosts in order of preference, this host first; just this host when alone. */
  readonly peers: readonly GlusterPeer[];
  /** This host's brick directory (the default for every peer). */
  readonly brickRoot: string;
  /** Leftover bricks younger than this are not swept (a create may be in flight). */
  readonly sweepAgeMs: number;
  /** Where this host mounts the pool-wide GlusterFS volumes whole (never under a directory anything deletes recursively). */
  readonly poolMountDir: string;
  /** The pool-wide GlusterFS volumes: <poolName> and <poolName>_arbiter. */
  readonly poolName: string;
  /** TLS for I/O (client.ssl, server.ssl on the pools) and management (/var/lib/glusterd/secure-access). */
  readonly tls: boolean;
  /** Where GlusterFS reads glusterfs.{pem,key,ca}: its OpenSSL directory, /usr/lib/ssl on Debian. */
  readonly tlsDir: string;
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
    throw new Error(`${key}=${quoted(raw)} must be a positive integer`);
  }
  return value;
}

function booleanFlag(env: Env, key: string): boolean {
  const raw = env[key] ?? '';
  const parsed = raw === '' ? false : parseBooleanWord(raw);
  if (parsed === undefined) throw new Error(`${key}=${quoted(raw)} must be 1 or 0 (true/false, yes/no and on/off are read too)`);
  return parsed;
}

function positiveRatio(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > 1000) {
    throw new Error(`${key}=${quoted(raw)} must be a ratio above 0 (1 means no overcommit, 2 allows twice the free space)`);
  }
  return value;
}

function absolutePath(env: Env, key: string, fallback: string): string {
  const value = env[key] || fallback;
  if (!value.startsWith('/')) throw new Error(`${key}=${quoted(value)} must be an absolute path`);
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
    runtimeDir: absolutePath(env, 'CUSTOM_RUNTIME_DIR', '/run'),
    keyDir: absolutePath(env, 'CUSTOM_KEY_DIR', join(stateDir, 'keys')),
    ...(env['CUSTOM_KEK_FILE'] ? { kekFile: absolutePath(env, 'CUSTOM_KEK_FILE', '') } : {}),
    ...(env['CUSTOM_KEK_PREVIOUS_FILE'] ? { kekPreviousFile: absolutePath(env, 'CUSTOM_KEK_PREVIOUS_FILE', '') } : {}),
    gluster: glusterConfig(env, stateDir),
    leaseGraceMs: positiveInteger(env, 'CUSTOM_LEASE_GRACE_MS', 30_000),
    leaseCheckMs: positiveInteger(env, 'CUSTOM_LEASE_CHECK_MS', 60_000),
    overcommit: positiveRatio(env, 'CUSTOM_OVERCOMMIT', 1),
    ...(env['CUSTOM_TEST_PAUSE_AT'] ? { testPauseAt: env['CUSTOM_TEST_PAUSE_AT'] } : {}),
  });
}

// CUSTOM_GLUSTER_PEERS: "host[:/brick/root],…"; a peer without a path uses
// CUSTOM_GLUSTER_BRICK_ROOT, the same directory on every host.
function parsePeer(entry: string, brickRoot: string): GlusterPeer {
  const index = entry.indexOf(':/');
  if (index < 0) return { host: entry, brickRoot };
  return { host: entry.slice(0, index), brickRoot: entry.slice(index + 1) };
}

// A GlusterFS volume name of ours that can never be a legacy one (cv_<volume id> ends in 16 hex digits).
function poolName(env: Env): string {
  const name = env['CUSTOM_GLUSTER_POOL'] || 'cv_pool';
  if (!/^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(name) || name === 'all' || name.endsWith('_arbiter')) {
    throw new Error(
      `CUSTOM_GLUSTER_POOL=${quoted(name)} must be a letter then up to 39 letters, digits or underscores, not "all" and not ending in _arbiter (that is the arbiter pool's suffix)`,
    );
  }
  return name;
}

function glusterConfig(env: Env, stateDir: string): GlusterConfig {
  const host = env['CUSTOM_GLUSTER_HOST'] || hostname();
  const defaultRoot = absolutePath(env, 'CUSTOM_GLUSTER_BRICK_ROOT', join(stateDir, 'bricks'));
  const listed = (env['CUSTOM_GLUSTER_PEERS'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => parsePeer(p, defaultRoot));
  // A host that names itself differently from the pool would take its own bricks for another host's.
  if (listed.length > 0 && !listed.some((peer) => peer.host === host)) {
    throw new Error(
      `CUSTOM_GLUSTER_HOST=${quoted(host)} is not in CUSTOM_GLUSTER_PEERS (${listed.map((p) => p.host).join(', ')}); set CUSTOM_GLUSTER_HOST to this host's name as the pool lists it`,
    );
  }
  const self = listed.find((peer) => peer.host === host) ?? { host, brickRoot: defaultRoot };
  // This host first: its brick is local and it serves the mount's volfile.
  const peers = [self, ...listed.filter((peer) => peer.host !== host)];
  return Object.freeze({
    host,
    peers,
    brickRoot: self.brickRoot,
    sweepAgeMs: positiveInteger(env, 'CUSTOM_GLUSTER_SWEEP_AGE_MS', 60_000),
    poolMountDir: absolutePath(env, 'CUSTOM_GLUSTER_POOL_MOUNT_DIR', '/run/custom-volume/pools'),
    poolName: poolName(env),
    tls: booleanFlag(env, 'CUSTOM_GLUSTER_TLS'),
    tlsDir: absolutePath(env, 'CUSTOM_GLUSTER_TLS_DIR', '/usr/lib/ssl'),
    ...(env['CUSTOM_GLUSTER_SOCKET'] ? { socket: absolutePath(env, 'CUSTOM_GLUSTER_SOCKET', '') } : {}),
    timeoutMs: positiveInteger(env, 'CUSTOM_GLUSTER_TIMEOUT_MS', 15_000),
  });
}
