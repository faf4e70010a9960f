// berth ps / container ls (GET /containers/json).

import type { ContainerSummary, Port } from '../../types/api.js';
import { collect, command, filtersArg, parse, StatusError, type Ctx } from '../cli.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { ellipsis, goTimeString, humanSize, since, truncateId } from '../format/units.js';
import { familiarName, parseRepoTag } from '../image/ref.js';

const DEFAULT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

const HEADERS = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};

interface Opts {
  all?: boolean;
  quiet?: boolean;
  latest?: boolean;
  last?: string;
  size?: boolean;
  trunc: boolean;
  filter?: string[];
  format?: string;
}

function portKeyCompare(a: Port, b: Port): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  if (a.Type !== b.Type) return a.Type < b.Type ? -1 : 1;
  const ai = a.IP ?? '';
  const bi = b.IP ?? '';
  return ai < bi ? -1 : ai > bi ? 1 : 0;
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** formatter.DisplayablePorts: "0.0.0.0:80->80/tcp, 9000-9002/tcp". */
export function displayablePorts(ports: Port[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const order: string[] = [];
  const form = (key: string, first: number, last: number) => {
    const parts = key.split('/');
    let type = parts[0];
    let ip = '';
    if (parts.length > 1) {
      ip = parts[0];
      type = parts[1];
    }
    const group = first === last ? String(first) : `${first}-${last}`;
    const hostPart = ip ? (ip.includes(':') ? `[${ip}]:${group}` : `${ip}:${group}`) + '->' : '';
    return `${hostPart}${group}/${type}`;
  };
  for (const p of [...ports].sort(portKeyCompare)) {
    const cur = p.PrivatePort;
    let key: string = p.Type;
    if (p.IP) {
      if (p.PublicPort !== cur) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: cur, last: cur });
      order.push(key);
      continue;
    }
    if (cur === g.last + 1) {
      g.last = cur;
      continue;
    }
    result.push(form(key, g.first, g.last));
    groups.set(key, { first: cur, last: cur });
  }
  for (const k of order) {
    const g = groups.get(k)!;
    result.push(form(k, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

function imageDisplay(c: ContainerSummary, trunc: boolean): string {
  if (!c.Image) return '<no image>';
  if (trunc) {
    const t = truncateId(c.ImageID ?? '');
    if (t && t === truncateId(c.Image)) return t;
    if (/^sha256:[0-9a-f]{64}$/.test(c.Image)) return c.Image;
    const r = parseRepoTag(c.Image);
    if (r) return familiarName(r.name) + (r.tag ? `:${r.tag}` : '');
  }
  return c.Image;
}

export function containerContext(c: ContainerSummary, trunc: boolean) {
  const names = (c.Names ?? []).map((n) => n.slice(1));
  let shown = names;
  if (trunc) {
    const primary = names.find((n) => !n.includes('/'));
    if (primary !== undefined) shown = [primary];
  }
  const labels = c.Labels ?? {};
  const ctx = {
    Command: JSON.stringify(trunc ? ellipsis(c.Command ?? '', 20) : (c.Command ?? '')),
    CreatedAt: goTimeString(c.Created),
    ID: trunc ? truncateId(c.Id) : c.Id,
    Image: imageDisplay(c, trunc),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: (c.Mounts ?? []).map((m) => (trunc ? ellipsis(m.Name || m.Source, 15) : m.Name || m.Source)).join(','),
    Names: shown.join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    Platform: null,
    Ports: displayablePorts(c.Ports ?? []),
    RunningFor: since(c.Created),
    Size: (() => {
      const srw = humanSize(c.SizeRw ?? 0, 3);
      return c.SizeRootFs && c.SizeRootFs > 0 ? `${srw} (virtual ${humanSize(c.SizeRootFs, 3)})` : srw;
    })(),
    State: c.State,
    Status: c.Status,
    Label(name: string) {
      return labels[name] ?? '';
    },
  };
  return jsonContext(ctx);
}

export async function ps(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'List containers', args: { max: 0 } });
  c.option('-a, --all', 'Show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <string>', 'Format output using a custom template')
    .option('-n, --last <int>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display container IDs')
    .option('-s, --size', 'Display total file sizes');
  const { opts } = parse<Opts>(ctx, c, argv);
  let limit = -1;
  if (opts.last !== undefined) {
    if (!/^-?\d+$/.test(opts.last)) throw new StatusError(125, `invalid argument "${opts.last}" for "-n, --last" flag: strconv.ParseInt: parsing "${opts.last}": invalid syntax`);
    limit = Number(opts.last);
  }
  if (opts.latest) limit = 1;
  let format = resolveFormat({ format: opts.format ?? '', defaultTable: DEFAULT, quiet: opts.quiet, quietFormat: '{{.ID}}' });
  const defaultTable = !opts.quiet && (!opts.format || opts.format === 'table');
  if (defaultTable && opts.size) format += '\t{{.Size}}';
  const wantSize = !!opts.size || (!opts.quiet && (/\.Size\b/.test(format) || /\{\{-?\s*json\s+\.\s*-?\}\}/.test(format)));
  const list = await ctx.client().get<ContainerSummary[]>('/containers/json', {
    all: opts.all || limit > 0 ? 1 : undefined,
    limit: limit > 0 ? limit : undefined,
    size: wantSize ? 1 : undefined,
    filters: filtersArg(opts.filter),
  });
  const rows = (list ?? []).map((x) => containerContext(x, opts.trunc));
  process.stdout.write(renderList(format, rows, HEADERS));
  return 0;
}
