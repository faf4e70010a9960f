// top, diff, port.

import type { ContainerInspect, ContainerTopResponse, FilesystemChange } from '../../types/api.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { tabulate } from '../format/tabwriter.js';

const enc = encodeURIComponent;

export async function top(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER [ps OPTIONS]', description: 'Display the running processes of a container', args: { min: 1 }, positional: true });
  const { args } = parse(ctx, c, argv);
  const [name, ...psArgs] = args;
  const r = await ctx.client().get<ContainerTopResponse>(`/containers/${enc(name)}/top`, { ps_args: psArgs.length ? psArgs.join(' ') : undefined });
  let s = (r.Titles ?? []).join('\t') + '\n';
  for (const p of r.Processes ?? []) s += p.join('\t') + '\n';
  // docker uses tabwriter(minwidth 20, padding 1)
  process.stdout.write(tabulate(s, 20, 1));
  return 0;
}

export async function diff(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER', description: "Inspect changes to files or directories on a container's filesystem", args: { exact: 1 } });
  const { args } = parse(ctx, c, argv);
  const changes = await ctx.client().get<FilesystemChange[] | null>(`/containers/${enc(args[0])}/changes`);
  const kinds = ['C', 'A', 'D'];
  process.stdout.write((changes ?? []).map((ch) => `${kinds[ch.Kind] ?? '?'} ${ch.Path}\n`).join(''));
  return 0;
}

export async function port(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]', description: 'List port mappings or a specific mapping for the container', args: { min: 1, max: 2 } });
  const { args } = parse(ctx, c, argv);
  const info = await ctx.client().get<ContainerInspect>(`/containers/${enc(args[0])}/json`);
  const ports = info.NetworkSettings?.Ports ?? {};
  const fmt = (b: { HostIp?: string; HostPort?: string }) => {
    const ip = b.HostIp ?? '';
    return ip.includes(':') ? `[${ip}]:${b.HostPort}` : `${ip}:${b.HostPort}`;
  };
  if (args[1]) {
    let [p, proto] = args[1].split('/');
    proto ||= 'tcp';
    if (!/^\d+$/.test(p)) throw new StatusError(1, `Error: invalid port (${p}): strconv.ParseUint: parsing "${p}": invalid syntax`);
    const bindings = ports[`${p}/${proto}`];
    if (bindings && bindings.length) {
      process.stdout.write(bindings.map((b) => fmt(b) + '\n').join(''));
      return 0;
    }
    throw new StatusError(1, `Error: No public port '${p}/${proto}' published for ${args[0]}`);
  }
  const lines: string[] = [];
  const keys = Object.keys(ports).sort((a, b) => {
    const [pa, ta] = a.split('/');
    const [pb, tb] = b.split('/');
    return Number(pa) - Number(pb) || (ta < tb ? -1 : ta > tb ? 1 : 0);
  });
  for (const k of keys) for (const b of ports[k] ?? []) lines.push(`${k} -> ${fmt(b)}`);
  process.stdout.write(lines.map((l) => l + '\n').join(''));
  return 0;
}
