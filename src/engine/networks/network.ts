// A network as the engine records it (metadata/networks/<id>.json), a container's endpoint on
// it, and the checks `network create` makes, with Docker's wording.
import type { NetworkCreateRequest } from '../../types/api.js';
import { ForbiddenError, InvalidParameterError, NotFoundError, NotImplementedError } from '../../errors.js';
import { contains, formatSubnet, ipToNumber, overlaps, parseSubnet, type Subnet } from '../../network/ipam.js';
import { contains6, formatSubnet6, hostSubnets6, ip6ToBigInt, overlaps6, parseSubnet6, ULA, type Subnet6 } from '../../network/ipam6.js';

export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface SubnetRecord {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  /** The gateway was Berth's choice, not the client's: inspect leaves it out (dockerd does for IPv6). */
  implicitGateway?: boolean;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: NetworkDriver;
  created: string;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipamDriver: string;
  ipamOptions: Record<string, string>;
  /** The IPv4 subnets (inspect shows the client's IPAM config, else what Berth chose). */
  subnets: SubnetRecord[];
  /** The IPv6 subnets (unique local only); containers get addresses there when enableIPv6. */
  subnets6?: SubnetRecord[];
  /** The bridge interface (bridge driver). */
  bridge?: string;
  /** Name resolution through aardvark-dns (user-defined bridge networks, as Docker's embedded DNS). */
  dns: boolean;
  /** bridge, host and none: made by the daemon, never removed. */
  predefined?: boolean;
}

/** A container's membership of one network (ContainerRecord.networks, keyed by network name). */
export interface EndpointRecord {
  networkId: string;
  /** Network-scoped aliases the user gave (--network-alias, connect --alias). */
  aliases: string[];
  /** --ip / connect --ip. */
  ipv4?: string;
  /** --ip6 / connect --ip6. */
  ipv6?: string;
  /** --mac-address. */
  macAddress?: string;
  /** --link name:alias (default bridge). */
  links?: string[];
  driverOpts?: Record<string, string>;
  /** Set while the container runs. */
  endpointId?: string;
  iface?: string;
  ipAddress?: string;
  /** Its IPv6 address, on a network with IPv6. */
  ipv6Address?: string;
  mac?: string;
}

export const BRIDGE_OPTION_NAME = 'com.docker.network.bridge.name';
export const MTU_OPTION = 'com.docker.network.driver.mtu';

/** The network a container's HostConfig.NetworkMode names: "default" (or none) is the default bridge. */
export function modeNetwork(mode: string | undefined): string {
  return !mode || mode === 'default' ? 'bridge' : mode;
}

export function subnetOf(r: SubnetRecord): Subnet {
  return parseSubnet(r.subnet)!;
}

export function prefixOf(r: NetworkRecord): number {
  return r.subnets[0] ? subnetOf(r.subnets[0]).prefix : 0;
}

export function subnet6Of(r: SubnetRecord): Subnet6 {
  return parseSubnet6(r.subnet)!;
}

/** The IPv6 subnet containers get addresses from, when the network has IPv6 on. */
export function ipv6SubnetOf(n: NetworkRecord): SubnetRecord | undefined {
  return n.enableIPv6 ? n.subnets6?.[0] : undefined;
}

/** Docker's name rule for networks (as for containers, but without the leading slash). */
export function validateNetworkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') throw new InvalidParameterError('network name must not be empty');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new InvalidParameterError(`invalid network name "${name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]`);
  }
}

export interface CheckedIpam {
  subnets: SubnetRecord[];
  subnets6: SubnetRecord[];
  /** The client named no IPv4 subnet: the service picks one from the address pools. */
  auto: boolean;
}

const POOL_OVERLAP = 'invalid pool request: Pool overlaps with other one on this address space';

/** IPAM config of a create request, checked as libnetwork checks it (IPv6 subnets by checkSubnet6). */
export function checkIpam(req: NetworkCreateRequest, existing: readonly NetworkRecord[]): CheckedIpam {
  const driver = req.IPAM?.Driver || 'default';
  if (driver !== 'default') throw new NotImplementedError(`IPAM driver "${driver}" is not supported (only "default")`);
  const configs = req.IPAM?.Config ?? [];
  const out: SubnetRecord[] = [];
  const out6: SubnetRecord[] = [];
  for (const cfg of configs) {
    if (!cfg.Subnet) {
      if (cfg.Gateway || cfg.IPRange) throw new ForbiddenError('an IP range or gateway was given without a subnet');
      continue;
    }
    if (cfg.Subnet.includes(':')) {
      out6.push(checkSubnet6(cfg, [...out6, ...existing.flatMap((n) => n.subnets6 ?? [])]));
      continue;
    }
    const subnet = parseSubnet(cfg.Subnet, true);
    if (!subnet) throw new InvalidParameterError(`invalid subnet ${cfg.Subnet} : invalid CIDR address: ${cfg.Subnet}`);
    if (subnet.prefix > 30) throw new InvalidParameterError(`invalid subnet ${cfg.Subnet}: the prefix must be /30 or shorter`);
    const rec: SubnetRecord = { subnet: formatSubnet(subnet), gateway: '' };
    if (cfg.IPRange) {
      const range = parseSubnet(cfg.IPRange, true);
      if (!range) throw new InvalidParameterError(`invalid ip-range ${cfg.IPRange}: invalid CIDR address: ${cfg.IPRange}`);
      if (!overlaps(range, subnet) || range.prefix < subnet.prefix) throw new ForbiddenError(`IP range ${cfg.IPRange} is not within subnet ${cfg.Subnet}`);
      rec.ipRange = formatSubnet(range);
    }
    if (cfg.Gateway) {
      const gw = ipToNumber(cfg.Gateway);
      if (gw === undefined) throw new InvalidParameterError(`invalid gateway address ${cfg.Gateway}`);
      if (!contains(subnet, gw)) throw new ForbiddenError(`no matching subnet for gateway ${cfg.Gateway}`);
      rec.gateway = cfg.Gateway;
    }
    if (cfg.AuxiliaryAddresses) rec.auxAddresses = { ...cfg.AuxiliaryAddresses };
    for (const o of out) if (overlaps(subnetOf(o), subnet)) throw new ForbiddenError(POOL_OVERLAP);
    for (const n of existing) {
      for (const s of n.subnets) {
        if (overlaps(subnetOf(s), subnet)) throw new ForbiddenError(POOL_OVERLAP);
      }
    }
    out.push(rec);
  }
  return { subnets: out, subnets6: out6, auto: out.length === 0 };
}

/** An IPv6 IPAM config: a unique local subnet that overlaps no other network's nor a host route. */
function checkSubnet6(cfg: NonNullable<NonNullable<NetworkCreateRequest['IPAM']>['Config']>[number], others: readonly SubnetRecord[]): SubnetRecord {
  const subnet = parseSubnet6(cfg.Subnet!, true);
  if (!subnet) throw new InvalidParameterError(`invalid subnet ${cfg.Subnet} : invalid CIDR address: ${cfg.Subnet}`);
  if (subnet.prefix > 126) throw new InvalidParameterError(`invalid subnet ${cfg.Subnet}: the prefix must be /126 or shorter`);
  if (!overlaps6(subnet, ULA) || subnet.prefix < ULA.prefix) {
    throw new InvalidParameterError(`invalid subnet ${cfg.Subnet}: Berth puts only unique local IPv6 subnets (fc00::/7) on its bridges`);
  }
  const rec: SubnetRecord = { subnet: formatSubnet6(subnet), gateway: '', implicitGateway: true };
  if (cfg.IPRange) {
    const range = parseSubnet6(cfg.IPRange, true);
    if (!range) throw new InvalidParameterError(`invalid ip-range ${cfg.IPRange}: invalid CIDR address: ${cfg.IPRange}`);
    if (!overlaps6(range, subnet) || range.prefix < subnet.prefix) throw new ForbiddenError(`IP range ${cfg.IPRange} is not within subnet ${cfg.Subnet}`);
    rec.ipRange = formatSubnet6(range);
  }
  if (cfg.Gateway) {
    const gw = ip6ToBigInt(cfg.Gateway);
    if (gw === undefined) throw new InvalidParameterError(`invalid gateway address ${cfg.Gateway}`);
    if (!contains6(subnet, gw)) throw new ForbiddenError(`no matching subnet for gateway ${cfg.Gateway}`);
    rec.gateway = cfg.Gateway;
    delete rec.implicitGateway;
  }
  if (cfg.AuxiliaryAddresses) rec.auxAddresses = { ...cfg.AuxiliaryAddresses };
  if (others.some((o) => overlaps6(subnet6Of(o), subnet)) || hostSubnets6().some((h) => overlaps6(h, subnet))) throw new ForbiddenError(POOL_OVERLAP);
  return rec;
}

const KNOWN_DRIVERS = new Set(['bridge', 'host', 'null', 'overlay', 'macvlan', 'ipvlan']);

export function checkDriver(driver: string | undefined): 'bridge' {
  const d = driver || 'bridge';
  if (d === 'bridge') return d;
  if (d === 'host' || d === 'null') throw new ForbiddenError(`only one instance of "${d}" network is allowed`);
  if (KNOWN_DRIVERS.has(d)) throw new NotImplementedError(`network driver "${d}" is not supported by Berth (only "bridge")`);
  throw new NotFoundError(`plugin "${d}" not found`);
}
