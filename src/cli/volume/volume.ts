// berth volume create | ls | inspect | rm | prune (/volumes/*).

import type { Volume, VolumeListResponse, VolumePruneResponse } from '../../types/api.js';
import { collect, command, describe, filtersArg, forEach, parse, StatusError, type Ctx } from '../cli.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { humanSize } from '../format/units.js';
import { renderInspect } from '../inspect.js';
import { confirm } from '../prompt.js';

const enc = encodeURIComponent;

/** "k=v" pairs into a map; a bare key maps to "" (docker's ListOpts → map). */
function keyValues(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list ?? []) {
    const i = s.indexOf('=');
    if (i < 0) out[s] = '';
    else out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

export async function create(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] [VOLUME]', description: 'Create a volume', args: { max: 1 } });
  c.option('-d, --driver <string>', 'Specify volume driver name', undefined, 'local')
    .option('--label <list>', 'Set metadata for a volume', collect)
    .option('--name <string>', 'Specify volume name')
    .option('-o, --opt <map>', 'Set driver specific options', collect);
  const { opts, args } = parse<{ driver: string; label?: string[]; name?: string; opt?: string[] }>(ctx, c, argv);
  if (opts.name && args[0]) throw new StatusError(1, 'conflicting options: cannot specify a volume-name through both --name and as a positional arg');
  const v = await ctx.client().post<Volume>('/volumes/create', undefined, {
    Name: args[0] ?? opts.name ?? '',
    Driver: opts.driver,
    DriverOpts: keyValues(opts.opt),
    Labels: keyValues(opts.label),
  });
  process.stdout.write(`${v.Name}\n`);
  return 0;
}

const DEFAULT = 'table {{.Driver}}\t{{.Name}}';
const HEADERS = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

/** The fields `volume ls --format` offers, as docker's volume formatter names them. */
export function volumeContext(v: Volume) {
  const labels = v.Labels ?? {};
  return jsonContext({
    Availability: 'N/A',
    Driver: v.Driver,
    Group: 'N/A',
    Labels: Object.entries(labels)
      .map(([k, val]) => `${k}=${val}`)
      .sort()
      .join(','),
    Links: v.UsageData && v.UsageData.RefCount >= 0 ? String(v.UsageData.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope,
    Size: v.UsageData && v.UsageData.Size >= 0 ? humanSize(v.UsageData.Size) : 'N/A',
    Status: 'N/A',
    Label(name: string) {
      return labels[name] ?? '';
    },
  });
}

export async function ls(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'List volumes', args: { max: 0 } });
  c.option('-f, --filter <filter>', "Provide filter values (e.g. 'dangling=true')", collect)
    .option('--format <string>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display volume names');
  const { opts } = parse<{ filter?: string[]; format?: string; quiet?: boolean }>(ctx, c, argv);
  const r = await ctx.client().get<VolumeListResponse>('/volumes', { filters: filtersArg(opts.filter) });
  const volumes = [...(r.Volumes ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  const format = resolveFormat({ format: opts.format ?? '', defaultTable: DEFAULT, quiet: opts.quiet, quietFormat: '{{.Name}}' });
  process.stdout.write(renderList(format, volumes.map(volumeContext), HEADERS));
  return 0;
}

export async function inspect(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes', args: { min: 1 } });
  c.option('-f, --format <string>', 'Format output using a custom template');
  const { opts, args } = parse<{ format?: string }>(ctx, c, argv);
  const found: Volume[] = [];
  const errors: string[] = [];
  for (const name of args) {
    try {
      found.push(await ctx.client().get<Volume>(`/volumes/${enc(name)}`));
    } catch (e) {
      errors.push(describe(e));
    }
  }
  process.stdout.write(renderInspect(found, opts.format));
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}

export async function rm(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes', args: { min: 1 } });
  c.option('-f, --force', 'Force the removal of one or more volumes');
  const { opts, args } = parse<{ force?: boolean }>(ctx, c, argv);
  return forEach(args, async (name) => {
    await ctx.client().delete(`/volumes/${enc(name)}`, { force: opts.force ? 1 : undefined });
    return name;
  });
}

export async function prune(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Remove unused local volumes', args: { max: 0 } });
  c.option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', "Provide filter values (e.g. 'label=<label>')", collect)
    .option('-f, --force', 'Do not prompt for confirmation');
  const { opts } = parse<{ all?: boolean; filter?: string[]; force?: boolean }>(ctx, c, argv);
  const warning = opts.all
    ? 'WARNING! This will remove all local volumes not used by at least one container.'
    : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
  if (!opts.force && !(await confirm(warning))) return 0;
  const { text, reclaimed } = await pruneVolumes(ctx, !!opts.all, opts.filter);
  process.stdout.write(`${text}Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

/** POST /volumes/prune; the "Deleted Volumes:" block and the bytes reclaimed (also for system prune --volumes). */
export async function pruneVolumes(ctx: Ctx, all: boolean, filter: string[] | undefined): Promise<{ text: string; reclaimed: number }> {
  const filters = [...(filter ?? [])];
  if (all) filters.push('all=true');
  const r = await ctx.client().post<VolumePruneResponse>('/volumes/prune', { filters: filtersArg(filters) });
  const text = r.VolumesDeleted?.length ? `Deleted Volumes:\n${r.VolumesDeleted.map((n) => `${n}\n`).join('')}\n` : '';
  return { text, reclaimed: r.SpaceReclaimed ?? 0 };
}
