// berth system prune: stopped containers, then dangling (or all unused) images.

import { ApiError } from '../../client/errors.js';
import { collect, command, parse, type Ctx } from '../cli.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';
import { pruneContainers } from '../container/prune.js';
import { pruneImages } from '../image/prune.js';
import { pruneVolumes } from '../volume/volume.js';

export async function prune(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Remove unused data', args: { max: 0 } });
  c.option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes');
  const { opts } = parse<{ all?: boolean; force?: boolean; filter?: string[]; volumes?: boolean }>(ctx, c, argv);
  const warning = `WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container${opts.volumes ? '\n  - all anonymous volumes not used by at least one container' : ''}
  - ${opts.all ? 'all images without at least one container associated to them' : 'all dangling images'}
  - ${opts.all ? 'all build cache' : 'unused build cache'}
`;
  if (!opts.force && !(await confirm(warning))) return 0;
  let total = 0;
  let text = '';
  const cr = await pruneContainers(ctx, opts.filter);
  text += cr.text;
  total += cr.reclaimed;
  try {
    const nr = await ctx.client().post<{ NetworksDeleted?: string[] | null }>('/networks/prune', { filters: undefined });
    if (nr?.NetworksDeleted?.length) text += `Deleted Networks:\n${nr.NetworksDeleted.join('\n')}\n\n`;
  } catch (e) {
    if (!(e instanceof ApiError && (e.statusCode === 404 || e.statusCode === 501))) throw e;
  }
  if (opts.volumes) {
    const vr = await pruneVolumes(ctx, false, (opts.filter ?? []).filter((f) => f.startsWith('label')));
    text += vr.text;
    total += vr.reclaimed;
  }
  const ir = await pruneImages(ctx, !!opts.all, opts.filter);
  text += ir.text;
  total += ir.reclaimed;
  process.stdout.write(`${text}Total reclaimed space: ${humanSize(total)}\n`);
  return 0;
}
