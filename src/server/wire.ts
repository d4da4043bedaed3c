// Request shapes as the daemon sends them, decoded defensively: Docker is not
// the only thing that can reach the socket, and a wrong type must become a
// clear Err, never a crash.

export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

type Body = Record<string, unknown>;

export interface NameRequest {
  readonly name: string;
}
export interface CreateRequest extends NameRequest {
  readonly opts: Record<string, string> | null;
}
export interface MountRequest extends NameRequest {
  readonly id: string;
}

export function parseBody(raw: string): Body {
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new RequestError(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RequestError('request body must be a JSON object');
  }
  return parsed as Body;
}

function stringField(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== 'string') {
    throw new RequestError(`field ${key} must be a string, got ${value === undefined ? 'nothing' : typeof value}`);
  }
  return value;
}

export function decodeName(body: Body): NameRequest {
  return { name: stringField(body, 'Name') };
}

export function decodeCreate(body: Body): CreateRequest {
  const name = stringField(body, 'Name');
  const opts = body['Opts'];
  if (opts === null || opts === undefined) return { name, opts: null };
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new RequestError(`volume ${JSON.stringify(name)}: Opts must be an object of strings`);
  }
  const entries = Object.entries(opts as Record<string, unknown>);
  const bad = entries.find(([, value]) => typeof value !== 'string');
  if (bad) {
    throw new RequestError(`volume ${JSON.stringify(name)}: option ${JSON.stringify(bad[0])} must be a string`);
  }
  return { name, opts: Object.fromEntries(entries) as Record<string, string> };
}

export function decodeMount(body: Body): MountRequest {
  const name = stringField(body, 'Name');
  const id = stringField(body, 'ID');
  if (id === '' || id.length > 256) {
    throw new RequestError(`volume ${JSON.stringify(name)}: mount ID must be 1 to 256 characters`);
  }
  return { name, id };
}

/** /Custom.Protect: {"Name": "...", "Protect": true|false}. */
export function decodeProtect(body: Body): { name: string; protect: boolean } {
  const name = stringField(body, 'Name');
  const protect = body['Protect'];
  if (typeof protect !== 'boolean') throw new RequestError(`volume ${JSON.stringify(name)}: Protect must be true or false`);
  return { name, protect };
}

/** /Custom.Resize: {"Name": "...", "Size": "20G"}. */
export function decodeResize(body: Body): { name: string; size: string } {
  return { name: stringField(body, 'Name'), size: stringField(body, 'Size') };
}

function optionalString(body: Body, key: string): string | undefined {
  return body[key] === undefined ? undefined : stringField(body, key);
}

/** /Custom.Snapshot: {"Name": "...", "Snapshot"?: "..."}; Restore and SnapshotRemove need the Snapshot. */
export function decodeSnapshot(body: Body): { name: string; snapshot?: string } {
  const snapshot = optionalString(body, 'Snapshot');
  return { name: stringField(body, 'Name'), ...(snapshot === undefined ? {} : { snapshot }) };
}

export function decodeNamedSnapshot(body: Body): { name: string; snapshot: string } {
  return { name: stringField(body, 'Name'), snapshot: stringField(body, 'Snapshot') };
}

/** /Custom.Clone: {"Name": source, "Target": "...", "Snapshot"?: "...", "Protect"?: bool}. */
export function decodeClone(body: Body): { name: string; target: string; snapshot?: string; protect: boolean; progress: boolean } {
  const protect = body['Protect'] ?? false;
  const progress = body['Progress'] ?? false;
  if (typeof protect !== 'boolean') throw new RequestError('field Protect must be true or false');
  if (typeof progress !== 'boolean') throw new RequestError('field Progress must be true or false');
  const snapshot = optionalString(body, 'Snapshot');
  return {
    name: stringField(body, 'Name'),
    target: stringField(body, 'Target'),
    protect,
    progress,
    ...(snapshot === undefined ? {} : { snapshot }),
  };
}

/** /Custom.Export: {"Name": "...", "Plaintext"?: bool}. */
export function decodeExport(body: Body): { name: string; plaintext: boolean } {
  const plaintext = body['Plaintext'] ?? false;
  if (typeof plaintext !== 'boolean') throw new RequestError('field Plaintext must be true or false');
  return { name: stringField(body, 'Name'), plaintext };
}

/** /Custom.Import?Name=...: the body is the stream, so the name travels in the query. */
export function decodeImportQuery(query: string): Body {
  const name = new URLSearchParams(query).get('Name');
  if (name === null) throw new RequestError('Custom.Import needs ?Name=<volume> in its path');
  return { Name: name };
}
