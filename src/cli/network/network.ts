// berth network create|ls|inspect|rm|connect|disconnect|prune (the /networks endpoints).

import type { IPAMConfig, NetworkCreateRequest, NetworkCreateResponse, NetworkPruneResponse, NetworkResource } from '../../types/api.js';
import { collect, command, filtersArg, forEach, parse, StatusError, type Ctx } from '../cli.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { truncateId } from '../format/units.js';
import { renderInspect } from '../inspect.js';
import { confirm } from '../prompt.js';

const enc = encodeURIComponent;

/** -o/--label k=v lists → a map (a bare key maps to ""). */
function keyValues(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    out[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
  }
  return out;
}

interface CreateOpts {
  driver?: string;
  subnet?: string[];
  ipRange?: string[];
  gateway?: string[];
  internal?: boolean;
  attachable?: boolean;
  ipv6?: boolean;
  label?: string[];
  opt?: string[];
  ipamDriver?: string;
}

export async function create(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] NETWORK', description: 'Create a network', args: { min: 1, max: 1 } });
  c.option('-d, --driver <string>', 'Driver to manage the Network', undefined)
    .option('--subnet <string>', 'Subnet in CIDR format that represents a network segment', collect)
    .option('--ip-range <string>', 'Allocate container ip from a sub-range', collect)
    .option('--gateway <string>', 'IPv4 or IPv6 Gateway for the master subnet', collect)
    .option('--internal', 'Restrict external access to the network')
    .option('--attachable', 'Enable manual container attachment')
    .option('--ipv6', 'Enable or disable IPv6 networking')
    .option('--label <label>', 'Set metadata on a network', collect)
    .option('-o, --opt <opt>', 'Set driver specific options', collect)
    .option('--ipam-driver <string>', 'IP Address Management Driver');
  const { opts, args } = parse<CreateOpts>(ctx, c, argv);
  const subnets = opts.subnet ?? [];
  if ((opts.gateway?.length ?? 0) > subnets.length || (opts.ipRange?.length ?? 0) > subnets.length) {
    throw new StatusError(1, 'Error: every ip-range or gateway must have a corresponding subnet');
  }
  // Gateways and ranges go to the subnets of their family, in order (--subnet v4 --subnet v6 --gateway v6).
  const family = (s: string): string => (s.includes(':') ? '6' : '4');
  const nth = (list: string[] | undefined, subnet: string, i: number): string | undefined =>
    list?.filter((x) => family(x) === family(subnet))[subnets.slice(0, i).filter((x) => family(x) === family(subnet)).length];
  const config: IPAMConfig[] = subnets.map((Subnet, i) => {
    const range = nth(opts.ipRange, Subnet, i);
    const gateway = nth(opts.gateway, Subnet, i);
    return { Subnet, ...(range ? { IPRange: range } : {}), ...(gateway ? { Gateway: gateway } : {}) };
  });
  const body: NetworkCreateRequest = {
    Name: args[0]!,
    Driver: opts.driver ?? 'bridge',
    Internal: !!opts.internal,
    Attachable: !!opts.attachable,
    EnableIPv6: !!opts.ipv6,
    IPAM: { Driver: opts.ipamDriver ?? 'default', Config: config, Options: {} },
    Options: keyValues(opts.opt),
    Labels: keyValues(opts.label),
  };
  const r = await ctx.client().post<NetworkCreateResponse>('/networks/create', {}, body);
  process.stdout.write(`${r.Id}\n`);
  return 0;
}

const LS_DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const LS_HEADERS = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED' };

export async function ls(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'List networks', args: { max: 0 } });
  c.option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect)
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs');
  const { opts } = parse<{ filter?: string[]; format?: string; trunc: boolean; quiet?: boolean }>(ctx, c, argv);
  const list = (await ctx.client().get<NetworkResource[]>('/networks', { filters: filtersArg(opts.filter) })) ?? [];
  list.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  const format = resolveFormat({ format: opts.format ?? '', defaultTable: LS_DEFAULT, quiet: opts.quiet, quietFormat: '{{.ID}}' });
  const rows = list.map((n) =>
    jsonContext({
      ID: opts.trunc ? truncateId(n.Id) : n.Id,
      Name: n.Name,
      Driver: n.Driver,
      Scope: n.Scope,
      IPv6: String(n.EnableIPv6),
      Internal: String(n.Internal),
      Labels: Object.entries(n.Labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      CreatedAt: n.Created,
    }),
  );
  process.stdout.write(renderList(format, rows, LS_HEADERS));
  return 0;
}

export async function inspect(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks', args: { min: 1 } });
  c.option('-f, --format <string>', 'Format output using a custom template').option('-v, --verbose', 'Verbose output for diagnostics');
  const { opts, args } = parse<{ format?: string }>(ctx, c, argv);
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of args) {
    try {
      found.push(await ctx.client().get(`/networks/${enc(name)}`));
    } catch (e) {
      errors.push(`Error response from daemon: ${(e as Error).message}`);
    }
  }
  if (found.length || !errors.length) process.stdout.write(renderInspect(found, opts.format));
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}

export async function rm(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] NETWORK [NETWORK...]', description: 'Remove one or more networks', args: { min: 1 } });
  c.option('-f, --force', 'Do not error if the network does not exist');
  const { opts, args } = parse<{ force?: boolean }>(ctx, c, argv);
  return forEach(args, async (n) => {
    try {
      await ctx.client().delete(`/networks/${enc(n)}`);
    } catch (e) {
      if (opts.force && /not found/.test((e as Error).message)) return undefined;
      throw e;
    }
    return n;
  });
}

export async function connect(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network', args: { min: 2, max: 2 } });
  c.option('--alias <alias>', 'Add network-scoped alias for the container', collect)
    .option('--ip <string>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <string>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <link>', 'Add link to another container', collect)
    .option('--driver-opt <opt>', 'driver options for the network', collect);
  const { opts, args } = parse<{ alias?: string[]; ip?: string; ip6?: string; link?: string[]; driverOpt?: string[] }>(ctx, c, argv);
  await ctx.client().post(`/networks/${enc(args[0]!)}/connect`, {}, {
    Container: args[1],
    EndpointConfig: {
      Aliases: opts.alias ?? null,
      IPAMConfig: opts.ip || opts.ip6 ? { ...(opts.ip ? { IPv4Address: opts.ip } : {}), ...(opts.ip6 ? { IPv6Address: opts.ip6 } : {}) } : null,
      Links: opts.link ?? null,
      DriverOpts: opts.driverOpt ? keyValues(opts.driverOpt) : null,
    },
  });
  return 0;
}

export async function disconnect(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network', args: { min: 2, max: 2 } });
  c.option('-f, --force', 'Force the container to disconnect from a network');
  const { opts, args } = parse<{ force?: boolean }>(ctx, c, argv);
  await ctx.client().post(`/networks/${enc(args[0]!)}/disconnect`, {}, { Container: args[1], Force: !!opts.force });
  return 0;
}

export async function prune(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Remove all unused networks', args: { max: 0 } });
  c.option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect).option('-f, --force', 'Do not prompt for confirmation');
  const { opts } = parse<{ force?: boolean; filter?: string[] }>(ctx, c, argv);
  if (!opts.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.'))) return 0;
  const r = await ctx.client().post<NetworkPruneResponse>('/networks/prune', { filters: filtersArg(opts.filter) });
  const names = r?.NetworksDeleted ?? [];
  if (names.length) process.stdout.write(`Deleted Networks:\n${names.join('\n')}\n`);
  return 0;
}
