// berth exec: run a command in a running container (POST /containers/{id}/exec, /exec/{id}/start).

import type { ExecInspect } from '../../types/api.js';
import { collect, command, parse, StatusError, type Ctx } from '../cli.js';
import { parseEnvFile } from './opts.js';
import { pumpTerminal, detachKeysFor } from '../streams.js';
import { readFileSync } from 'node:fs';

interface Opts {
  detach?: boolean;
  detachKeys?: string;
  env?: string[];
  envFile?: string[];
  interactive?: boolean;
  privileged?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

export async function exec(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER COMMAND [ARG...]', description: 'Execute a command in a running container', args: { min: 2 }, positional: true });
  c.option('-d, --detach', 'Detached mode: run command in the background')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <file>', 'Read in a file of environment variables', collect)
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--privileged', 'Give extended privileges to the command')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-u, --user <string>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <string>', 'Working directory inside the container');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  opts.detachKeys = detachKeysFor(ctx, opts.detachKeys);
  const [container, ...cmd] = args;
  const client = ctx.client();
  const tty = !!opts.tty;
  const stdin = !!opts.interactive && !opts.detach;
  if (tty && stdin && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
  const env: string[] = [];
  for (const f of opts.envFile ?? []) env.push(...parseEnvFile(readFileSync(f, 'utf8')));
  for (const e of opts.env ?? []) {
    if (e.includes('=')) env.push(e);
    else if (process.env[e] !== undefined) env.push(`${e}=${process.env[e]}`);
  }
  const size: [number, number] | null = tty && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : null;
  const created = await client.post<{ Id: string }>(`/containers/${encodeURIComponent(container)}/exec`, undefined, {
    User: opts.user ?? '',
    Privileged: !!opts.privileged,
    Tty: tty,
    ConsoleSize: size,
    AttachStdin: stdin,
    AttachStdout: !opts.detach,
    AttachStderr: !opts.detach,
    DetachKeys: opts.detachKeys ?? '',
    Env: env.length ? env : null,
    WorkingDir: opts.workdir ?? '',
    Cmd: cmd,
  });
  const execId = created.Id;
  if (!execId) throw new StatusError(1, 'exec ID empty');
  if (opts.detach) {
    await client.post(`/exec/${execId}/start`, undefined, { Detach: true, Tty: tty, ConsoleSize: size });
    return 0;
  }
  const h = await client.hijack('POST', `/exec/${execId}/start`, { body: { Detach: false, Tty: tty, ConsoleSize: size } });
  const res = await pumpTerminal(client, h.socket, { tty, stdin, detachKeys: opts.detachKeys, resizePath: `/exec/${execId}/resize` });
  if (res.detached) return 0;
  const info = await client.get<ExecInspect>(`/exec/${execId}/json`);
  return info.ExitCode ?? 0;
}
