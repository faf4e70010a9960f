// GET /distribution/{name}/json, and the progress-stream plumbing pull and push share.
import type { ServerResponse } from 'node:http';
import type { JSONMessage } from '../types/api.js';
import { decodeRegistryAuth, type AuthConfig } from '../distribution/auth.js';
import { parseDockerRef } from '../reference/index.js';
import type { RequestContext } from './context.js';
import { messageOf } from './errors.js';
import { type Route, routesFor } from './route.js';
import type { DistributionInspect } from '../types/api.js';
import type { Reference } from '../reference/index.js';

export function registryAuth(ctx: RequestContext): AuthConfig {
  const h = ctx.req.headers['x-registry-auth'];
  return decodeRegistryAuth(Array.isArray(h) ? h[0] : h);
}

/**
 * Runs a pull or push whose progress is Docker's JSON stream. Headers go out with the first
 * message, so an error before it (unknown image, no such manifest) is an ordinary HTTP error
 * with Docker's status; an error after it travels in-band, as dockerd does.
 */
export async function streamProgress(ctx: RequestContext, run: (sink: (m: JSONMessage) => void) => Promise<void>): Promise<void> {
  let out: ServerResponse | undefined;
  const write = (m: JSONMessage): void => {
    out ??= ctx.startStream('application/json');
    // A client that went away does not stop the operation; its layers still land.
    if (!out.destroyed && !out.writableEnded) out.write(JSON.stringify(m) + '\r\n');
  };
  try {
    await run(write);
  } catch (err) {
    if (!out) throw err;
    const msg = messageOf(err);
    write({ errorDetail: { message: msg }, error: msg });
  }
  if (out) {
    if (!out.writableEnded) out.end();
  } else {
    ctx.startStream('application/json').end();
  }
}

/** What this route needs of the engine (moby's api/server/router/distribution/backend.go). */
export interface DistributionBackend {
  distributionInspect(ref: Reference, auth: AuthConfig): Promise<DistributionInspect>;
}

const route = routesFor<DistributionBackend>((engine) => engine);

export const distributionRoutes: Route[] = [
  route('GET', '/distribution/{name*}/json', async (ctx, backend) => {
    const ref = parseDockerRef(ctx.params.name);
    ctx.send(200, await backend.distributionInspect(ref, registryAuth(ctx)));
  }),
];
