// Errors raised by the Engine API client.

/** A non-2xx answer from the daemon. `message` is the daemon's own `message` field. */
export class ApiError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
  }
  get isNotFound(): boolean {
    return this.statusCode === 404;
  }
}

/** The daemon could not be reached at all. */
export class ConnectionError extends Error {
  readonly host: string;
  readonly code: string | undefined;
  constructor(host: string, cause: NodeJS.ErrnoException) {
    const refused = cause.code === 'ENOENT' || cause.code === 'ECONNREFUSED';
    super(
      refused
        ? `Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?`
        : `error during connect: ${cause.message}`,
    );
    this.name = 'ConnectionError';
    this.host = host;
    this.code = cause.code;
  }
}

/** Builds an ApiError from a status code and a raw response body (JSON `{"message":...}` or text). */
export function apiErrorFromBody(statusCode: number, body: string): ApiError {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  if (!message) message = `${statusCode} ${statusText(statusCode)}`;
  return new ApiError(statusCode, message);
}

function statusText(code: number): string {
  const t: Record<number, string> = {
    304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    409: 'Conflict', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
  };
  return t[code] ?? 'Error';
}
