// How networks and a container's network settings read through the API, as Docker fills them.
import type { EndpointSettings, NetworkContainer, NetworkResource, NetworkSettings, Port, PortBinding } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { parsePortKey, type PublishedPort } from '../../network/ports.js';
import { shortId } from '../../reference/index.js';
import { filterValues, matchesLabels, type Filters } from '../filters.js';
import { type ContainerRecord, isRunning } from '../containers/container.js';
import { ipv6SubnetOf, prefixOf, subnet6Of, type EndpointRecord, type NetworkRecord, type SubnetRecord } from './network.js';

function prefix6Of(n: NetworkRecord): number {
  const s = ipv6SubnetOf(n);
  return s ? subnet6Of(s).prefix : 0;
}

export type NetworkLookup = (id: string) => NetworkRecord | undefined;

export function networkView(n: NetworkRecord, endpoints: { c: ContainerRecord; ep: EndpointRecord }[]): NetworkResource {
  const containers: Record<string, NetworkContainer> = {};
  for (const { c, ep } of endpoints) {
    containers[c.id] = {
      Name: c.name,
      EndpointID: ep.endpointId ?? '',
      MacAddress: ep.mac ?? '',
      IPv4Address: ep.ipAddress ? `${ep.ipAddress}/${prefixOf(n)}` : '',
      IPv6Address: ep.ipv6Address ? `${ep.ipv6Address}/${prefix6Of(n)}` : '',
    };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: n.driver === 'bridge',
    EnableIPv6: n.enableIPv6,
    IPAM: {
      Driver: n.ipamDriver,
      Options: n.driver === 'bridge' && !n.predefined ? n.ipamOptions : null,
      Config: n.driver === 'bridge' ? [...n.subnets, ...(n.subnets6 ?? [])].map(ipamConfig) : null,
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}

function ipamConfig(s: SubnetRecord): { Subnet: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> } {
  const out: { Subnet: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> } = { Subnet: s.subnet };
  if (!s.implicitGateway) out.Gateway = s.gateway;
  if (s.ipRange) out.IPRange = s.ipRange;
  if (s.auxAddresses) out.AuxiliaryAddresses = s.auxAddresses;
  return out;
}

const NETWORK_FILTERS = ['name', 'id', 'label', 'label!', 'driver', 'type', 'dangling', 'scope'];

export function validateNetworkFilters(f: Filters): void {
  for (const k of f.keys()) if (!NETWORK_FILTERS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
  for (const t of filterValues(f, 'type')) if (t !== 'custom' && t !== 'builtin') throw new InvalidParameterError(`invalid filter: 'type'='${t}'`);
  for (const d of filterValues(f, 'dangling')) {
    if (!['true', 'false', '1', '0'].includes(d)) throw new InvalidParameterError(`invalid filter 'dangling=${d}'`);
  }
}

/** `network ls` filters (name and id match substrings/prefixes, as in Docker). */
export function matchesNetworkFilters(n: NetworkRecord, f: Filters, inUse: boolean): boolean {
  const names = filterValues(f, 'name');
  if (names.length && !names.some((x) => n.name.includes(x))) return false;
  const ids = filterValues(f, 'id');
  if (ids.length && !ids.some((x) => n.id.startsWith(x))) return false;
  const drivers = filterValues(f, 'driver');
  if (drivers.length && !drivers.includes(n.driver)) return false;
  const types = filterValues(f, 'type');
  if (types.length && !types.includes(n.predefined ? 'builtin' : 'custom')) return false;
  const scopes = filterValues(f, 'scope');
  if (scopes.length && !scopes.includes('local')) return false;
  const dangling = filterValues(f, 'dangling');
  if (dangling.length) {
    const want = dangling[0] === 'true' || dangling[0] === '1';
    if (n.predefined || inUse === want) return false;
  }
  return matchesLabels(n.labels, f);
}

/** A published port as inspect shows it: a wildcard binding is two, 0.0.0.0 and ::. */
function bindingsOf(p: PublishedPort): PortBinding[] {
  const port = String(p.hostPort);
  return p.hostIp === '' ? [{ HostIp: '0.0.0.0', HostPort: port }, { HostIp: '::', HostPort: port }] : [{ HostIp: p.hostIp, HostPort: port }];
}

export function portsView(c: ContainerRecord): Record<string, PortBinding[] | null> {
  if (!isRunning(c) || !c.sandbox) return {};
  const out: Record<string, PortBinding[] | null> = {};
  for (const key of Object.keys(c.config.ExposedPorts ?? {})) {
    const { port, protocol } = parsePortKey(key);
    out[`${port}/${protocol}`] = null;
  }
  for (const p of c.sandbox.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    out[key] = [...(out[key] ?? []), ...bindingsOf(p)];
  }
  return out;
}

/** The ps summary's Ports (the docker CLI groups and prints them). */
export function summaryPorts(c: ContainerRecord): Port[] {
  const out: Port[] = [];
  for (const [key, bindings] of Object.entries(portsView(c))) {
    const { port, protocol } = parsePortKey(key);
    if (!bindings) {
      out.push({ PrivatePort: port, Type: protocol });
      continue;
    }
    for (const b of bindings) out.push({ IP: b.HostIp, PrivatePort: port, PublicPort: Number(b.HostPort), Type: protocol });
  }
  return out;
}

function endpointView(c: ContainerRecord, n: NetworkRecord | undefined, ep: EndpointRecord): EndpointSettings {
  const live = isRunning(c) && !!ep.ipAddress && !!n;
  const v6 = live && !!ep.ipv6Address;
  const ipam = { ...(ep.ipv4 ? { IPv4Address: ep.ipv4 } : {}), ...(ep.ipv6 ? { IPv6Address: ep.ipv6 } : {}) };
  return {
    IPAMConfig: ep.ipv4 || ep.ipv6 ? ipam : null,
    Links: ep.links ?? null,
    Aliases: ep.aliases.length ? ep.aliases : null,
    MacAddress: live ? (ep.mac ?? '') : '',
    DriverOpts: ep.driverOpts ?? null,
    NetworkID: ep.networkId,
    EndpointID: live ? (ep.endpointId ?? '') : '',
    Gateway: live ? n!.subnets[0]!.gateway : '',
    IPAddress: live ? ep.ipAddress! : '',
    IPPrefixLen: live ? prefixOf(n!) : 0,
    IPv6Gateway: v6 ? ipv6SubnetOf(n!)!.gateway : '',
    GlobalIPv6Address: v6 ? ep.ipv6Address! : '',
    GlobalIPv6PrefixLen: v6 ? prefix6Of(n!) : 0,
    DNSNames: live && n!.dns ? [c.name, ...ep.aliases, shortId(c.id)] : null,
  };
}

export function endpointsView(c: ContainerRecord, lookup: NetworkLookup): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(c.networks ?? {})) out[name] = endpointView(c, lookup(ep.networkId), ep);
  return out;
}

export function networkSettingsView(c: ContainerRecord, lookup: NetworkLookup): NetworkSettings {
  const networks = endpointsView(c, lookup);
  const bridge = networks['bridge'];
  const sb = isRunning(c) ? c.sandbox : undefined;
  return {
    Bridge: '',
    SandboxID: sb?.id ?? '',
    SandboxKey: sb?.netns ?? (isRunning(c) && c.state.pid ? `/proc/${c.state.pid}/ns/net` : ''),
    Ports: portsView(c),
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: bridge?.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: bridge?.GlobalIPv6PrefixLen ?? 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: bridge?.IPv6Gateway ?? '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: networks,
  };
}
