// berth image diff A B (file-level difference of two images' union views, shared layers once) and
// berth image efficiency (wasted bytes and dive's CI gate: a non-zero exit when an image wastes more).
import type { Efficiency, ImageComparison } from '../../types/berth.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { palette } from '../format/colour.js';
import { humanSize, parseBytes } from '../format/units.js';

const enc = encodeURIComponent;

function wantJson(format: string | undefined): boolean {
  if (format === undefined || format === '') return false;
  if (format === 'json') return true;
  throw new StatusError(125, `unknown format "${format}": only json is supported`);
}

export async function diff(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] IMAGE_A IMAGE_B', description: 'Show the files image B adds, changes and deletes relative to image A (layer:<chain id> names one layer of a stack)', args: { exact: 2 } });
  c.option('--format <string>', 'Format output: json');
  const { opts, args } = parse<{ format?: string }>(ctx, c, argv);
  const r = await ctx.client().get<ImageComparison>('/berth/images/compare', { a: args[0], b: args[1] });
  if (wantJson(opts.format)) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  const p = palette();
  const out: string[] = [];
  const short = (k: string): string => k.slice(0, 12);
  out.push(`${p.bold('Shared layers:')} ${r.SharedLayers.length ? r.SharedLayers.map(short).join(' ') : 'none'}`);
  out.push(`${p.bold(`Only in ${args[0]}:`)} ${r.OnlyA.length ? r.OnlyA.map(short).join(' ') : 'none'}`);
  out.push(`${p.bold(`Only in ${args[1]}:`)} ${r.OnlyB.length ? r.OnlyB.map(short).join(' ') : 'none'}`);
  const colour = { A: p.green, C: p.yellow, D: p.red };
  for (const d of r.Changes) {
    const size = d.Kind === 'A' ? humanSize(d.Size, 3) : d.Kind === 'D' ? `-${humanSize(d.OldSize, 3)}` : `${humanSize(d.OldSize, 3)} → ${humanSize(d.Size, 3)}`;
    out.push(`${colour[d.Kind](d.Kind)} ${d.Path}${d.Type === 'dir' ? '/' : ''}  ${p.dim(size)}`);
  }
  const s = r.Summary;
  out.push(p.bold(`${s.Added} added (${humanSize(s.AddedBytes, 3)}), ${s.Changed} changed (${s.ChangedBytes >= 0 ? '+' : '-'}${humanSize(Math.abs(s.ChangedBytes), 3)}), ${s.Deleted} deleted (${humanSize(s.DeletedBytes, 3)})`));
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

interface EfficiencyOpts {
  format?: string;
  lowestEfficiency?: string;
  highestWastedBytes?: string;
}

export async function efficiency(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] IMAGE', description: 'Show the bytes an image carries but never shows (overwritten or deleted by a higher layer); fail when over the limits', args: { exact: 1 } });
  c.option('--format <string>', 'Format output: json')
    .option('--lowest-efficiency <ratio>', 'Fail (exit 1) when the efficiency score is below this (0..1)')
    .option('--highest-wasted-bytes <size>', 'Fail (exit 1) when more bytes than this are wasted (e.g. 20MB)');
  const { opts, args } = parse<EfficiencyOpts>(ctx, c, argv);
  const lowest = opts.lowestEfficiency === undefined ? undefined : Number(opts.lowestEfficiency);
  if (lowest !== undefined && !(lowest >= 0 && lowest <= 1)) throw new StatusError(125, `invalid argument "${opts.lowestEfficiency}" for "--lowest-efficiency" flag: a ratio between 0 and 1`);
  let highest: number | undefined;
  try {
    highest = opts.highestWastedBytes === undefined ? undefined : parseBytes(opts.highestWastedBytes);
  } catch (e) {
    throw new StatusError(125, `invalid argument "${opts.highestWastedBytes}" for "--highest-wasted-bytes" flag: ${(e as Error).message}`);
  }
  const r = await ctx.client().get<Efficiency>(`/berth/images/${enc(args[0])}/efficiency`);
  const failures: string[] = [];
  if (lowest !== undefined && r.Score < lowest) failures.push(`efficiency ${r.Score.toFixed(4)} is below ${lowest}`);
  if (highest !== undefined && r.WastedBytes > highest) failures.push(`${humanSize(r.WastedBytes, 3)} wasted is more than ${humanSize(highest, 3)}`);
  if (wantJson(opts.format)) {
    process.stdout.write(JSON.stringify({ ...r, Pass: failures.length === 0, Failures: failures }, null, 2) + '\n');
    return failures.length ? 1 : 0;
  }
  const p = palette();
  const out = [
    `${p.bold('Efficiency:')} ${(r.Score * 100).toFixed(2)} %`,
    `${p.bold('Wasted:')} ${humanSize(r.WastedBytes, 3)} of ${humanSize(r.TotalBytes, 3)} in all layers`,
  ];
  if (r.Inefficiencies.length) {
    out.push(p.bold('Count  Wasted     Path'));
    for (const i of r.Inefficiencies) out.push(`${String(i.Count).padStart(5)}  ${p.yellow(humanSize(i.WastedBytes, 3).padEnd(9))}  ${i.Path}`);
  }
  out.push(failures.length ? p.red(`FAIL: ${failures.join('; ')}`) : lowest !== undefined || highest !== undefined ? p.green('PASS') : '');
  process.stdout.write(out.filter(Boolean).join('\n') + '\n');
  return failures.length ? 1 : 0;
}
