// Networks: the records (bridge, host and none made by the daemon; user-defined bridge networks),
// Berth's IPAM over them, and what `network create|rm|prune|connect|disconnect` do. A container's
// sandbox (its namespace, addresses, ports) is in sandboxes.ts.
import path from 'node:path';
import type {
  EndpointSettings,
  HostConfig,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkingConfig,
  NetworkPruneResponse,
  NetworkResource,
} from '../../types/api.js';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../../errors.js';
import { DEFAULT_POOLS, firstHost, formatSubnet, hostSubnets, ipToNumber, contains, overlaps, parseSubnet, pickSubnet, type Subnet } from '../../network/ipam.js';
import { portRequests } from '../../network/ports.js';
import { MetadataStore } from '../../store/metadata.js';
import { newId } from '../../util/ids.js';
import { KeyedLock } from '../../util/lock.js';
import type { EventService } from '../events.js';
import { filterValues, matchesLabels, parseTime, type Filters } from '../filters.js';
import type { ContainerRecord } from '../containers/container.js';
import { isRunning } from '../containers/container.js';
import { matchesNetworkFilters, networkView, validateNetworkFilters } from './views.js';
import { BRIDGE_OPTION_NAME, checkDriver, checkIpam, modeNetwork, subnet6Of, subnetOf, validateNetworkName, type EndpointRecord, type NetworkRecord } from './network.js';
import { canonicalIp6, contains6, firstHost6, ip6ToBigInt } from '../../network/ipam6.js';

export interface NetworkServiceOptions {
  dataRoot: string;
  events: EventService;
  /** The default bridge's interface (berthd --bridge; default berth0). */
  bridgeName?: string;
  /** The default bridge's gateway address and prefix (berthd --bip, e.g. 10.20.0.1/24). */
  bip?: string;
  /** Where subnets of networks created without --subnet come from (berthd --default-address-pool). */
  pools?: { base: Subnet; size: number }[];
}

/** What the network service needs of the containers (implemented by ContainerService). */
export interface ContainerAccess {
  all(): ContainerRecord[];
  find(idOrName: string): ContainerRecord;
  save(c: ContainerRecord): Promise<void>;
  /** Runs `fn` under the container's lock (no start, exit or removal meanwhile). */
  locked<T>(c: ContainerRecord, fn: () => Promise<T>): Promise<T>;
}

/** A running container's attachment to a network, after the service has set it up. */
export interface NetworkHooks {
  connectRunning(c: ContainerRecord, name: string): Promise<void>;
  disconnectRunning(c: ContainerRecord, name: string): Promise<void>;
  /** The network is being removed: its bridge and rules go. */
  removing(n: NetworkRecord): Promise<void>;
}

export const DEFAULT_BRIDGE = 'berth0';

export class NetworkService {
  private readonly records: MetadataStore<NetworkRecord>;
  private readonly networks = new Map<string, NetworkRecord>();
  /** create/rm/connect/disconnect one at a time: names, subnets and endpoints are checked then changed. */
  private readonly lock = new KeyedLock();
  containers!: ContainerAccess;
  hooks!: NetworkHooks;

  constructor(private readonly opts: NetworkServiceOptions) {
    this.records = new MetadataStore(path.join(opts.dataRoot, 'metadata', 'networks'));
  }

  async init(): Promise<void> {
    await this.records.init();
    for (const n of await this.records.list()) this.networks.set(n.id, n);
    await this.ensurePredefined();
  }

  private async ensurePredefined(): Promise<void> {
    const bridgeName = this.opts.bridgeName ?? DEFAULT_BRIDGE;
    let bridge = this.byName('bridge');
    const wanted = this.opts.bip ? bipSubnet(this.opts.bip) : undefined;
    if (!bridge || bridge.bridge !== bridgeName || (wanted && (wanted.subnet !== bridge.subnets[0]?.subnet || wanted.gateway !== bridge.subnets[0]?.gateway))) {
      const subnet = wanted ?? this.autoSubnet(bridge ? [bridge.id] : []);
      bridge = {
        ...(bridge ?? newRecord('bridge', 'bridge')),
        bridge: bridgeName,
        subnets: [subnet],
        predefined: true,
        options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          [BRIDGE_OPTION_NAME]: bridgeName,
          'com.docker.network.driver.mtu': '1500',
        },
      };
      await this.put(bridge);
    }
    if (!this.byName('host')) await this.put({ ...newRecord('host', 'host'), predefined: true });
    if (!this.byName('none')) await this.put({ ...newRecord('none', 'null'), predefined: true });
  }

  private autoSubnet(except: string[] = []): { subnet: string; gateway: string } {
    const inUse = [...hostSubnets(), ...this.all().filter((n) => !except.includes(n.id)).flatMap((n) => n.subnets.map(subnetOf))];
    const s = pickSubnet(this.opts.pools ?? DEFAULT_POOLS, inUse);
    if (!s) throw new ForbiddenError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    return { subnet: formatSubnet(s), gateway: firstHost(s) };
  }

  private async put(n: NetworkRecord): Promise<void> {
    await this.records.put(n.id, n);
    this.networks.set(n.id, n);
  }

  all(): NetworkRecord[] {
    return [...this.networks.values()];
  }

  get(id: string): NetworkRecord | undefined {
    return this.networks.get(id);
  }

  byName(name: string): NetworkRecord | undefined {
    return this.all().find((n) => n.name === name);
  }

  /** Docker's lookup: full id, exact name, then a unique id prefix. */
  find(idOrName: string): NetworkRecord {
    const n = this.networks.get(idOrName) ?? this.byName(idOrName);
    if (n) return n;
    const matches = /^[a-f0-9]+$/.test(idOrName) ? this.all().filter((x) => x.id.startsWith(idOrName)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new InvalidParameterError(`network ${idOrName} is ambiguous (${matches.length} matches found based on ID prefix)`);
    throw new NotFoundError(`network ${idOrName} not found`);
  }

  /** Running containers with an endpoint on `n`. */
  endpointsOn(n: NetworkRecord): { c: ContainerRecord; ep: EndpointRecord }[] {
    const out: { c: ContainerRecord; ep: EndpointRecord }[] = [];
    for (const c of this.containers.all()) {
      const ep = c.networks?.[n.name];
      if (ep && ep.networkId === n.id && isRunning(c)) out.push({ c, ep });
    }
    return out;
  }

  list(f: Filters): NetworkResource[] {
    validateNetworkFilters(f);
    return this.all()
      .filter((n) => matchesNetworkFilters(n, f, this.endpointsOn(n).length > 0))
      .map((n) => ({ ...networkView(n, []), Containers: {} }));
  }

  inspect(idOrName: string): NetworkResource {
    const n = this.find(idOrName);
    return networkView(n, this.endpointsOn(n));
  }

  async create(req: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new InvalidParameterError('invalid network config');
    validateNetworkName(req.Name);
    const driver = checkDriver(req.Driver);
    return this.lock.run('networks', async () => {
      if (this.byName(req.Name)) throw new ConflictError(`network with name ${req.Name} already exists`);
      const ipam = checkIpam(req, this.all());
      // dockerd 20.10 has no IPv6 address pools: --ipv6 needs a subnet.
      if (req.EnableIPv6 && ipam.subnets6.length === 0) throw new ForbiddenError('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
      // A gateway Berth chose for a subnet the client gave is not shown (dockerd shows only the client's config).
      const subnets = ipam.auto ? [this.autoSubnet()] : ipam.subnets.map((s) => (s.gateway ? s : { ...s, gateway: firstHost(subnetOf(s)), implicitGateway: true }));
      const subnets6 = ipam.subnets6.map((s) => ({ ...s, gateway: s.gateway || firstHost6(subnet6Of(s)) }));
      const hostClash = ipam.auto ? undefined : subnets.find((s) => hostSubnets().some((h) => overlaps(h, subnetOf(s))));
      if (hostClash) throw new ForbiddenError(`invalid pool request: Pool overlaps with other one on this address space`);
      const rec: NetworkRecord = {
        ...newRecord(req.Name, driver),
        internal: !!req.Internal,
        attachable: !!req.Attachable,
        labels: { ...(req.Labels ?? {}) },
        options: { ...(req.Options ?? {}) },
        ipamOptions: { ...(req.IPAM?.Options ?? {}) },
        subnets,
        dns: true,
        enableIPv6: !!req.EnableIPv6,
      };
      if (subnets6.length) rec.subnets6 = subnets6;
      rec.bridge = rec.options[BRIDGE_OPTION_NAME] || `br-${rec.id.slice(0, 12)}`;
      if (rec.bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(rec.bridge)) throw new InvalidParameterError(`invalid bridge name: ${rec.bridge}`);
      if (this.all().some((n) => n.bridge === rec.bridge)) throw new ConflictError(`bridge name ${rec.bridge} is already used by another network`);
      await this.put(rec);
      this.opts.events.emit('network', 'create', rec.id, { name: rec.name, type: rec.driver });
      return { Id: rec.id, Warning: '' };
    });
  }

  async remove(idOrName: string): Promise<void> {
    const n = this.find(idOrName);
    if (n.predefined) throw new ForbiddenError(`${n.name} is a pre-defined network and cannot be removed`);
    await this.lock.run('networks', async () => {
      const active = this.endpointsOn(n);
      if (active.length > 0) {
        const first = active[0]!.c;
        throw new ConflictError(`error while removing network: network ${n.name} has active endpoints (name:"${first.name}" id:"${first.id.slice(0, 12)}")`);
      }
      await this.hooks.removing(n);
      await this.records.delete(n.id);
      this.networks.delete(n.id);
      this.opts.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
    });
  }

  async prune(f: Filters): Promise<NetworkPruneResponse> {
    const until = filterValues(f, 'until').map(parseTime);
    const deleted: string[] = [];
    for (const n of this.all()) {
      if (n.predefined || this.endpointsOn(n).length > 0) continue;
      if (until.length && !until.every((t) => Date.parse(n.created) < t)) continue;
      if (!matchesLabels(n.labels, f)) continue;
      await this.remove(n.id).then(
        () => deleted.push(n.name),
        () => undefined,
      );
    }
    return { NetworksDeleted: deleted };
  }

  /** HostConfig.NetworkMode and NetworkingConfig checked at create; the container's endpoints. */
  endpointsForCreate(hc: HostConfig, nc: NetworkingConfig | undefined, macAddress?: string): Record<string, EndpointRecord> {
    portRequests(hc.PortBindings);
    const mode = modeNetwork(hc.NetworkMode);
    if (mode.startsWith('container:')) {
      // The other container is looked up at start (a 404 here would make the docker CLI pull the image).
      if (hc.PortBindings && Object.keys(hc.PortBindings).length) throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
      return {};
    }
    const configs = nc?.EndpointsConfig ?? {};
    const primary = this.find(mode);
    const out: Record<string, EndpointRecord> = {};
    const entries: [NetworkRecord, EndpointSettings | undefined][] = [[primary, configs[mode] ?? configs[primary.name] ?? configs[primary.id] ?? configs['default']]];
    for (const [key, cfg] of Object.entries(configs)) {
      // The docker CLI names the default network "default".
      const n = key === 'default' ? primary : this.find(key);
      if (n.id !== primary.id) entries.push([n, cfg]);
    }
    for (const [n, cfg] of entries) {
      if (n.driver !== 'bridge' && entries.length > 1) {
        throw new InvalidParameterError(`container cannot be connected to multiple networks with one of the networks in private (none) mode`);
      }
      out[n.name] = this.endpointFor(n, cfg, n.id === primary.id ? (cfg?.MacAddress || macAddress) : cfg?.MacAddress, n.name === 'bridge' ? hc.Links : undefined);
    }
    return out;
  }

  /** One endpoint's settings checked against its network. */
  endpointFor(n: NetworkRecord, cfg: EndpointSettings | null | undefined, mac: string | undefined, hostLinks?: string[] | null): EndpointRecord {
    const aliases = (cfg?.Aliases ?? []).filter((a) => a !== '');
    const ipv4 = cfg?.IPAMConfig?.IPv4Address || undefined;
    if (n.predefined) {
      if (aliases.length) throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
      if (ipv4 || cfg?.IPAMConfig?.IPv6Address) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
    }
    if (ipv4) {
      const ip = ipToNumber(ipv4);
      if (ip === undefined) throw new InvalidParameterError(`invalid IPv4 address: ${ipv4}`);
      if (!n.subnets.some((s) => contains(subnetOf(s), ip))) throw new InvalidParameterError(`Invalid address ${ipv4}: It does not belong to any of this network's subnets`);
    }
    const ipv6 = cfg?.IPAMConfig?.IPv6Address || undefined;
    if (ipv6) {
      const ip = ip6ToBigInt(ipv6);
      if (ip === undefined) throw new InvalidParameterError(`invalid IPv6 address: ${ipv6}`);
      if (!(n.subnets6 ?? []).some((s) => contains6(subnet6Of(s), ip))) throw new InvalidParameterError(`Invalid address ${ipv6}: It does not belong to any of this network's subnets`);
    }
    if (mac && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new InvalidParameterError(`invalid MAC address: ${mac}`);
    const links = [...(hostLinks ?? []), ...(cfg?.Links ?? [])];
    return {
      networkId: n.id,
      aliases,
      ipv4,
      ipv6: ipv6 ? canonicalIp6(ipv6) : undefined,
      macAddress: mac ? mac.toLowerCase() : undefined,
      links: links.length ? links : undefined,
      driverOpts: cfg?.DriverOpts ?? undefined,
    };
  }

  async connect(idOrName: string, containerIdOrName: string, cfg: EndpointSettings | null | undefined): Promise<void> {
    const n = this.find(idOrName);
    const c = this.containers.find(containerIdOrName);
    await this.containers.locked(c, async () => {
      const mode = modeNetwork(c.hostConfig.NetworkMode);
      if (n.driver === 'host' || mode === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      if (n.driver === 'null' || mode === 'none') throw new ForbiddenError('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      if (mode.startsWith('container:')) throw new ForbiddenError('container sharing network namespace with another container or host cannot be connected to any other network');
      if (c.networks?.[n.name]) throw new ForbiddenError(`endpoint with name ${c.name} already exists in network ${n.name}`);
      const ep = this.endpointFor(n, cfg, cfg?.MacAddress);
      c.networks = { ...(c.networks ?? {}), [n.name]: ep };
      try {
        if (isRunning(c)) await this.hooks.connectRunning(c, n.name);
      } catch (err) {
        delete c.networks[n.name];
        throw err;
      }
      await this.containers.save(c);
    });
    this.opts.events.emit('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
  }

  async disconnect(idOrName: string, containerIdOrName: string, force: boolean): Promise<void> {
    const n = this.find(idOrName);
    let c: ContainerRecord;
    try {
      c = this.containers.find(containerIdOrName);
    } catch (err) {
      if (force) return;
      throw err;
    }
    await this.containers.locked(c, async () => {
      if (n.driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      if (!c.networks?.[n.name]) throw new ForbiddenError(`container ${c.id} is not connected to network ${n.name}`);
      if (isRunning(c)) await this.hooks.disconnectRunning(c, n.name);
      delete c.networks[n.name];
      await this.containers.save(c);
    });
    this.opts.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
  }
}

function newRecord(name: string, driver: NetworkRecord['driver']): NetworkRecord {
  return {
    id: newId(),
    name,
    driver,
    created: new Date().toISOString(),
    internal: false,
    attachable: false,
    enableIPv6: false,
    labels: {},
    options: {},
    ipamDriver: 'default',
    ipamOptions: {},
    subnets: [],
    dns: false,
  };
}

/** --bip 10.20.0.1/24: the gateway is the address given, the subnet its network. */
function bipSubnet(bip: string): { subnet: string; gateway: string } {
  const s = parseSubnet(bip, true);
  const gw = bip.split('/')[0]!;
  if (!s || ipToNumber(gw) === undefined || s.prefix > 30) throw new InvalidParameterError(`invalid --bip: ${bip} (expected an address with a prefix, e.g. 10.20.0.1/24)`);
  return { subnet: formatSubnet(s), gateway: gw };
}

