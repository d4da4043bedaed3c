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
  | 'PRECONDITION_FAILED'
  | 'BACKING_FAILED'
  | 'STATE_FAILED';

export class VolumeError extends Error {
  constructor(
    readonly code: VolumeErrorCode,
    readonly volume: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`volume ${JSON.stringify(volume)}: ${detail}`, options);
    this.name = 'VolumeError';
  }
}

export function isVolumeError(error: unknown): error is VolumeError {
  return error instanceof VolumeError;
}
