// /containers/{id}/exec and /exec/* handlers.
import type { ExecConfig, ExecStartConfig } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { type Route, routesFor } from './route.js';
import type { ExecService } from '../engine/exec/exec-service.js';
import { MULTIPLEXED_STREAM, RAW_STREAM, frame, holdInput, parseDetachKeys, pumpAttach } from './streams.js';

/** What these routes need of the engine (moby's api/server/router/container/backend.go, its exec part). */
export interface ExecBackend {
  exec: Pick<ExecService, 'create' | 'get' | 'inspect' | 'checkStartable' | 'start' | 'resize'>;
}

const route = routesFor<ExecBackend>((engine) => engine);

export const execRoutes: Route[] = [
  route('POST', '/containers/{id}/exec', async (ctx, backend) => {
    const config = await ctx.json<ExecConfig>();
    if (config.DetachKeys) parseDetachKeys(config.DetachKeys);
    ctx.send(201, await backend.exec.create(ctx.params.id, config));
  }),

  route('POST', '/exec/{id}/start', async (ctx, backend) => {
    const body = await ctx.json<ExecStartConfig>({ optional: true });
    const e = backend.exec.get(ctx.params.id);
    const tty = body.Tty ?? e.config.Tty ?? false;
    if (body.Detach) {
      await backend.exec.start(e.id, { detach: true, tty });
      ctx.send(200);
      return;
    }
    backend.exec.checkStartable(e.id);
    // The answer's head goes out before the process starts, as dockerd's does: a client that
    // reads the head through a buffer (docker-py) would otherwise swallow the first output.
    const { socket, head: early } = ctx.hijack(tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    const input = holdInput(socket, early);
    let started;
    try {
      started = await backend.exec.start(e.id, { detach: false, tty });
    } catch (err) {
      // dockerd writes a start failure into the stream (and the exit code says 126).
      if (!socket.destroyed) socket.end(tty ? `${(err as Error).message}\r\n` : frame(1, Buffer.from(`${(err as Error).message}\r\n`)));
      return;
    }
    const { stream, exited } = started;
    const head = input.release();
    if (!stream) {
      socket.end();
      return;
    }
    // The client reads the exit code right after the stream ends: record it before ending.
    await pumpAttach(socket, head, stream, {
      beforeEnd: () => exited,
      tty,
      stdin: e.config.AttachStdin ?? false,
      stdout: e.config.AttachStdout ?? true,
      stderr: e.config.AttachStderr ?? true,
      detachKeys: parseDetachKeys(e.config.DetachKeys),
      closeStdinOnEnd: true,
    });
  }),

  route('POST', '/exec/{id}/resize', async (ctx, backend) => {
    const h = ctx.int('h') ?? 0;
    const w = ctx.int('w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidParameterError('invalid terminal size');
    await backend.exec.resize(ctx.params.id, h, w);
    ctx.send(200);
  }),

  route('GET', '/exec/{id}/json', async (ctx, backend) => {
    ctx.send(200, backend.exec.inspect(ctx.params.id));
  }),
];
