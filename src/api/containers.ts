// /containers/* handlers: translate HTTP to engine calls and back, nothing more.
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type {
  ContainerCommitResponse,
  ContainerConfig,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerPruneResponse,
  ContainerStatsResponse,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateRequest,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  FilesystemChange,
} from '../types/api.js';
import { InvalidParameterError, noSuchContainer } from '../errors.js';
import { type Filters, parseFilters } from '../engine/filters.js';
import type { WaitCondition } from '../engine/containers/container-service.js';
import type { ContainerRecord } from '../engine/containers/container.js';
import type { CommitOptions } from '../engine/images/commit.js';
import type { AttachStream, LogEntry } from '../runtime/types.js';
import { type Route, routesFor } from './route.js';
import { MULTIPLEXED_STREAM, RAW_STREAM, parseDetachKeys, pumpAttach, writeOutput } from './streams.js';
import type { Duplex } from 'node:stream';
import type { RequestContext } from './context.js';
import { logger } from '../util/logger.js';
import { containerInspectFor } from './versions.js';

interface StopOptions {
  timeout?: number;
  signal?: string;
}

/** What these routes need of the engine (moby's api/server/router/container/backend.go). */
export interface ContainerBackend {
  containers: {
    find(idOrName: string): ContainerRecord;
    create(req: ContainerCreateRequest, name: string | undefined): Promise<ContainerCreateResponse>;
    start(idOrName: string): Promise<void>;
    stop(idOrName: string, opts: StopOptions): Promise<void>;
    restart(idOrName: string, opts: StopOptions): Promise<void>;
    kill(idOrName: string, signal?: string): Promise<void>;
    pause(idOrName: string): Promise<void>;
    unpause(idOrName: string): Promise<void>;
    update(idOrName: string, body: ContainerUpdateRequest): Promise<string[]>;
    rename(idOrName: string, newName: string): Promise<void>;
    resize(idOrName: string, height: number, width: number): Promise<void>;
    wait(idOrName: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaitResponse>;
    attach(idOrName: string, signal?: AbortSignal): Promise<AttachStream>;
    remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void>;
    removeLink(fullName: string): Promise<void>;
    /** A container event with Docker's attributes (image, name, labels). */
    emit(c: ContainerRecord, action: string): void;
  };
  listContainers(opts: { all: boolean; limit?: number; size: boolean; filters: Filters }): Promise<ContainerSummary[]>;
  inspectContainer(idOrName: string, size: boolean): Promise<ContainerInspect>;
  top(idOrName: string, psArgs: string): Promise<ContainerTopResponse>;
  changes(idOrName: string): Promise<FilesystemChange[]>;
  logs(id: string, opts: { follow: boolean; since?: string; until?: string; tail?: number; signal?: AbortSignal }): AsyncIterable<LogEntry>;
  stats(id: string, twoSamples: boolean, prev?: ContainerStatsResponse): Promise<ContainerStatsResponse>;
  pruneContainers(filters: Filters): Promise<ContainerPruneResponse>;
  commit(opts: CommitOptions): Promise<string>;
  exportContainer(idOrName: string): Promise<Readable>;
  logDrivers: { keepsOutput(c: ContainerRecord): boolean };
}

const route = routesFor<ContainerBackend>((engine) => engine);

function abortOnClose(ctx: RequestContext): AbortSignal {
  const ac = new AbortController();
  ctx.res.on('close', () => ac.abort());
  ctx.req.socket.on('close', () => ac.abort());
  return ac.signal;
}

/** For hijacked streams only a full close means the client is gone (a half-close just ends stdin). */
function abortOnSocketClose(socket: Duplex): AbortSignal {
  const ac = new AbortController();
  socket.on('close', () => ac.abort());
  return ac.signal;
}

/** API 1.42 removed KernelMemory: Docker ignores it from newer clients (and warns older ones). */
function dropKernelMemory(apiVersion: string, hc: { KernelMemory?: number } | null | undefined): void {
  const [major, minor] = apiVersion.split('.').map(Number);
  if (hc && typeof hc === 'object' && (major > 1 || minor >= 42)) delete hc.KernelMemory;
}

export const containerRoutes: Route[] = [
  route('GET', '/containers/json', async (ctx, backend) => {
    const list = await backend.listContainers({
      all: ctx.bool('all'),
      limit: ctx.int('limit'),
      size: ctx.bool('size'),
      filters: ctx.filters,
    });
    ctx.send(200, list);
  }),

  route('POST', '/containers/create', async (ctx, backend) => {
    const body = await ctx.json<ContainerCreateRequest>();
    // dockerd's wrapper embeds *Config: with none of its fields there is no config at all.
    if (body && typeof body === 'object' && Object.keys(body).every((k) => k === 'HostConfig' || k === 'NetworkingConfig')) {
      throw new InvalidParameterError('Config cannot be empty in order to create a container');
    }
    const platform = ctx.str('platform');
    if (platform && !/^linux(\/|$)/.test(platform)) throw new InvalidParameterError(`invalid platform: ${platform}`);
    if (body && typeof body === 'object') dropKernelMemory(ctx.apiVersion, body.HostConfig);
    ctx.send(201, await backend.containers.create(body, ctx.str('name')));
  }),

  route('POST', '/containers/prune', async (ctx, backend) => {
    ctx.send(200, await backend.pruneContainers(ctx.filters));
  }),

  route('GET', '/containers/{id}/json', async (ctx, backend) => {
    ctx.send(200, containerInspectFor(ctx.apiVersion, await backend.inspectContainer(ctx.params.id, ctx.bool('size'))));
  }),

  route('GET', '/containers/{id}/top', async (ctx, backend) => {
    ctx.send(200, await backend.top(ctx.params.id, ctx.str('ps_args') ?? '-ef'));
  }),

  route('GET', '/containers/{id}/changes', async (ctx, backend) => {
    const changes = await backend.changes(ctx.params.id);
    // Docker answers null, not [], when nothing changed.
    ctx.send(200, changes.length > 0 ? changes : null);
  }),

  route('GET', '/containers/{id}/logs', async (ctx, backend) => {
    const c = backend.containers.find(ctx.params.id);
    const stdout = ctx.bool('stdout');
    const stderr = ctx.bool('stderr');
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const tail = ctx.str('tail');
    const entries = backend.logs(c.id, {
      follow: ctx.bool('follow'),
      since: ctx.str('since'),
      until: ctx.str('until'),
      tail: tail === undefined || tail === 'all' ? undefined : Number.isNaN(parseInt(tail, 10)) ? undefined : parseInt(tail, 10),
      signal: abortOnClose(ctx),
    });
    const tty = c.config.Tty ?? false;
    const out = ctx.startStream(tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    const timestamps = ctx.bool('timestamps');
    for await (const e of entries) {
      if ((e.stream === 'stdout' && !stdout) || (e.stream === 'stderr' && !stderr)) continue;
      const data = timestamps ? Buffer.concat([Buffer.from(e.time.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z') + ' '), e.data]) : e.data;
      writeOutput(out, tty, e.stream === 'stdout' ? 1 : 2, data);
    }
    out.end();
  }),

  route('GET', '/containers/{id}/stats', async (ctx, backend) => {
    const c = backend.containers.find(ctx.params.id);
    const stream = ctx.bool('stream', true);
    const oneShot = ctx.bool('one-shot');
    const signal = abortOnClose(ctx);
    if (!stream) {
      ctx.send(200, await backend.stats(c.id, !oneShot));
      return;
    }
    const out = ctx.startStream('application/json');
    let prev = await backend.stats(c.id, false);
    out.write(JSON.stringify(prev) + '\n');
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000));
      if (signal.aborted) break;
      prev = await backend.stats(c.id, false, prev);
      out.write(JSON.stringify(prev) + '\n');
    }
    out.end();
  }),

  route('POST', '/containers/{id}/resize', async (ctx, backend) => {
    const h = ctx.int('h') ?? 0;
    const w = ctx.int('w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidParameterError('invalid terminal size');
    await backend.containers.resize(ctx.params.id, h, w);
    ctx.send(200);
  }),

  route('POST', '/containers/{id}/start', async (ctx, backend) => {
    await backend.containers.start(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/stop', async (ctx, backend) => {
    await backend.containers.stop(ctx.params.id, { timeout: ctx.int('t'), signal: ctx.str('signal') });
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/restart', async (ctx, backend) => {
    await backend.containers.restart(ctx.params.id, { timeout: ctx.int('t'), signal: ctx.str('signal') });
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/kill', async (ctx, backend) => {
    await backend.containers.kill(ctx.params.id, ctx.str('signal') || 'SIGKILL');
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/update', async (ctx, backend) => {
    const body = await ctx.json<ContainerUpdateRequest>();
    dropKernelMemory(ctx.apiVersion, body);
    const res: ContainerUpdateResponse = { Warnings: await backend.containers.update(ctx.params.id, body) };
    ctx.send(200, res);
  }),

  route('POST', '/containers/{id}/rename', async (ctx, backend) => {
    await backend.containers.rename(ctx.params.id, ctx.str('name') ?? '');
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/pause', async (ctx, backend) => {
    await backend.containers.pause(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/unpause', async (ctx, backend) => {
    await backend.containers.unpause(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/wait', async (ctx, backend) => {
    const condition = (ctx.str('condition') || 'not-running') as WaitCondition;
    // Errors (unknown container, bad condition) must become statuses before the headers go out.
    backend.containers.find(ctx.params.id);
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new InvalidParameterError(`invalid condition: "${condition}"`);
    const signal = abortOnClose(ctx);
    // Registering the waiter happens inside wait() before the headers go out, so a client
    // that starts the container after seeing them cannot miss the exit.
    const result = backend.containers.wait(ctx.params.id, condition, signal);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    try {
      ctx.res.end(JSON.stringify(await result));
    } catch (err) {
      if (!signal.aborted) ctx.res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (err as Error).message } }));
    }
  }),

  route('DELETE', '/containers/{id}', async (ctx, backend) => {
    if (ctx.bool('link')) await backend.containers.removeLink(ctx.params.id);
    else await backend.containers.remove(ctx.params.id, { force: ctx.bool('force'), volumes: ctx.bool('v') });
    ctx.noContent();
  }),

  // `docker rm --link /web/db`: the link's full name has slashes.
  route('DELETE', '/containers/{name*}', async (ctx, backend) => {
    if (!ctx.bool('link')) throw noSuchContainer(ctx.params.name);
    await backend.containers.removeLink(ctx.params.name);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/attach', async (ctx, backend) => {
    const c = backend.containers.find(ctx.params.id);
    const detachKeys = parseDetachKeys(ctx.str('detachKeys'));
    const opts = { stdin: ctx.bool('stdin'), stdout: ctx.bool('stdout'), stderr: ctx.bool('stderr') };
    const tty = c.config.Tty ?? false;
    const { socket, head } = ctx.hijack(tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    const signal = abortOnSocketClose(socket);
    if (ctx.bool('logs') && backend.logDrivers.keepsOutput(c)) {
      for await (const e of backend.logs(c.id, { follow: false })) {
        if ((e.stream === 'stdout' && opts.stdout) || (e.stream === 'stderr' && opts.stderr)) writeOutput(socket, tty, e.stream === 'stdout' ? 1 : 2, e.data);
      }
    }
    if (!ctx.bool('stream')) {
      // dockerd reports an attach after the logs, with or without a stream.
      backend.containers.emit(c, 'attach');
      socket.end();
      return;
    }
    let stream;
    try {
      stream = await backend.containers.attach(c.id, signal);
    } catch (err) {
      logger.debug(`attach ${c.id}: ${(err as Error).message}`);
      socket.end();
      return;
    }
    await pumpAttach(socket, head, stream, {
      tty,
      ...opts,
      detachKeys,
      closeStdinOnEnd: c.config.StdinOnce ?? false,
      onDetach: () => backend.containers.emit(c, 'detach'),
    });
  }),

  route('POST', '/commit', async (ctx, backend) => {
    // The body is optional: an empty one (or `{}`, `null`) means "the container's own config".
    const body = await ctx.json<ContainerConfig | null>({ optional: true });
    if (body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new InvalidParameterError('invalid JSON: a container config object is expected');
    // moby: pause unless `pause` is present and false-ish (an empty value counts as false).
    const pause = ctx.str('pause');
    const id = await backend.commit({
      container: ctx.str('container') ?? '',
      repo: ctx.str('repo'),
      tag: ctx.str('tag'),
      comment: ctx.str('comment'),
      author: ctx.str('author'),
      pause: pause === undefined || !['', '0', 'no', 'false', 'none'].includes(pause.trim().toLowerCase()),
      changes: ctx.query.getAll('changes').filter((c) => c.trim() !== ''),
      config: body && Object.keys(body).length > 0 ? body : undefined,
    });
    const res: ContainerCommitResponse = { Id: id };
    ctx.send(201, res);
  }),

  route('GET', '/containers/{id}/export', async (ctx, backend) => {
    // Errors before the first byte are statuses; later ones can only cut the stream short.
    const tar = await backend.exportContainer(ctx.params.id);
    // Docker's type for it (swagger: produces application/octet-stream).
    const out = ctx.startStream('application/octet-stream');
    try {
      await pipeline(tar, out);
    } catch (err) {
      logger.debug(`export ${ctx.params.id}: ${(err as Error).message}`);
      tar.destroy();
      ctx.res.destroy();
    }
  }),
];
