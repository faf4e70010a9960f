// /containers/* handlers: translate HTTP to engine calls and back, nothing more.
import { pipeline } from 'node:stream/promises';
import type { ContainerCommitResponse, ContainerConfig, ContainerCreateRequest, ContainerUpdateRequest, ContainerUpdateResponse } from '../types/api.js';
import { InvalidParameterError, noSuchContainer } from '../errors.js';
import { parseFilters } from '../engine/filters.js';
import type { WaitCondition } from '../engine/containers/container-service.js';
import { type Route, route } from './server.js';
import { MULTIPLEXED_STREAM, RAW_STREAM, parseDetachKeys, pumpAttach, writeOutput } from './streams.js';
import type { Duplex } from 'node:stream';
import type { RequestContext } from './context.js';
import { logger } from '../util/logger.js';
import { containerInspectFor } from './versions.js';

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
  route('GET', '/containers/json', async (ctx, engine) => {
    const list = await engine.listContainers({
      all: ctx.bool('all'),
      limit: ctx.int('limit'),
      size: ctx.bool('size'),
      filters: ctx.filters,
    });
    ctx.send(200, list);
  }),

  route('POST', '/containers/create', async (ctx, engine) => {
    const body = await ctx.json<ContainerCreateRequest>();
    const platform = ctx.str('platform');
    if (platform && !/^linux(\/|$)/.test(platform)) throw new InvalidParameterError(`invalid platform: ${platform}`);
    if (body && typeof body === 'object') dropKernelMemory(ctx.apiVersion, body.HostConfig);
    ctx.send(201, await engine.containers.create(body, ctx.str('name')));
  }),

  route('POST', '/containers/prune', async (ctx, engine) => {
    ctx.send(200, await engine.pruneContainers(ctx.filters));
  }),

  route('GET', '/containers/{id}/json', async (ctx, engine) => {
    ctx.send(200, containerInspectFor(ctx.apiVersion, await engine.inspectContainer(ctx.params.id, ctx.bool('size'))));
  }),

  route('GET', '/containers/{id}/top', async (ctx, engine) => {
    ctx.send(200, await engine.top(ctx.params.id, ctx.str('ps_args') ?? '-ef'));
  }),

  route('GET', '/containers/{id}/changes', async (ctx, engine) => {
    const changes = await engine.changes(ctx.params.id);
    // Docker answers null, not [], when nothing changed.
    ctx.send(200, changes.length > 0 ? changes : null);
  }),

  route('GET', '/containers/{id}/logs', async (ctx, engine) => {
    const c = engine.containers.find(ctx.params.id);
    const stdout = ctx.bool('stdout');
    const stderr = ctx.bool('stderr');
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const tail = ctx.str('tail');
    const entries = engine.logs(c.id, {
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

  route('GET', '/containers/{id}/stats', async (ctx, engine) => {
    const c = engine.containers.find(ctx.params.id);
    const stream = ctx.bool('stream', true);
    const oneShot = ctx.bool('one-shot');
    const signal = abortOnClose(ctx);
    if (!stream) {
      ctx.send(200, await engine.stats(c.id, !oneShot));
      return;
    }
    const out = ctx.startStream('application/json');
    let prev = await engine.stats(c.id, false);
    out.write(JSON.stringify(prev) + '\n');
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000));
      if (signal.aborted) break;
      prev = await engine.stats(c.id, false, prev);
      out.write(JSON.stringify(prev) + '\n');
    }
    out.end();
  }),

  route('POST', '/containers/{id}/resize', async (ctx, engine) => {
    const h = ctx.int('h') ?? 0;
    const w = ctx.int('w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidParameterError('invalid terminal size');
    await engine.containers.resize(ctx.params.id, h, w);
    ctx.send(200);
  }),

  route('POST', '/containers/{id}/start', async (ctx, engine) => {
    await engine.containers.start(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/stop', async (ctx, engine) => {
    await engine.containers.stop(ctx.params.id, { timeout: ctx.int('t'), signal: ctx.str('signal') });
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/restart', async (ctx, engine) => {
    await engine.containers.restart(ctx.params.id, { timeout: ctx.int('t'), signal: ctx.str('signal') });
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/kill', async (ctx, engine) => {
    await engine.containers.kill(ctx.params.id, ctx.str('signal') || 'SIGKILL');
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/update', async (ctx, engine) => {
    const body = await ctx.json<ContainerUpdateRequest>();
    dropKernelMemory(ctx.apiVersion, body);
    const res: ContainerUpdateResponse = { Warnings: await engine.containers.update(ctx.params.id, body) };
    ctx.send(200, res);
  }),

  route('POST', '/containers/{id}/rename', async (ctx, engine) => {
    await engine.containers.rename(ctx.params.id, ctx.str('name') ?? '');
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/pause', async (ctx, engine) => {
    await engine.containers.pause(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/unpause', async (ctx, engine) => {
    await engine.containers.unpause(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/wait', async (ctx, engine) => {
    const condition = (ctx.str('condition') || 'not-running') as WaitCondition;
    // Errors (unknown container, bad condition) must become statuses before the headers go out.
    engine.containers.find(ctx.params.id);
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new InvalidParameterError(`invalid condition: "${condition}"`);
    const signal = abortOnClose(ctx);
    // Registering the waiter happens inside wait() before the headers go out, so a client
    // that starts the container after seeing them cannot miss the exit.
    const result = engine.containers.wait(ctx.params.id, condition, signal);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    try {
      ctx.res.end(JSON.stringify(await result));
    } catch (err) {
      if (!signal.aborted) ctx.res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (err as Error).message } }));
    }
  }),

  route('DELETE', '/containers/{id}', async (ctx, engine) => {
    if (ctx.bool('link')) await engine.containers.removeLink(ctx.params.id);
    else await engine.containers.remove(ctx.params.id, { force: ctx.bool('force'), volumes: ctx.bool('v') });
    ctx.noContent();
  }),

  // `docker rm --link /web/db`: the link's full name has slashes.
  route('DELETE', '/containers/{name*}', async (ctx, engine) => {
    if (!ctx.bool('link')) throw noSuchContainer(ctx.params.name);
    await engine.containers.removeLink(ctx.params.name);
    ctx.noContent();
  }),

  route('POST', '/containers/{id}/attach', async (ctx, engine) => {
    const c = engine.containers.find(ctx.params.id);
    const detachKeys = parseDetachKeys(ctx.str('detachKeys'));
    const opts = { stdin: ctx.bool('stdin'), stdout: ctx.bool('stdout'), stderr: ctx.bool('stderr') };
    const tty = c.config.Tty ?? false;
    const { socket, head } = ctx.hijack(tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    const signal = abortOnSocketClose(socket);
    if (ctx.bool('logs') && engine.logDrivers.keepsOutput(c)) {
      for await (const e of engine.logs(c.id, { follow: false })) {
        if ((e.stream === 'stdout' && opts.stdout) || (e.stream === 'stderr' && opts.stderr)) writeOutput(socket, tty, e.stream === 'stdout' ? 1 : 2, e.data);
      }
    }
    if (!ctx.bool('stream')) {
      // dockerd reports an attach after the logs, with or without a stream.
      engine.containers.emit(c, 'attach');
      socket.end();
      return;
    }
    let stream;
    try {
      stream = await engine.containers.attach(c.id, signal);
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
      onDetach: () => engine.events.emit('container', 'detach', c.id, { image: c.image, name: c.name }),
    });
  }),

  route('POST', '/commit', async (ctx, engine) => {
    // The body is optional: an empty one (or `{}`, `null`) means "the container's own config".
    const body = await ctx.json<ContainerConfig | null>({ optional: true });
    if (body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new InvalidParameterError('invalid JSON: a container config object is expected');
    // moby: pause unless `pause` is present and false-ish (an empty value counts as false).
    const pause = ctx.str('pause');
    const id = await engine.commit({
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

  route('GET', '/containers/{id}/export', async (ctx, engine) => {
    // Errors before the first byte are statuses; later ones can only cut the stream short.
    const tar = await engine.exportContainer(ctx.params.id);
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
