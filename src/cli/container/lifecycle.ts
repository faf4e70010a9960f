// stop, kill, restart, pause, unpause, rm, rename, wait.

import type { ContainerWaitResponse } from '../../types/api.js';
import { command, forEach, parse, StatusError, type Ctx } from '../cli.js';

const enc = encodeURIComponent;

interface StopOpts {
  time?: string;
  timeout?: string;
  signal?: string;
}

function parseTimeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new StatusError(125, `invalid argument "${v}" for "-t, --timeout" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

export async function stop(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Stop one or more running containers', args: { min: 1 } });
  c.option('-s, --signal <string>', 'Signal to send to the container').option('-t, --timeout <int>', 'Seconds to wait before killing the container');
  c.hidden('--time <int>');
  const { opts, args } = parse<StopOpts>(ctx, c, argv);
  const t = parseTimeout(opts.timeout ?? opts.time);
  return forEach(args, async (n) => {
    await ctx.client().post(`/containers/${enc(n)}/stop`, { t, signal: opts.signal });
    return n;
  });
}

export async function restart(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Restart one or more containers', args: { min: 1 } });
  c.option('-s, --signal <string>', 'Signal to send to the container').option('-t, --timeout <int>', 'Seconds to wait before killing the container');
  const { opts, args } = parse<StopOpts>(ctx, c, argv);
  const t = parseTimeout(opts.timeout);
  return forEach(args, async (n) => {
    await ctx.client().post(`/containers/${enc(n)}/restart`, { t, signal: opts.signal });
    return n;
  });
}

export async function kill(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Kill one or more running containers', args: { min: 1 } });
  c.option('-s, --signal <string>', 'Signal to send to the container');
  const { opts, args } = parse<StopOpts>(ctx, c, argv);
  return forEach(args, async (n) => {
    await ctx.client().post(`/containers/${enc(n)}/kill`, { signal: opts.signal });
    return n;
  });
}

export async function pause(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER [CONTAINER...]', description: 'Pause all processes within one or more containers', args: { min: 1 } });
  const { args } = parse(ctx, c, argv);
  return forEach(args, async (n) => {
    await ctx.client().post(`/containers/${enc(n)}/pause`);
    return n;
  });
}

export async function unpause(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER [CONTAINER...]', description: 'Unpause all processes within one or more containers', args: { min: 1 } });
  const { args } = parse(ctx, c, argv);
  return forEach(args, async (n) => {
    await ctx.client().post(`/containers/${enc(n)}/unpause`);
    return n;
  });
}

interface RmOpts {
  force?: boolean;
  volumes?: boolean;
  link?: boolean;
}

export async function rm(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Remove one or more containers', args: { min: 1 } });
  c.option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-l, --link', 'Remove the specified link')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container');
  const { opts, args } = parse<RmOpts>(ctx, c, argv);
  return forEach(args, async (n) => {
    const name = n.replace(/^\/+/, '');
    if (!name) throw new Error('Container name cannot be empty');
    await ctx.client().delete(`/containers/${enc(name)}`, { force: opts.force ? 1 : undefined, v: opts.volumes ? 1 : undefined, link: opts.link ? 1 : undefined });
    return n;
  });
}

export async function rename(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER NEW_NAME', description: 'Rename a container', args: { exact: 2 } });
  const { args } = parse(ctx, c, argv);
  const [oldName, newName] = args.map((a) => a.trim());
  if (!oldName || !newName) throw new StatusError(1, 'Error: Neither old nor new names may be empty');
  await ctx.client().post(`/containers/${enc(oldName)}/rename`, { name: newName });
  return 0;
}

export async function wait(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER [CONTAINER...]', description: 'Block until one or more containers stop, then print their exit codes', args: { min: 1 } });
  const { args } = parse(ctx, c, argv);
  return forEach(args, async (n) => {
    const r = await ctx.client().post<ContainerWaitResponse>(`/containers/${enc(n)}/wait`);
    if (r?.Error?.Message) throw new Error(r.Error.Message);
    return String(r?.StatusCode ?? 0);
  });
}
