// Typed errors shared by every layer. The API maps each class to one HTTP status in
// api/errors.ts; nothing else decides status codes.

export class BerthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the request itself is malformed (bad JSON, bad reference, bad flag value). */
export class InvalidParameterError extends BerthError {}

/** 404: no such container, image, exec instance, ... */
export class NotFoundError extends BerthError {}

/** 409: name in use, image in use, container running when it must not be, ... */
export class ConflictError extends BerthError {}

/** An exec's process could not be started (missing binary, not executable): Docker's 400. */
export class ExecStartError extends InvalidParameterError {}

/** 304: the operation is a no-op (already started, already stopped). */
export class NotModifiedError extends BerthError {}

/** 403: forbidden by policy (e.g. removing a running container's snapshot). */
export class ForbiddenError extends BerthError {}

/** 501: a feature Docker has that Berth does not (yet). */
export class NotImplementedError extends BerthError {}

/** 401: bad or missing registry credentials (`docker login`, a pull that needs them). */
export class UnauthorizedError extends BerthError {}

/** 500: a registry answered wrongly or not at all (Docker answers these with 500 too); not a Berth bug. */
export class RegistryError extends BerthError {}

/** 500: something went wrong inside; these are bugs or host failures, never client mistakes. */
export class SystemError extends BerthError {}

/** Docker's "No such container: <id>" wording, which clients match on. */
export function noSuchContainer(idOrName: string): NotFoundError {
  return new NotFoundError(`No such container: ${idOrName}`);
}

export function noSuchImage(ref: string): NotFoundError {
  return new NotFoundError(`No such image: ${ref}`);
}

export function noSuchExec(id: string): NotFoundError {
  return new NotFoundError(`No such exec instance: ${id}`);
}
