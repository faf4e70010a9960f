// /containers/{id}/archive: docker cp's three requests (HEAD stat, GET archive, PUT extract).
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerPathStat } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { type Route, routesFor } from './route.js';
import type { ExtractRequest } from '../engine/containers/archive.js';
import type { RequestContext } from './context.js';

/** moby's ArchiveFormValues (its message has no space before "cannot": kept as Docker words it). */
function pathParam(ctx: RequestContext): string {
  const p = ctx.str('path');
  if (!p) throw new InvalidParameterError('bad parameter: pathcannot be empty');
  return p;
}

function statHeader(stat: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** What these routes need of the engine (moby's api/server/router/container/backend.go, its copy part). */
export interface ArchiveBackend {
  stat(idOrName: string, reqPath: string): Promise<ContainerPathStat>;
  archive(idOrName: string, reqPath: string, consume: (stat: ContainerPathStat, tar: Readable) => Promise<void>): Promise<void>;
  extract(idOrName: string, reqPath: string, body: Readable, req: ExtractRequest): Promise<void>;
}

const route = routesFor<ArchiveBackend>((engine) => engine.archive);

export const archiveRoutes: Route[] = [
  route('HEAD', '/containers/{id}/archive', async (ctx, backend) => {
    const stat = await backend.stat(ctx.params.id, pathParam(ctx));
    ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(stat) });
    ctx.res.end();
  }),

  route('GET', '/containers/{id}/archive', async (ctx, backend) => {
    await backend.archive(ctx.params.id, pathParam(ctx), async (stat, tar) => {
      ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(stat), 'Content-Type': 'application/x-tar' });
      try {
        await pipeline(tar, ctx.res);
      } catch (e) {
        // A client that stops reading (docker cp interrupted) is not an error of ours.
        if ((e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
      }
    });
  }),

  route('PUT', '/containers/{id}/archive', async (ctx, backend) => {
    const reqPath = pathParam(ctx);
    // Extraction reads a proxy, which it may destroy on a bad archive without closing the connection.
    const body = new PassThrough();
    ctx.req.pipe(body);
    try {
      await backend.extract(ctx.params.id, reqPath, body, {
        noOverwriteDirNonDir: ctx.bool('noOverwriteDirNonDir'),
        copyUIDGID: ctx.bool('copyUIDGID'),
      });
    } catch (e) {
      // The answer goes out now; what is left of the body is read and dropped, so that a client
      // still writing it (Go's and Node's alike) gets the answer rather than a broken pipe.
      ctx.req.unpipe(body);
      ctx.req.resume();
      throw e;
    }
    ctx.send(200);
  }),
];
