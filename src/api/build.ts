// POST /build (the legacy builder's API, as the Docker CLI sends it without buildx),
// /build/prune and /build/cancel. The context is the request body; the answer is Docker's JSON
// stream (`stream` lines, `aux` with the image id, `errorDetail` on failure). A bad context,
// Dockerfile or parameter is a 400 before any output; a client that goes away stops the build.
import { PassThrough, type Readable } from 'node:stream';
import type { BuildOptions } from '../build/builder.js';
import { StepFailedError } from '../build/run.js';
import { remoteContext } from '../build/remote.js';
import { normaliseAuth, type AuthConfig } from '../distribution/auth.js';
import { familiarString, parseImageName } from '../engine/images/names.js';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import type { RequestContext } from './context.js';
import { messageOf, statusOf } from './errors.js';
import { type Route, routesFor } from './route.js';
import { logger } from '../util/logger.js';
import type { BuildSession } from '../engine/build-session.js';

/** What the build routes need of the engine (moby's api/server/router/build/backend.go). */
export interface BuildBackend {
  openBuild(context: Readable, dockerfile: string, opts: BuildOptions, auth: (registry: string) => AuthConfig, signal: AbortSignal): Promise<BuildSession>;
  pruneBuildCache(): Promise<{ ids: string[]; reclaimed: number }>;
}

/** Builds running now, by the client's `buildid`, for /build/cancel. */
const running = new Map<string, AbortController>();

function jsonParam<T>(ctx: RequestContext, name: string, check: (v: unknown) => boolean, what: string): T | undefined {
  const raw = ctx.str(name);
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidParameterError(`invalid ${name}: ${what} expected`);
  }
  if (v === null) return undefined;
  if (!check(v)) throw new InvalidParameterError(`invalid ${name}: ${what} expected`);
  return v as T;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: Record<string, unknown>, name: string, nullable: boolean): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string' || (nullable && val === null)) m.set(k, val);
    else throw new InvalidParameterError(`invalid ${name}: the value of ${k} must be a string`);
  }
  return m;
}

function size(ctx: RequestContext, name: string): number | undefined {
  const n = ctx.int(name);
  if (n !== undefined && n < 0) throw new InvalidParameterError(`invalid ${name}: must not be negative`);
  return n;
}

/** The query as BuildOptions; every check that can fail happens here, before the context is read. */
export function buildOptions(ctx: RequestContext): BuildOptions {
  if (ctx.bool('squash')) throw new InvalidParameterError('squash is only supported with experimental mode');
  const version = ctx.str('version');
  if (version && version !== '1') throw new InvalidParameterError(`BuildKit (builder version ${version}) is not supported: use the legacy builder (version=1)`);
  const tags = ctx.query.getAll('t').filter((t) => t !== '');
  const names = tags.map((t) => {
    const name = parseImageName(t);
    if (name.digest) throw new InvalidParameterError(`invalid reference format: ${t} (a tag cannot carry a digest)`);
    return familiarString(name.canonical);
  });
  const buildArgs = stringMap(jsonParam<Record<string, unknown>>(ctx, 'buildargs', isObject, 'a JSON object') ?? {}, 'buildargs', true);
  const labels = Object.fromEntries(stringMap(jsonParam<Record<string, unknown>>(ctx, 'labels', isObject, 'a JSON object') ?? {}, 'labels', false)) as Record<string, string>;
  const cacheFrom = jsonParam<string[]>(ctx, 'cachefrom', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'), 'a JSON array of strings') ?? [];
  const extraHosts = ctx.query.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean);
  return {
    tags: names,
    buildArgs,
    target: ctx.str('target') || undefined,
    noCache: ctx.bool('nocache'),
    pull: ctx.bool('pull'),
    rm: ctx.bool('rm', true),
    forceRm: ctx.bool('forcerm'),
    quiet: ctx.bool('q'),
    labels,
    platform: ctx.str('platform') || undefined,
    cacheFrom,
    hostConfig: {
      NetworkMode: ctx.str('networkmode') || undefined,
      ShmSize: size(ctx, 'shmsize'),
      Memory: size(ctx, 'memory'),
      MemorySwap: ctx.int('memswap'),
      CpuShares: size(ctx, 'cpushares'),
      CpusetCpus: ctx.str('cpusetcpus') || undefined,
      CpuPeriod: size(ctx, 'cpuperiod'),
      CpuQuota: ctx.int('cpuquota'),
      ExtraHosts: extraHosts.length > 0 ? extraHosts : undefined,
    },
  };
}

/** X-Registry-Config: base64url JSON of auth configs by registry, for the pulls FROM makes. */
function registryConfig(ctx: RequestContext): (registry: string) => AuthConfig {
  const h = ctx.req.headers['x-registry-config'];
  const raw = Array.isArray(h) ? h[0] : h;
  if (!raw) return () => ({});
  let parsed: Record<string, Record<string, unknown>>;
  try {
    parsed = JSON.parse(Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, Record<string, unknown>>;
  } catch {
    throw new InvalidParameterError('invalid X-Registry-Config header: expected base64url-encoded JSON');
  }
  return (registry) => {
    const hit = Object.entries(parsed ?? {}).find(([k]) => k === registry || k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === registry || (registry === 'docker.io' && k.includes('index.docker.io')));
    return hit && isObject(hit[1]) ? normaliseAuth(hit[1]) : {};
  };
}

async function build(ctx: RequestContext, backend: BuildBackend): Promise<void> {
  const opts = buildOptions(ctx);
  const auth = registryConfig(ctx);
  const abort = new AbortController();
  const buildId = ctx.str('buildid');
  if (buildId) running.set(buildId, abort);
  // A client that goes away (Ctrl-C) stops the build: its containers are killed and removed.
  const onClose = (): void => {
    if (!ctx.res.writableFinished) abort.abort();
  };
  ctx.res.on('close', onClose);
  // The context reader may stop early (a bad archive): the request must stay intact so that the
  // answer can still be sent, so it is fed through a pipe the reader can drop.
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  ctx.req.pipe(body);
  const dockerfile = ctx.str('dockerfile') || 'Dockerfile';
  const remote = ctx.str('remote');
  try {
    // `remote`: a tar or a Dockerfile on this host's loopback instead of a body.
    const context = remote ? await remoteContext(remote, dockerfile, abort.signal) : body;
    const session = await backend.openBuild(context, dockerfile, opts, auth, abort.signal);
    const res = ctx.startStream('application/json');
    const send = (m: object): void => {
      if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(m) + '\r\n');
    };
    let failure: object | undefined;
    try {
      await session.run({ stream: (text) => send({ stream: text }), aux: (value) => send({ aux: value }) }, abort.signal);
    } catch (err) {
      failure = errorMessage(err);
    } finally {
      // Cleaned up before the client hears the end (it exits on the error line).
      await session.close();
    }
    if (failure) send(failure);
    if (!res.writableEnded) res.end();
  } finally {
    ctx.req.unpipe(body);
    body.destroy();
    ctx.req.resume();
    ctx.res.off('close', onClose);
    if (buildId) running.delete(buildId);
  }
}

/** An error as the stream's last message: Docker's errorDetail (with a failed RUN's exit code). */
function errorMessage(err: unknown): object {
  if (statusOf(err) >= 500) logger.error(`POST /build: ${(err as Error).stack ?? err}`);
  const message = messageOf(err);
  const code = err instanceof StepFailedError ? err.code : undefined;
  return { errorDetail: code !== undefined ? { code, message } : { message }, error: message };
}

const route = routesFor<BuildBackend>((engine) => engine);

export const buildRoutes: Route[] = [
  route('POST', '/build', build),

  route('POST', '/build/prune', async (ctx, backend) => {
    const { ids, reclaimed } = await backend.pruneBuildCache();
    ctx.send(200, { CachesDeleted: ids.length > 0 ? ids : null, SpaceReclaimed: reclaimed });
  }),

  route('POST', '/build/cancel', async (ctx) => {
    const id = ctx.str('id');
    if (!id) throw new InvalidParameterError('build ID not provided');
    const abort = running.get(id);
    if (!abort) throw new NotFoundError(`no such build: ${id}`);
    abort.abort();
    ctx.send(200);
  }),
];
