import { snapshotNameProblem } from '../backings/image-snapshots.js';
import { VolumeError } from './errors.js';

export const MAX_NAME_BYTES = 255;
const SHOWN_CHARACTERS = 40;

// Docker passes any string as a volume name on Linux (`a b`, `../../etc`,
// `tenant/x`, non-ASCII). A name therefore never becomes a path: files are
// named by a readable slug plus a hash of the exact name.

// C0 (incl. NUL), DEL and C1: they end argv strings, forge log lines and
// rewrite terminals, and no one types them into `docker volume create`.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

// ES2024 (Node 20 has it; the project's lib is ES2023).
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

// Cut at a code point, so the cut never makes a surrogate pair into a lone one.
function shortened(name: string): string {
  const points = Array.from(name);
  return points.length > SHOWN_CHARACTERS ? `${points.slice(0, SHOWN_CHARACTERS).join('')}…` : name;
}

function invalidName(name: string, detail: string): VolumeError {
  // VolumeError quotes the name with every control character escaped.
  return new VolumeError('INVALID_NAME', shortened(name), detail);
}

function describeCharacter(character: string): string {
  return `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

export function validateName(name: string): void {
  if (name.length === 0) throw invalidName(name, 'the volume name is empty; give the volume a name');
  if (!isWellFormed(name)) {
    throw invalidName(
      name,
      'the volume name is not well-formed Unicode (it holds a lone UTF-16 surrogate, which has no UTF-8 form); use a name of valid UTF-8 text',
    );
  }
  const control = CONTROL.exec(name);
  if (control) {
    throw invalidName(
      name,
      `the volume name contains the control character ${describeCharacter(control[0])} at position ${control.index}; use a name of printable characters`,
    );
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw invalidName(name, `the volume name is ${bytes} bytes long; the limit is ${MAX_NAME_BYTES} bytes of UTF-8, so use a shorter name`);
  }
}

/** A snapshot's name (in a request about `volume`): INVALID_OPTION when a backing could not store it. */
export function checkSnapshotName(volume: string, snapshot: string): void {
  const problem = snapshotNameProblem(snapshot);
  if (problem) throw new VolumeError('INVALID_OPTION', volume, problem);
}

// The id is part of the on-disk format, so it lives with the state.
export { volumeId } from '../state/volume-id.js';
