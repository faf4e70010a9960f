// berth events: the daemon's event stream (GET /events).

import type { EventMessage } from '../../types/api.js';
import { jsonStream } from '../../client/jsonstream.js';
import { collect, command, filtersArg, parse, type Ctx } from '../cli.js';
import { parseTemplate, prepare } from '../format/formatter.js';
import { timeRangeArgs } from '../container/logs.js';

interface Opts {
  filter?: string[];
  format?: string;
  since?: string;
  until?: string;
}

/** RFC 3339 with nanoseconds always printed (jsonmessage.RFC3339NanoFixed), local zone. */
export function rfc3339NanoFixed(timeNano: number | bigint): string {
  const ns = BigInt(timeNano);
  const secs = Number(ns / 1000000000n);
  const frac = (ns % 1000000000n).toString().padStart(9, '0');
  const d = new Date(secs * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(n).padStart(2, '0');
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${frac}${zone}`;
}

/** One event in docker's default text form. */
export function formatEvent(e: EventMessage): string {
  const when = e.timeNano ? rfc3339NanoFixed(e.timeNano) : rfc3339NanoFixed(BigInt(e.time) * 1000000000n);
  let s = `${when} ${e.Type} ${e.Action} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) s += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return s;
}

export async function events(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Get real time events from the server', args: { max: 0 } });
  c.option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <string>', 'Format output using a custom template')
    .option('--since <string>', 'Show all events created since timestamp')
    .option('--until <string>', 'Stream events until this timestamp');
  const { opts } = parse<Opts>(ctx, c, argv);
  const { since, until } = timeRangeArgs(opts);
  const fmt = opts.format === 'json' ? '{{json .}}' : opts.format;
  const tmpl = fmt ? parseTemplate(prepare(fmt)) : null;
  const res = await ctx.client().stream('GET', '/events', { query: { since, until, filters: filtersArg(opts.filter) } });
  for await (const e of jsonStream<EventMessage>(res)) {
    process.stdout.write((tmpl ? tmpl.execute(e) : formatEvent(e)) + '\n');
  }
  return 0;
}
