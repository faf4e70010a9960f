// berth rmi / image rm (DELETE /images/{name}).

import type { ImageDeleteResponseItem } from '../../types/api.js';
import { command, describe, parse, StatusError, type Ctx } from '../cli.js';

interface Opts {
  force?: boolean;
  prune: boolean;
}

export async function rmi(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Remove one or more images', args: { min: 1 } });
  c.option('-f, --force', 'Force removal of the image').option('--no-prune', 'Do not delete untagged parents');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const errors: string[] = [];
  for (const name of args) {
    try {
      const items = await ctx.client().delete<ImageDeleteResponseItem[]>(`/images/${encodeURIComponent(name)}`, {
        force: opts.force ? 1 : undefined,
        noprune: opts.prune ? undefined : 1,
      });
      let s = '';
      for (const it of items ?? []) {
        if (it.Untagged) s += `Untagged: ${it.Untagged}\n`;
        if (it.Deleted) s += `Deleted: ${it.Deleted}\n`;
      }
      process.stdout.write(s);
    } catch (e) {
      errors.push(describe(e));
    }
  }
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}
