// One route of the Engine API, and how a route file sees the engine: only through the small
// backend interface it declares (moby's api/server/router/*/backend.go), so a handler cannot
// reach past what its file says it needs.
import type { Engine } from '../engine/engine.js';
import type { RequestContext } from './context.js';
import { operationKey } from './validation/validate.js';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';

export type Handler<B> = (ctx: RequestContext, backend: B) => Promise<void>;

export interface Route {
  method: string;
  /** As written in the route table: "/containers/{id}/json". */
  template: string;
  /** The operation in moby's schema ("GET /containers/{}/json"), which validates the request. */
  operation: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler<Engine>;
}

/**
 * A route maker for one file's backend. `pick` is the one place the engine is seen as that
 * backend, so the compiler checks that the engine provides everything the file declares.
 * "/containers/{id}/json" captures {id}; `{name*}` captures slashes too (image names).
 */
export function routesFor<B>(pick: (engine: Engine) => B) {
  return (method: string, template: string, handler: Handler<B>): Route => {
    const keys: string[] = [];
    const src = template.replace(/\{(\w+)(\*?)\}/g, (_m, key: string, greedy: string) => {
      keys.push(key);
      return greedy ? '(.+)' : '([^/]+)';
    });
    return {
      method,
      template,
      operation: operationKey(method, template),
      pattern: new RegExp(`^${src}$`),
      keys,
      handler: (ctx, engine) => handler(ctx, pick(engine)),
    };
  };
}
