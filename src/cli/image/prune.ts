// berth image prune (POST /images/prune).

import type { ImagePruneResponse } from '../../types/api.js';
import { collect, command, filtersArg, parse, type Ctx } from '../cli.js';
import { confirm } from '../prompt.js';
import { humanSize } from '../format/units.js';

interface Opts {
  all?: boolean;
  force?: boolean;
  filter?: string[];
}

export async function pruneImages(ctx: Ctx, all: boolean, filter: string[] | undefined): Promise<{ text: string; reclaimed: number }> {
  const filters = [...(filter ?? [])];
  filters.push(`dangling=${all ? 'false' : 'true'}`);
  const r = await ctx.client().post<ImagePruneResponse>('/images/prune', { filters: filtersArg(filters) });
  let text = '';
  const items = r?.ImagesDeleted ?? [];
  if (items.length) {
    text += 'Deleted Images:\n';
    for (const it of items) {
      if (it.Untagged) text += `untagged: ${it.Untagged}\n`;
      if (it.Deleted) text += `deleted: ${it.Deleted}\n`;
    }
    text += '\n';
  }
  return { text, reclaimed: r?.SpaceReclaimed ?? 0 };
}

export async function prune(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Remove unused images', args: { max: 0 } });
  c.option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation');
  const { opts } = parse<Opts>(ctx, c, argv);
  const warning = opts.all
    ? 'WARNING! This will remove all images without at least one container associated to them.'
    : 'WARNING! This will remove all dangling images.';
  if (!opts.force && !(await confirm(warning))) return 0;
  const { text, reclaimed } = await pruneImages(ctx, !!opts.all, opts.filter);
  process.stdout.write(`${text}Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}
