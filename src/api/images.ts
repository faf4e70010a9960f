// /images/* handlers.
import { InvalidParameterError } from '../errors.js';
import { parsePlatform } from '../distribution/platform.js';
import { parsePullReference } from '../reference/index.js';
import { registryAuth, streamProgress } from './distribution.js';
import { parseFilters } from '../engine/filters.js';
import { parseImageName } from '../engine/images/names.js';
import { type Route, route } from './server.js';

function changesParam(query: URLSearchParams): string[] {
  return query.getAll('changes').filter((c) => c.trim() !== '');
}

export const imageRoutes: Route[] = [
  route('GET', '/images/json', async (ctx, engine) => {
    const filters = parseFilters(ctx.str('filters'), ['dangling', 'label', 'label!', 'before', 'since', 'reference', 'until']);
    // The legacy `filter` parameter is a reference filter.
    const legacy = ctx.str('filter');
    if (legacy) filters.set('reference', [...(filters.get('reference') ?? []), legacy]);
    ctx.send(200, await engine.listImages({ all: ctx.bool('all'), digests: ctx.bool('digests'), filters }));
  }),

  route('POST', '/images/create', async (ctx, engine) => {
    const fromSrc = ctx.str('fromSrc');
    const fromImage = ctx.str('fromImage');
    if (fromSrc !== undefined) {
      if (fromSrc !== '-') throw new InvalidParameterError('importing from a URL is not supported: send the archive in the request body (fromSrc=-)');
      // A bad target name is a 400 before any output, as in Docker.
      const repo = ctx.str('repo');
      if (repo) parseImageName(ctx.str('tag') ? `${repo}:${ctx.str('tag')}` : repo);
      const out = ctx.startStream('application/json');
      try {
        const id = await engine.importImage(ctx.req, {
          repo: ctx.str('repo'),
          tag: ctx.str('tag'),
          message: ctx.str('message'),
          changes: changesParam(ctx.query),
        });
        out.end(JSON.stringify({ status: id }) + '\r\n');
      } catch (err) {
        // Headers are out: errors travel in-band, as Docker's progress stream does.
        out.end(JSON.stringify({ errorDetail: { message: (err as Error).message }, error: (err as Error).message }) + '\r\n');
      }
      return;
    }
    if (!fromImage) throw new InvalidParameterError('either fromSrc or fromImage must be set');
    // Bad references, platforms and auth headers are 400s before any output.
    const ref = parsePullReference(fromImage, ctx.str('tag'));
    const platformParam = ctx.str('platform');
    const platform = platformParam ? parsePlatform(platformParam) : undefined;
    const auth = registryAuth(ctx);
    await streamProgress(ctx, (sink) => engine.pullImage(ref, { platform, auth }, sink));
  }),

  route('POST', '/images/{name*}/push', async (ctx, engine) => {
    const ref = parsePullReference(ctx.params.name, ctx.str('tag'));
    if (ref.digest) throw new InvalidParameterError('cannot push a digest reference');
    const auth = registryAuth(ctx);
    await streamProgress(ctx, (sink) => engine.pushImage(ref, auth, sink));
  }),

  route('POST', '/images/prune', async (ctx, engine) => {
    const filters = parseFilters(ctx.str('filters'), ['dangling', 'label', 'label!', 'until']);
    const dangling = filters.get('dangling')?.[0];
    const result = await engine.images.prune({ all: dangling === 'false' || dangling === '0', filters });
    ctx.send(200, { ImagesDeleted: result.deleted.length ? result.deleted : null, SpaceReclaimed: result.reclaimed });
  }),

  route('GET', '/images/{name*}/json', async (ctx, engine) => {
    ctx.send(200, await engine.images.inspect(ctx.params.name));
  }),

  route('GET', '/images/{name*}/history', async (ctx, engine) => {
    ctx.send(200, engine.images.history(ctx.params.name));
  }),

  route('POST', '/images/{name*}/tag', async (ctx, engine) => {
    const repo = ctx.str('repo');
    if (!repo) throw new InvalidParameterError('repository name must have at least one component');
    const tag = ctx.str('tag');
    await engine.images.tag(ctx.params.name, tag ? `${repo}:${tag}` : repo);
    ctx.send(201);
  }),

  route('DELETE', '/images/{name*}', async (ctx, engine) => {
    ctx.send(200, await engine.images.remove(ctx.params.name, { force: ctx.bool('force'), noPrune: ctx.bool('noprune') }));
  }),
];
