// A network as the engine records it (metadata/networks/<id>.json), a container's endpoint on
// it, and the checks `network create` makes, with Docker's wording.
import type { NetworkCreateRequest } from '../../types/api.js';
import { ForbiddenError, InvalidParameterError, NotFoundError, NotImplementedError } from '../../errors.js';
import { contains, formatSubnet, ipToNumber, overlaps, parseSubnet, type Subnet } from '../../network/ipam.js';

export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface SubnetRecord {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
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
  /** Whether the client gave the IPAM config (inspect shows it then, else what Berth chose). */
  subnets: SubnetRecord[];
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
  /** --mac-address. */
  macAddress?: string;
  /** --link name:alias (default bridge). */
  links?: string[];
  driverOpts?: Record<string, string>;
  /** Set while the container runs. */
  endpointId?: string;
  iface?: string;
  ipAddress?: string;
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

/** Docker's name rule for networks (as for containers, but without the leading slash). */
export function validateNetworkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') throw new InvalidParameterError('network name must not be empty');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new InvalidParameterError(`invalid network name "${name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]`);
  }
}

export interface CheckedIpam {
  subnets: SubnetRecord[];
  /** The client named no subnet: the service picks one from the address pools. */
  auto: boolean;
}

/** IPAM config of a create request, checked as libnetwork checks it (IPv4 only). */
export function checkIpam(req: NetworkCreateRequest, existing: readonly NetworkRecord[]): CheckedIpam {
  const driver = req.IPAM?.Driver || 'default';
  if (driver !== 'default') throw new NotImplementedError(`IPAM driver "${driver}" is not supported (only "default")`);
  const configs = req.IPAM?.Config ?? [];
  const out: SubnetRecord[] = [];
  for (const cfg of configs) {
    if (!cfg.Subnet) {
      if (cfg.Gateway || cfg.IPRange) throw new ForbiddenError('an IP range or gateway was given without a subnet');
      continue;
    }
    if (cfg.Subnet.includes(':')) throw new NotImplementedError('IPv6 subnets are not supported by Berth yet');
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
    for (const o of out) if (overlaps(subnetOf(o), subnet)) throw new ForbiddenError(`invalid pool request: Pool overlaps with other one on this address space`);
    for (const n of existing) {
      for (const s of n.subnets) {
        if (overlaps(subnetOf(s), subnet)) throw new ForbiddenError(`invalid pool request: Pool overlaps with other one on this address space`);
      }
    }
    out.push(rec);
  }
  return { subnets: out, auto: out.length === 0 };
}

const KNOWN_DRIVERS = new Set(['bridge', 'host', 'null', 'overlay', 'macvlan', 'ipvlan']);

export function checkDriver(driver: string | undefined): 'bridge' {
  const d = driver || 'bridge';
  if (d === 'bridge') return d;
  if (d === 'host' || d === 'null') throw new ForbiddenError(`only one instance of "${d}" network is allowed`);
  if (KNOWN_DRIVERS.has(d)) throw new NotImplementedError(`network driver "${d}" is not supported by Berth (only "bridge")`);
  throw new NotFoundError(`plugin "${d}" not found`);
}
