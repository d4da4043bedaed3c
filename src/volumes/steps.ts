import { RollbackError, withUndo, type UndoStack } from '../backings/undo.js';
import type { Logger } from '../log.js';
import { VolumeError, isVolumeError } from './errors.js';

// How a failed step of a request becomes the VolumeError its caller is told:
// a backing's or a tool's failure, a state write's, or a failure whose undo
// failed too. A VolumeError thrown inside passes through as it is.

/** Runs `work` with an undo stack; a failure unwinds it and stays a VolumeError. */
export async function transaction<T>(log: Logger, name: string, work: (undo: UndoStack) => Promise<T>): Promise<T> {
  try {
    return await withUndo(work);
  } catch (error) {
    if (!(error instanceof RollbackError)) throw error;
    log.error({ volume: name, err: error, failures: error.failures }, 'undo failed');
    const original = error.original;
    const code = isVolumeError(original) ? original.code : 'BACKING_FAILED';
    const detail = isVolumeError(original) ? original.detail : reason(original);
    throw new VolumeError(
      code,
      name,
      `${detail}; clean-up also failed at: ${error.failures.map((f) => f.label).join(', ')} (see the plugin log)`,
      { cause: error },
    );
  }
}

/** A step on the volume's storage: a failure says `what` could not be done, and why. */
export async function step<T>(name: string, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isVolumeError(error)) throw error;
    throw new VolumeError('BACKING_FAILED', name, `${what}: ${reason(error)}`, { cause: error });
  }
}

/** A write of the plugin's state: a failure is STATE_FAILED. */
export async function persist<T>(name: string, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new VolumeError('STATE_FAILED', name, `${what}: the plugin's state could not be saved (${reason(error)})`, { cause: error });
  }
}

// The tool's first line of stderr says what went wrong (e.g. "No space left
// on device"); it never holds a secret because secrets only travel on stdin.
// A file-system error says its code and call, not the path (a key file's, say).
function reason(error: unknown): string {
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (code && syscall) return `${code} (${syscall}): ${(error as Error).message.split(',')[0]?.replace(/^[A-Z]+: /, '') ?? code}`;
  return error instanceof Error ? error.message : String(error);
}
