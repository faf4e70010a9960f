// The one place where errors become HTTP statuses. Anything unrecognised is a 500, which is a bug.
import {
  BerthError,
  ConflictError,
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  UnauthorizedError,
} from '../errors.js';

export function statusOf(err: unknown): number {
  if (err instanceof InvalidParameterError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof NotModifiedError) return 304;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotImplementedError) return 501;
  if (err instanceof UnauthorizedError) return 401;
  return 500;
}

/** The system errors a Docker user reads in Go's words (`write /path: no space left on device`). */
const GO_ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

export function messageOf(err: unknown): string {
  if (err instanceof BerthError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e instanceof Error && e.code && GO_ERRNO_TEXT[e.code]) {
    const op = [e.syscall ?? 'write', e.path].filter(Boolean).join(' ');
    return `${op}: ${GO_ERRNO_TEXT[e.code]}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
