// berth run / create: create → (attach) → wait → start → stream → exit with the wait's status.

import type { ContainerCreateResponse, ContainerWaitResponse } from '../../types/api.js';
import type { Client } from '../../client/client.js';
import { ApiError } from '../../client/errors.js';
import { command, describe, parse, StatusError, type Ctx } from '../cli.js';
import { pullImage } from './pull.js';
import { monitorTtySize, proxySignals, pumpStreams, rawMode, startFailureStatus, detachKeysFor } from '../streams.js';
import { addCreateFlags, buildCreateRequest, type CreateOpts } from './opts.js';
import { familiarString, parseAnyReference } from '../../reference/index.js';

const enc = encodeURIComponent;

function fail(ctx: Ctx, e: unknown, status = 125): StatusError {
  if (e instanceof StatusError) return e;
  return new StatusError(status, `${ctx.prog}: ${describe(e)}\n\nRun '${ctx.prog} ${ctx.path} --help' for more information`);
}

async function createContainer(ctx: Ctx, o: CreateOpts, image: string, cmd: string[]): Promise<string> {
  const client = ctx.client();
  const req = buildCreateRequest(o, image, cmd);
  const query = { name: o.name, platform: o.platform };
  const pull = () => pullImage(ctx, image, { platform: o.platform, quiet: !!o.quiet });
  if (o.pull === 'always') await pull();
  let res: ContainerCreateResponse;
  try {
    res = await client.post<ContainerCreateResponse>('/containers/create', query, req);
  } catch (e) {
    if (!(e instanceof ApiError && e.statusCode === 404 && /image/i.test(e.message)) || o.pull === 'never') throw e;
    if (!o.quiet) process.stderr.write(`Unable to find image '${familiarTagged(image)}' locally\n`);
    await pull();
    res = await client.post<ContainerCreateResponse>('/containers/create', query, req);
  }
  for (const w of res.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  return res.Id;
}

/** reference.FamiliarString(TagNameOnly(ParseAnyReference(image))), what docker names in "Unable to find image". */
function familiarTagged(image: string): string {
  try {
    const r = parseAnyReference(image);
    return familiarString((r.tag === undefined && r.digest === undefined ? r.withTag('latest') : r).toString());
  } catch {
    return image;
  }
}

function setup(ctx: Ctx, run: boolean) {
  const c = command(ctx, {
    usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
    description: run ? 'Create and run a new container from an image' : 'Create a new container',
    args: { min: 1 },
    positional: true,
  });
  addCreateFlags(c, run);
  return c;
}

export async function create(argv: string[], ctx: Ctx): Promise<number> {
  const { opts, args } = parse<CreateOpts>(ctx, setup(ctx, false), argv);
  const [image, ...cmd] = args;
  try {
    const id = await createContainer(ctx, opts, image, cmd);
    process.stdout.write(id + '\n');
  } catch (e) {
    // docker create returns the error as is (exit 1); only run wraps it with its usage hint (125)
    if (e instanceof StatusError) throw e;
    throw new StatusError(1, describe(e));
  }
  return 0;
}

export async function run(argv: string[], ctx: Ctx): Promise<number> {
  const { opts, args } = parse<CreateOpts>(ctx, setup(ctx, true), argv);
  opts.detachKeys = detachKeysFor(ctx, opts.detachKeys);
  const [image, ...cmd] = args;
  const client = ctx.client();
  const attach = new Set((opts.attach ?? []).map((a) => a.toLowerCase()));
  const wantStdin = !opts.detach && (attach.size ? attach.has('stdin') : !!opts.interactive);
  if (opts.tty && wantStdin && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');

  let id: string;
  try {
    id = await createContainer(ctx, opts, image, cmd);
  } catch (e) {
    throw fail(ctx, e);
  }

  if (opts.detach) {
    try {
      await client.post(`/containers/${enc(id)}/start`);
    } catch (e) {
      throw fail(ctx, e, e instanceof ApiError ? startFailureStatus(e.message) : 125);
    }
    process.stdout.write(id + '\n');
    return 0;
  }

  const tty = !!opts.tty;
  const wantStdout = attach.size ? attach.has('stdout') : true;
  const wantStderr = attach.size ? attach.has('stderr') : true;
  return attachStartWait(ctx, client, id, {
    tty,
    stdin: wantStdin,
    stdout: wantStdout,
    stderr: wantStderr,
    detachKeys: opts.detachKeys,
    sigProxy: opts.sigProxy !== false && !tty,
    autoRemove: !!opts.rm,
    startErrorStatus: true,
  });
}

export interface AttachFlow {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: string;
  sigProxy: boolean;
  autoRemove: boolean;
  /** Map start failures to 125/126/127 like run does (start -a uses 1). */
  startErrorStatus: boolean;
}

/** The shared attach → wait → start → stream → status flow of run and start -a. */
export async function attachStartWait(ctx: Ctx, client: Client, id: string, f: AttachFlow): Promise<number> {
  let hijacked;
  try {
    hijacked = await client.hijack('POST', `/containers/${enc(id)}/attach`, {
      query: { stream: 1, stdin: f.stdin ? 1 : undefined, stdout: f.stdout ? 1 : undefined, stderr: f.stderr ? 1 : undefined, detachKeys: f.detachKeys },
    });
  } catch (e) {
    throw fail(ctx, e);
  }
  // The wait is registered before start so a fast exit is never missed.
  const waitP = client
    .post<ContainerWaitResponse>(`/containers/${enc(id)}/wait`, { condition: f.autoRemove ? 'removed' : 'next-exit' })
    .then(
      (r) => ({ r }),
      (e: unknown) => ({ e }),
    );
  const restore = rawMode(f.tty && f.stdin);
  const streamsP = pumpStreams({ socket: hijacked.socket, tty: f.tty, stdin: f.stdin, stdout: f.stdout, stderr: f.stderr, detachKeys: f.detachKeys });
  try {
    await client.post(`/containers/${enc(id)}/start`);
  } catch (e) {
    restore();
    hijacked.socket.destroy();
    if (f.startErrorStatus) throw fail(ctx, e, e instanceof ApiError ? startFailureStatus(e.message) : 125);
    throw e;
  }
  const stopResize = f.tty ? monitorTtySize(client, `/containers/${enc(id)}/resize`) : () => {};
  const stopSignals = f.sigProxy ? proxySignals(client, id) : () => {};
  let result;
  try {
    result = await streamsP;
  } finally {
    restore();
    stopResize();
    stopSignals();
  }
  if (result.detached) return 0;
  const w = await waitP;
  if ('e' in w) {
    // the container may already be gone (--rm) by the time the wait answers
    if (w.e instanceof ApiError && w.e.statusCode === 404) return 0;
    throw w.e;
  }
  if (w.r?.Error?.Message) process.stderr.write(`${ctx.prog}: ${w.r.Error.Message}\n`);
  return w.r?.StatusCode ?? 0;
}
