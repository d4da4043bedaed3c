import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import type { Backing, MountIdentity, StatusValue, VolumeContext } from '../../src/backings/backing.js';
import type { VolumeSpec } from '../../src/state/schema.js';

// In-memory stand-ins for the storage and the host: the fast tier drives the
// real VolumeService, state store and data directory with no root and no
// devices. The backing's `active` set models the kernel's mounts (they
// survive a plugin crash; a reboot clears them).

export type BackingMethod =
  'preflight' | 'create' | 'activate' | 'deactivate' | 'destroy' | 'isActive' | 'identity' | 'unclaimedBytes' | 'status';

export interface BackingCall {
  readonly method: BackingMethod;
  readonly id: string;
  readonly dir: string;
}

/** A pause inside a backing method: `reached` settles when a call gets there, `release()` lets it go on. */
export interface Gate {
  readonly reached: Promise<void>;
  release(): void;
}

interface OpenGate extends Gate {
  arrive(): void;
  readonly opened: Promise<void>;
}

function openGate(): OpenGate {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  return { reached, opened, arrive, release };
}

export const FAKE_IMAGE = 'disk.img';

export class FakeBacking implements Backing {
  /** Volume ids whose filesystem is "mounted". */
  readonly active = new Set<string>();
  /** What each volume may still claim; a volume not listed claims its whole size. */
  readonly unclaimed = new Map<string, number>();
  readonly calls: BackingCall[] = [];
  private readonly failures = new Map<BackingMethod, Error>();
  private readonly gates = new Map<BackingMethod, OpenGate>();

  /** The next call of `method` fails (once) before doing anything. */
  failNext(method: BackingMethod, message = `injected failure in ${method}`): void {
    this.failures.set(method, new Error(message));
  }

  /** The next call of `method` stops before doing anything until released. */
  holdNext(method: BackingMethod): Gate {
    const gate = openGate();
    this.gates.set(method, gate);
    return gate;
  }

  callsOf(method: BackingMethod, id?: string): BackingCall[] {
    return this.calls.filter((call) => call.method === method && (id === undefined || call.id === id));
  }

  private async enter(method: BackingMethod, id: string, dir: string): Promise<void> {
    this.calls.push({ method, id, dir });
    const gate = this.gates.get(method);
    if (gate) {
      this.gates.delete(method);
      gate.arrive();
      await gate.opened;
    }
    const failure = this.failures.get(method);
    if (failure) {
      this.failures.delete(method);
      throw failure;
    }
  }

  async preflight(spec: VolumeSpec): Promise<string | undefined> {
    // No volume yet: the call log names the type instead of an id.
    await this.enter('preflight', spec.type, '');
    return undefined;
  }

  async create({ record, paths }: VolumeContext): Promise<void> {
    await this.enter('create', record.id, paths.dir);
    await mkdir(paths.dir, { recursive: true });
    await writeFile(paths.image, `fake image of ${record.id}\n`);
  }

  async activate({ record, paths }: VolumeContext): Promise<void> {
    await this.enter('activate', record.id, paths.dir);
    // A real mount needs the image: a record without storage cannot be mounted.
    await access(paths.image);
    this.active.add(record.id);
  }

  async deactivate({ record, paths }: VolumeContext): Promise<void> {
    await this.enter('deactivate', record.id, paths.dir);
    this.active.delete(record.id);
  }

  async destroy({ record, paths }: VolumeContext): Promise<void> {
    await this.enter('destroy', record.id, paths.dir);
    this.active.delete(record.id);
    await rm(paths.dir, { recursive: true, force: true });
  }

  async isActive({ record, paths }: VolumeContext): Promise<boolean> {
    await this.enter('isActive', record.id, paths.dir);
    return this.active.has(record.id);
  }

  async identity({ record, paths }: VolumeContext): Promise<MountIdentity> {
    await this.enter('identity', record.id, paths.dir);
    return { majMins: [], sources: [`fake:${record.id}`] };
  }

  async unclaimedBytes({ record, paths }: VolumeContext): Promise<number> {
    await this.enter('unclaimedBytes', record.id, paths.dir);
    const { spec } = record;
    return this.unclaimed.get(record.id) ?? (spec.type === 'replicated' ? 0 : spec.sizeBytes);
  }

  async status({ record, paths }: VolumeContext): Promise<Record<string, StatusValue>> {
    await this.enter('status', record.id, paths.dir);
    return { fake: true, active: this.active.has(record.id) };
  }
}
