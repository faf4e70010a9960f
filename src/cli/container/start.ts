// berth start: start stopped containers, optionally attached (-a, -i).

import type { ContainerInspect } from '../../types/api.js';
import { detachKeysFor } from '../streams.js';
import { command, describe, parse, StatusError, type Ctx } from '../cli.js';
import { attachStartWait } from './run.js';

interface Opts {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
}

export async function start(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Start one or more stopped containers', args: { min: 1 } });
  c.option('-a, --attach', "Attach STDOUT/STDERR and forward signals")
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-i, --interactive', "Attach container's STDIN");
  const { opts, args } = parse<Opts>(ctx, c, argv);
  opts.detachKeys = detachKeysFor(ctx, opts.detachKeys);
  const client = ctx.client();
  if (opts.attach || opts.interactive) {
    if (args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
    const info = await client.get<ContainerInspect>(`/containers/${encodeURIComponent(args[0])}/json`);
    if (info.State.Running) throw new StatusError(1, `Error response from daemon: container ${info.Id} is already running`);
    const tty = !!info.Config.Tty;
    const stdin = !!opts.interactive && !!info.Config.OpenStdin;
    return attachStartWait(ctx, client, info.Id, {
      tty,
      stdin,
      stdout: true,
      stderr: true,
      detachKeys: opts.detachKeys,
      sigProxy: !tty,
      autoRemove: !!info.HostConfig?.AutoRemove,
      startErrorStatus: false,
    });
  }
  const errors: string[] = [];
  const failed: string[] = [];
  for (const n of args) {
    try {
      await client.post(`/containers/${encodeURIComponent(n)}/start`);
      process.stdout.write(n + '\n');
    } catch (e) {
      errors.push(describe(e));
      failed.push(n);
    }
  }
  if (errors.length) throw new StatusError(1, `${errors.join('\n')}\nError: failed to start containers: ${failed.join(', ')}`);
  return 0;
}
