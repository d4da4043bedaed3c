import { XMLParser } from 'fast-xml-parser';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from './run.js';
import { quoted } from '../lib/quoted.js';

// Typed wrappers over the gluster CLI: --mode=script (never prompts), --xml
// parsed where the CLI offers it, every call bounded by a timeout so a hung
// peer cannot hang the plugin.

export interface GlusterOptions {
  readonly timeoutMs: number;
  /** glusterd's socket when it is not /var/run/glusterd.socket. */
  readonly socket?: string;
}

export interface GlusterBrick {
  readonly host: string;
  readonly path: string;
  /** The UUID of the glusterd that holds the brick (volume info only): who it belongs to, whatever the host is called. */
  readonly hostUuid?: string;
}

export interface GlusterVolume {
  readonly name: string;
  readonly started: boolean;
  readonly replicaCount: number;
  readonly arbiterCount: number;
  readonly bricks: GlusterBrick[];
  readonly options: Record<string, string>;
}

export interface BrickStatus extends GlusterBrick {
  readonly online: boolean;
  readonly pid: number | null;
}

export class GlusterError extends Error {
  constructor(
    readonly command: string,
    readonly detail: string,
  ) {
    super(`gluster ${command}: ${detail}`);
    this.name = 'GlusterError';
  }
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) => ['volume', 'brick', 'option', 'node', 'peer'].includes(name),
});

type Xml = Record<string, unknown>;

// glusterd takes a pool-wide lock per volume for each change (set, quota,
// start…): two hosts' plugins changing one pool volume at once get "Another
// transaction is in progress". That is a wait, not a failure.
const BUSY = /Another transaction is in progress|Locking failed on|Unable to acquire lock/i;
const BUSY_RETRY_MS = [100, 200, 400, 800, 1600, 2000, 2000, 2000];

async function gluster(args: string[], options: GlusterOptions, xml: boolean): Promise<string> {
  const full = ['--mode=script', ...(options.socket ? [`--glusterd-sock=${options.socket}`] : []), ...args, ...(xml ? ['--xml'] : [])];
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const result = await runTool('gluster', full, { timeoutMs: Math.max(1000, deadline - Date.now()) }).then(
      ({ stdout }) => ({ stdout }),
      (error: unknown) => ({ error: errorText(error) }),
    );
    // With --xml, glusterd's refusals arrive on stdout with exit code 0.
    const text = 'error' in result ? result.error : xml ? xmlError(result.stdout) : undefined;
    const wait = BUSY_RETRY_MS[attempt];
    if (text !== undefined && BUSY.test(text) && wait !== undefined && Date.now() + wait < deadline) {
      await sleep(wait);
      continue;
    }
    if ('error' in result) throw new GlusterError(args.slice(0, 2).join(' '), result.error.replace(/^gluster exited with \d+: /, ''));
    return result.stdout;
  }
}

// The whole of what the CLI said: with --xml a refusal may be in stdout's XML, not the message's first line.
function errorText(error: unknown): string {
  const { stdout, stderr } = error as { stdout?: unknown; stderr?: unknown };
  const xml = typeof stdout === 'string' ? xmlError(stdout) : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return [message, xml, typeof stderr === 'string' ? stderr : undefined].filter(Boolean).join(' | ');
}

function xmlError(stdout: string): string | undefined {
  return /<opRet>0<\/opRet>/.test(stdout) ? undefined : (/<opErrstr>([^<]*)<\/opErrstr>/.exec(stdout)?.[1] ?? undefined);
}

async function glusterXml(args: string[], options: GlusterOptions): Promise<Xml> {
  const stdout = await gluster(args, options, true);
  const doc = (parser.parse(stdout) as { cliOutput?: Xml }).cliOutput;
  if (!doc) throw new GlusterError(args.slice(0, 2).join(' '), 'no XML answer');
  if (String(doc['opRet']) !== '0') {
    throw new GlusterError(args.slice(0, 2).join(' '), String(doc['opErrstr'] || `failed (${String(doc['opErrno'])})`));
  }
  return doc;
}

function splitBrick(text: string): GlusterBrick {
  const index = text.lastIndexOf(':/');
  return { host: text.slice(0, index), path: text.slice(index + 1) };
}

export function parseVolumeInfo(doc: Xml): GlusterVolume[] {
  const volumes = ((doc['volInfo'] as Xml | undefined)?.['volumes'] as Xml | undefined)?.['volume'] as Xml[] | undefined;
  return (volumes ?? []).map((volume) => ({
    name: String(volume['name']),
    started: String(volume['status']) === '1',
    replicaCount: Number(volume['replicaCount']),
    arbiterCount: Number(volume['arbiterCount'] ?? 0),
    bricks: (((volume['bricks'] as Xml | undefined)?.['brick'] as Xml[] | undefined) ?? []).map((brick) => ({
      ...splitBrick(String(brick['name'])),
      ...(brick['hostUuid'] !== undefined ? { hostUuid: String(brick['hostUuid']) } : {}),
    })),
    options: Object.fromEntries(
      (((volume['options'] as Xml | undefined)?.['option'] as Xml[] | undefined) ?? []).map((option) => [
        String(option['name']),
        String(option['value']),
      ]),
    ),
  }));
}

export async function volumeInfo(options: GlusterOptions, name = 'all'): Promise<GlusterVolume[]> {
  return parseVolumeInfo(await glusterXml(['volume', 'info', name], options));
}

export async function peerCount(options: GlusterOptions): Promise<{ total: number; connected: number }> {
  const doc = await glusterXml(['pool', 'list'], options);
  const peers = ((doc['peerStatus'] as Xml | undefined)?.['peer'] as Xml[] | undefined) ?? [];
  return { total: peers.length, connected: peers.filter((peer) => String(peer['connected']) === '1').length };
}

export async function volumeCreate(
  name: string,
  replica: number,
  arbiter: boolean,
  bricks: readonly GlusterBrick[],
  force: boolean,
  options: GlusterOptions,
): Promise<void> {
  const layout = arbiter ? ['replica', '3', 'arbiter', '1'] : ['replica', String(replica)];
  await glusterXml(
    ['volume', 'create', name, ...layout, ...bricks.map((b) => `${b.host}:${b.path}`), ...(force ? ['force'] : [])],
    options,
  );
}

export async function volumeStart(name: string, force: boolean, options: GlusterOptions): Promise<void> {
  await glusterXml(['volume', 'start', name, ...(force ? ['force'] : [])], options);
}

export async function volumeStop(name: string, options: GlusterOptions): Promise<void> {
  await glusterXml(['volume', 'stop', name, 'force'], options);
}

export async function volumeDelete(name: string, options: GlusterOptions): Promise<void> {
  await glusterXml(['volume', 'delete', name], options);
}

export async function volumeSet(name: string, key: string, value: string, options: GlusterOptions): Promise<void> {
  await glusterXml(['volume', 'set', name, key, value], options);
}

export async function quotaLimit(name: string, bytes: number, options: GlusterOptions): Promise<void> {
  await quotaEnable(name, options);
  await quotaSet(name, '/', bytes, options);
}

/** Turns quota on (idempotent) with immediate enforcement: by default a write may pass the limit by far. */
export async function quotaEnable(name: string, options: GlusterOptions): Promise<void> {
  await gluster(['volume', 'quota', name, 'enable'], options, false).catch((error: unknown) => {
    if (!/already enabled/i.test(String(error))) throw error;
  });
  await gluster(['volume', 'quota', name, 'hard-timeout', '0'], options, false);
  await gluster(['volume', 'quota', name, 'soft-timeout', '0'], options, false);
  // df inside the directory shows its limit as the size.
  await volumeSet(name, 'features.quota-deem-statfs', 'on', options);
}

/** A hard limit on one directory of the volume (path relative to the volume's root). */
export async function quotaSet(name: string, path: string, bytes: number, options: GlusterOptions): Promise<void> {
  await gluster(['volume', 'quota', name, 'limit-usage', path, String(bytes)], options, false);
}

/** Drops a directory's limit; a path without one, or gone, is fine. */
export async function quotaRemove(name: string, path: string, options: GlusterOptions): Promise<void> {
  await gluster(['volume', 'quota', name, 'remove', path], options, false).catch((error: unknown) => {
    // A directory that never had a limit answers "No data available" (its xattr is absent).
    if (!/No such file|No data available|not set|No quota configured|quota limit not/i.test(String(error))) throw error;
  });
}

/** This glusterd's UUID: what volume info names a brick's owner by. */
export async function localUuid(options: GlusterOptions): Promise<string> {
  const text = await gluster(['system::', 'uuid', 'get'], options, false);
  const match = /UUID:\s*([0-9a-f-]{36})/i.exec(text);
  if (!match?.[1]) throw new GlusterError('system:: uuid', `no UUID in ${quoted(text.slice(0, 80))}`);
  return match[1];
}

/** FUSE clients connected to a volume, on every host (the self-heal daemon and quotad are not counted). */
export function parseClientList(text: string): number {
  const match = /^fuse\s+(\d+)\s*$/m.exec(text);
  return match?.[1] ? Number(match[1]) : 0;
}

export async function fuseClients(name: string, options: GlusterOptions): Promise<number> {
  return parseClientList(await gluster(['volume', 'status', name, 'client-list'], options, false));
}

export async function volumeStatus(name: string, options: GlusterOptions): Promise<BrickStatus[]> {
  const doc = await glusterXml(['volume', 'status', name], options);
  const volume = (((doc['volStatus'] as Xml | undefined)?.['volumes'] as Xml | undefined)?.['volume'] as Xml[] | undefined)?.[0];
  const nodes = (volume?.['node'] as Xml[] | undefined) ?? [];
  return nodes
    .filter((node) => String(node['path']).startsWith('/'))
    .map((node) => ({
      host: String(node['hostname']),
      path: String(node['path']),
      online: String(node['status']) === '1',
      pid: Number.isFinite(Number(node['pid'])) ? Number(node['pid']) : null,
    }));
}

/** Entries waiting for self-heal, per brick ("host:path" → count); glusterd answers, no XML offered. */
export function parseHealCount(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  let brick: string | undefined;
  for (const line of text.split('\n')) {
    const b = /^Brick (\S+)/.exec(line);
    if (b?.[1]) brick = b[1];
    const n = /^Number of entries: (\d+)/.exec(line);
    if (n?.[1] && brick) counts.set(brick, Number(n[1]));
  }
  return counts;
}

export async function healCount(name: string, options: GlusterOptions): Promise<Map<string, number>> {
  return parseHealCount(await gluster(['volume', 'heal', name, 'statistics', 'heal-count'], options, false));
}

export async function healStart(name: string, options: GlusterOptions): Promise<void> {
  await gluster(['volume', 'heal', name], options, false);
}

/** Files in split-brain; needs glfsheal to reach glusterd (same mount namespace), else undefined. */
export async function splitBrainCount(name: string, options: GlusterOptions): Promise<number | undefined> {
  try {
    const doc = await glusterXml(['volume', 'heal', name, 'info', 'split-brain'], options);
    const bricks = (((doc['healInfo'] as Xml | undefined)?.['bricks'] as Xml | undefined)?.['brick'] as Xml[] | undefined) ?? [];
    return bricks.reduce((sum, brick) => sum + (Number(brick['numberOfEntries']) || 0), 0);
  } catch {
    return undefined;
  }
}

export async function mountGlusterfs(
  server: string,
  volume: string,
  backups: readonly string[],
  target: string,
  timeoutMs: number,
): Promise<void> {
  const opts = backups.length > 0 ? ['-o', `backup-volfile-servers=${backups.join(':')}`] : [];
  await runTool('mount', ['-t', 'glusterfs', ...opts, '--', `${server}:/${volume}`, target], { timeoutMs });
}
