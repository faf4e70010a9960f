// /images/* handlers.
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidParameterError } from '../errors.js';
import { parsePlatform } from '../util/platform.js';
import { parsePullReference } from '../reference/index.js';
import { registryAuth, streamProgress } from './distribution.js';
import type { RequestContext } from './context.js';
import { messageOf, statusOf } from './errors.js';
import { type Route, routesFor } from './route.js';
import type { ImageDeleteResponseItem, ImageHistoryEntry, ImageInspect, ImageSummary } from '../types/api.js';
import type { Filters } from '../engine/filters.js';
import type { LoadOptions } from '../engine/images/load.js';
import type { PullOptions } from '../engine/images/pull.js';
import type { AuthConfig } from '../distribution/auth.js';
import type { ProgressSink } from '../distribution/progress.js';
import type { Reference } from '../reference/index.js';
import { imageInspectFor } from './versions.js';
import { logger } from '../util/logger.js';

function changesParam(query: URLSearchParams): string[] {
  return query.getAll('changes').filter((c) => c.trim() !== '');
}

/** What these routes need of the engine (moby's api/server/router/image/backend.go). */
export interface ImageBackend {
  images: {
    inspect(ref: string): Promise<ImageInspect>;
    history(ref: string): ImageHistoryEntry[];
    tag(source: string, target: string): Promise<void>;
    remove(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteResponseItem[]>;
    prune(opts: { all: boolean; filters: Filters }): Promise<{ deleted: ImageDeleteResponseItem[]; reclaimed: number }>;
  };
  listImages(opts: { all: boolean; digests: boolean; filters: Filters }): Promise<ImageSummary[]>;
  importImage(input: Readable, opts: { repo?: string; tag?: string; message?: string; changes?: string[] }): Promise<string>;
  pullImage(ref: Reference, opts: PullOptions, sink: ProgressSink): Promise<void>;
  pushImage(ref: Reference, auth: AuthConfig, sink: ProgressSink): Promise<void>;
  saveImages(names: string[]): Promise<Readable>;
  loadImages(input: Readable, opts: LoadOptions): Promise<string[]>;
}

const route = routesFor<ImageBackend>((engine) => engine);

export const imageRoutes: Route[] = [
  route('GET', '/images/json', async (ctx, backend) => {
    const filters = ctx.filters;
    // The legacy `filter` parameter is a reference filter.
    const legacy = ctx.str('filter');
    if (legacy) filters.set('reference', [...(filters.get('reference') ?? []), legacy]);
    ctx.send(200, await backend.listImages({ all: ctx.bool('all'), digests: ctx.bool('digests'), filters }));
  }),

  route('POST', '/images/create', async (ctx, backend) => {
    const fromSrc = ctx.str('fromSrc');
    const fromImage = ctx.str('fromImage');
    if (fromSrc !== undefined) {
      if (fromSrc !== '-') throw new InvalidParameterError('importing from a URL is not supported: send the archive in the request body (fromSrc=-)');
      // The target name and the archive's first bytes were checked by the validation step.
      const out = ctx.startStream('application/json');
      try {
        const id = await backend.importImage(ctx.req, {
          repo: ctx.str('repo'),
          tag: ctx.str('tag'),
          message: ctx.str('message'),
          changes: changesParam(ctx.query),
        });
        out.end(JSON.stringify({ status: id }) + '\r\n');
      } catch (err) {
        // Headers are out: errors travel in-band, as Docker's progress stream does.
        out.end(JSON.stringify({ errorDetail: { message: messageOf(err) }, error: messageOf(err) }) + '\r\n');
      }
      return;
    }
    if (!fromImage) throw new InvalidParameterError('either fromSrc or fromImage must be set');
    // Bad references, platforms and auth headers are 400s before any output.
    const ref = parsePullReference(fromImage, ctx.str('tag'));
    const platformParam = ctx.str('platform');
    const platform = platformParam ? parsePlatform(platformParam) : undefined;
    const auth = registryAuth(ctx);
    await streamProgress(ctx, (sink) => backend.pullImage(ref, { platform, auth }, sink));
  }),

  route('POST', '/images/{name*}/push', async (ctx, backend) => {
    const ref = parsePullReference(ctx.params.name, ctx.str('tag'));
    if (ref.digest) throw new InvalidParameterError('cannot push a digest reference');
    const auth = registryAuth(ctx);
    await streamProgress(ctx, (sink) => backend.pushImage(ref, auth, sink));
  }),

  route('POST', '/images/prune', async (ctx, backend) => {
    const filters = ctx.filters;
    const dangling = filters.get('dangling')?.[0];
    const result = await backend.images.prune({ all: dangling === 'false' || dangling === '0', filters });
    ctx.send(200, { ImagesDeleted: result.deleted.length ? result.deleted : null, SpaceReclaimed: result.reclaimed });
  }),

  // docker save: several images (names=a&names=b) or one (/images/{name}/get), as application/x-tar.
  route('GET', '/images/get', async (ctx, backend) => {
    await sendArchive(ctx, await backend.saveImages(ctx.query.getAll('names')));
  }),

  route('GET', '/images/{name*}/get', async (ctx, backend) => {
    await sendArchive(ctx, await backend.saveImages([ctx.params.name]));
  }),

  // docker load: the body is the archive; progress and "Loaded image" lines stream back as JSON,
  // and, as in Docker, errors travel in-band once the headers are out.
  route('POST', '/images/load', async (ctx, backend) => {
    const out = ctx.startStream('application/json');
    const send = (m: object): void => void out.write(JSON.stringify(m) + '\r\n');
    // The loader may stop reading early (end of archive, bad input); the request itself must
    // stay intact so the answer can still be sent, so it is fed through a pipe it can drop.
    const body = new PassThrough({ highWaterMark: 1 << 20 });
    ctx.req.pipe(body);
    try {
      await backend.loadImages(body, { quiet: ctx.bool('quiet'), emit: send });
    } catch (err) {
      if (statusOf(err) >= 500) logger.error(`POST /images/load: ${(err as Error).stack ?? err}`);
      send({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
    } finally {
      ctx.req.unpipe(body);
      body.destroy();
      ctx.req.resume();
    }
    out.end();
  }),

  route('GET', '/images/{name*}/json', async (ctx, backend) => {
    ctx.send(200, imageInspectFor(ctx.apiVersion, await backend.images.inspect(ctx.params.name)));
  }),

  route('GET', '/images/{name*}/history', async (ctx, backend) => {
    ctx.send(200, backend.images.history(ctx.params.name));
  }),

  route('POST', '/images/{name*}/tag', async (ctx, backend) => {
    const repo = ctx.str('repo');
    if (!repo) throw new InvalidParameterError('repository name must have at least one component');
    const tag = ctx.str('tag');
    await backend.images.tag(ctx.params.name, tag ? `${repo}:${tag}` : repo);
    ctx.send(201);
  }),

  route('DELETE', '/images/{name*}', async (ctx, backend) => {
    ctx.send(200, await backend.images.remove(ctx.params.name, { force: ctx.bool('force'), noPrune: ctx.bool('noprune') }));
  }),
];

/** Streams a save archive; a failure after the headers can only cut the stream short. */
async function sendArchive(ctx: RequestContext, archive: Readable): Promise<void> {
  ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  try {
    await pipeline(archive, ctx.res);
  } catch (err) {
    // Usually the client went away; otherwise a blob vanished mid-stream (checked before the start).
    logger.warn(`image save: ${(err as Error).message}`);
    ctx.res.destroy();
  }
}
