// berth container prune (POST /containers/prune).

import type { ContainerPruneResponse } from '../../types/api.js';
import { collect, command, filtersArg, parse, type Ctx } from '../cli.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';

export async function pruneContainers(ctx: Ctx, filter: string[] | undefined): Promise<{ text: string; reclaimed: number }> {
  const r = await ctx.client().post<ContainerPruneResponse>('/containers/prune', { filters: filtersArg(filter) });
  let text = '';
  const ids = r?.ContainersDeleted ?? [];
  if (ids.length) text = `Deleted Containers:\n${ids.join('\n')}\n\n`;
  return { text, reclaimed: r?.SpaceReclaimed ?? 0 };
}

export async function prune(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Remove all stopped containers', args: { max: 0 } });
  c.option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect).option('-f, --force', 'Do not prompt for confirmation');
  const { opts } = parse<{ force?: boolean; filter?: string[] }>(ctx, c, argv);
  if (!opts.force && !(await confirm('WARNING! This will remove all stopped containers.'))) return 0;
  const { text, reclaimed } = await pruneContainers(ctx, opts.filter);
  process.stdout.write(`${text}Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}
