// berth attach: connect local stdio to a running container's main process.

import type { ContainerInspect, ContainerWaitResponse } from '../../types/api.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { pumpTerminal, detachKeysFor } from '../streams.js';

interface Opts {
  stdin: boolean;
  sigProxy: boolean;
  detachKeys?: string;
}

export async function attach(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER', description: 'Attach local standard input, output, and error streams to a running container', args: { exact: 1 } });
  c.option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('--no-stdin', 'Do not attach STDIN')
    .option('--no-sig-proxy', 'Proxy all received signals to the process');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  opts.detachKeys = detachKeysFor(ctx, opts.detachKeys);
  const client = ctx.client();
  const info = await client.get<ContainerInspect>(`/containers/${encodeURIComponent(args[0])}/json`);
  if (!info.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
  if (info.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
  if (info.State.Restarting) throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
  const id = info.Id;
  const tty = !!info.Config.Tty;
  const stdin = opts.stdin !== false && !!info.Config.OpenStdin;
  if (tty && stdin && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
  const waitP = client.post<ContainerWaitResponse>(`/containers/${encodeURIComponent(id)}/wait`).then(
    (r) => ({ r }),
    (e: unknown) => ({ e }),
  );
  const h = await client.hijack('POST', `/containers/${encodeURIComponent(id)}/attach`, {
    query: { stream: 1, stdin: stdin ? 1 : undefined, stdout: 1, stderr: 1, detachKeys: opts.detachKeys },
  });
  const res = await pumpTerminal(client, h.socket, {
    tty,
    stdin,
    detachKeys: opts.detachKeys,
    resizePath: `/containers/${encodeURIComponent(id)}/resize`,
    proxySignalsTo: opts.sigProxy !== false ? id : undefined,
  });
  if (res.detached) return 0;
  const w = await waitP;
  if ('e' in w) return 0;
  return w.r?.StatusCode ?? 0;
}
