// berth history / image history (GET /images/{name}/history), docker's table and --format.

import type { ImageHistoryEntry } from '../../types/api.js';
import { command, parse, type Ctx } from '../cli.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { ellipsis, humanSize, since, truncateId } from '../format/units.js';

const HUMAN = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const NON_HUMAN = 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

const HEADERS = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** Before this, docker shows no age ("N/A"): such dates are placeholders. */
const EPOCH = Date.UTC(2000, 0, 1) / 1000;

interface Opts {
  human: boolean;
  quiet?: boolean;
  trunc: boolean;
  format?: string;
  platform?: string;
}

/** Go's time.Format(time.RFC3339) in the local zone. */
export function rfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p2(Math.trunc(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${zone}`;
}

export function historyContext(h: ImageHistoryEntry, human: boolean, trunc: boolean) {
  const createdAt = rfc3339(h.Created);
  const createdBy = h.CreatedBy.replace(/\t/g, ' ');
  return jsonContext({
    Comment: h.Comment,
    CreatedAt: createdAt,
    CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
    CreatedSince: !human ? createdAt : h.Created <= EPOCH ? 'N/A' : since(h.Created),
    ID: trunc ? truncateId(h.Id) : h.Id,
    Size: human ? humanSize(h.Size, 3) : String(h.Size),
  });
}

export async function history(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] IMAGE', description: 'Show the history of an image', args: { exact: 1 } });
  c.option('--format <string>', 'Format output using a custom template')
    .option('-H, --human', 'Print sizes and dates in human readable format (default true)', undefined, true)
    .option('--no-trunc', "Don't truncate output")
    .option('--platform <string>', 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")')
    .option('-q, --quiet', 'Only show image IDs');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const query = opts.platform ? { platform: JSON.stringify(platformObject(opts.platform)) } : undefined;
  const list = await ctx.client().get<ImageHistoryEntry[] | null>(`/images/${encodeURIComponent(args[0])}/history`, query);
  const format = resolveFormat({ format: opts.format ?? '', defaultTable: opts.human ? HUMAN : NON_HUMAN, quiet: opts.quiet, quietFormat: '{{.ID}}' });
  const rows = (list ?? []).map((h) => historyContext(h, opts.human, opts.trunc));
  process.stdout.write(renderList(format, rows, HEADERS));
  return 0;
}

function platformObject(p: string): { os: string; architecture?: string; variant?: string } {
  const [os, architecture, variant] = p.split('/');
  return { os, ...(architecture ? { architecture } : {}), ...(variant ? { variant } : {}) };
}
