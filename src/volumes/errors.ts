import { quoted } from '../lib/quoted.js';

// One error type for the domain, with a stable code. Its message is what the
// user reads after `docker volume …`: it names the volume and the problem. It
// may quote the first line a tool printed (e.g. "No space left on device"),
// never a secret: keys only ever travel on stdin. Full details go to the log
// via `cause`.

export type VolumeErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_OPTION'
  | 'VOLUME_NOT_FOUND'
  | 'VOLUME_IN_USE'
  | 'VOLUME_PROTECTED'
  | 'VOLUME_BUSY'
  | 'VOLUME_EXISTS'
  | 'INSUFFICIENT_SPACE'
  | 'PRECONDITION_FAILED'
  | 'BACKING_FAILED'
  | 'STATE_FAILED';

export class VolumeError extends Error {
  constructor(
    readonly code: VolumeErrorCode,
    readonly volume: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`volume ${quoted(volume)}: ${detail}`, options);
    this.name = 'VolumeError';
  }
}

export function isVolumeError(error: unknown): error is VolumeError {
  return error instanceof VolumeError;
}
