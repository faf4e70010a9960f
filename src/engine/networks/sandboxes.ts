// A container's network sandbox: its namespace, an address on each of its networks (Berth's IPAM),
// its published ports, and netavark's setup/teardown of all of it. Made at start (the namespace
// first, so netavark runs while the runtime creates the container), undone at exit.
import { randomBytes } from 'node:crypto';
import { mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConflictError, NotFoundError, SystemError } from '../../errors.js';
import { nextFree, parseSubnet } from '../../network/ipam.js';
import { exemptIpv6Loopback, Netavark, type NetavarkNetwork, type NetavarkPortMapping, type NetavarkRequest } from '../../network/netavark.js';
import { NetnsStore } from '../../network/netns.js';
import { parsePortKey, PortHolder, portRequests, type PortRequest, type PublishedPort } from '../../network/ports.js';
import { newId } from '../../util/ids.js';
import { logger } from '../../util/logger.js';
import { shortId } from '../../reference/index.js';
import type { EventService } from '../events.js';
import { type ContainerRecord, isRunning } from '../containers/container.js';
import { BridgeKeepers, isKeeperNamespace } from './keepers.js';
import { ipv6SubnetOf, modeNetwork, MTU_OPTION, subnet6Of, subnetOf, type EndpointRecord, type NetworkRecord } from './network.js';
import { nextFree6, parseSubnet6 } from '../../network/ipam6.js';
import type { NetworkService } from './network-service.js';
import type { IdMapping } from '../../util/idmap.js';

/** What a starting container needs from its network: for the spec and its /etc files. */
export interface Sandbox {
  /** The namespace to join; undefined: the host's (host mode) or a private one the runtime makes (none). */
  netnsPath?: string;
  /** --userns-remap: the user namespace that owns netnsPath, for the container to join too. */
  usernsPath?: string;
  /** The container's own addresses (/etc/hosts). */
  ips: string[];
  /** Name servers ahead of the host's: the gateways of networks with name resolution. */
  nameservers: string[];
  /** --link entries as ExtraHosts ("alias:ip"). */
  extraHosts: string[];
  /** What --add-host host-gateway means: the default bridge's gateway. */
  hostGateway: string[];
  /** Resolves once the namespace is configured; the container must not start before. */
  ready: Promise<void>;
}

/** A teardown recorded before it runs (<exec-root>/network/teardowns/<sandbox>.json). */
interface PendingTeardown {
  sandboxId: string;
  netns: string;
  calls: NetavarkRequest[];
}

const NO_SANDBOX: Omit<Sandbox, 'hostGateway'> = { ips: [], nameservers: [], extraHosts: [], ready: Promise.resolve() };

export class SandboxService {
  readonly netns: NetnsStore;
  readonly netavark: Netavark;
  private readonly ports = new PortHolder();
  /** Addresses in use, per network id (running containers, gateways). */
  private readonly taken = new Map<string, Set<string>>();
  /** Teardowns in flight. */
  private readonly pending = new Set<Promise<void>>();

  readonly keepers: BridgeKeepers;

  constructor(
    private readonly networks: NetworkService,
    private readonly events: EventService,
    execRoot: string,
    /** berthd --userns-remap: remapped containers' namespaces are owned by user namespaces with these mappings. */
    private readonly ids?: IdMapping,
  ) {
    this.netns = new NetnsStore(path.join(execRoot, 'netns'), ids);
    this.netavark = new Netavark(path.join(execRoot, 'network'));
    this.keepers = new BridgeKeepers(this.netavark, this.netns, (n) => this.netavarkNetwork(n));
  }

  async init(): Promise<void> {
    await this.netns.init();
    await this.netavark.init();
    await this.resumePending();
  }

  private takenOn(n: NetworkRecord): Set<string> {
    let s = this.taken.get(n.id);
    if (!s) {
      s = new Set([...n.subnets, ...(n.subnets6 ?? [])].flatMap((x) => [x.gateway, ...Object.values(x.auxAddresses ?? {})]));
      for (const ip of this.keepers.addressesOf(n)) s.add(ip);
      this.taken.set(n.id, s);
    }
    return s;
  }

  private hostGateway(): string[] {
    const gw = this.networks.byName('bridge')?.subnets[0]?.gateway;
    return gw ? [gw] : [];
  }

  /** Sets up the container's network; on failure nothing is left behind. */
  async attach(c: ContainerRecord): Promise<Sandbox> {
    const mode = modeNetwork(c.hostConfig.NetworkMode);
    const hostGateway = this.hostGateway();
    if (mode === 'host' || mode === 'none') return { ...NO_SANDBOX, hostGateway };
    if (mode.startsWith('container:')) return { ...this.joined(mode.slice('container:'.length)), hostGateway };
    const nets = this.bridgeEndpoints(c);
    if (nets.length === 0) return { ...NO_SANDBOX, hostGateway };
    const sandboxId = newId();
    const allocated: [NetworkRecord, string][] = [];
    let netns: string | undefined;
    try {
      nets.forEach(([n, ep], i) => {
        const ip = this.allocate(n, ep);
        allocated.push([n, ip]);
        ep.ipAddress = ip;
        ep.ipv6Address = this.allocate6(n, ep);
        if (ep.ipv6Address) allocated.push([n, ep.ipv6Address]);
        ep.mac = ep.macAddress ?? randomMac();
        ep.endpointId = newId();
        ep.iface = `eth${i}`;
      });
      netns = await this.netns.create(sandboxId, this.remapped(c));
      const requests = this.portRequestsOf(c);
      const primary = nets[0]![0];
      const ports = await this.ports.take(c.id, requests, () => c.networks?.[primary.name]?.ipAddress, `${c.name} (${nets[0]![1].endpointId})`);
      c.sandbox = { id: sandboxId, netns, ports, portsNetwork: primary.name };
    } catch (err) {
      this.ports.release(c.id);
      for (const [n, ip] of allocated) this.takenOn(n).delete(ip);
      for (const [, ep] of nets) clearRuntime(ep);
      if (netns) await this.netns.remove(sandboxId).catch(() => undefined);
      c.sandbox = undefined;
      throw err;
    }
    const sandbox = c.sandbox;
    const ready = (async () => {
      for (const [n] of nets) await this.keepers.ensure(n, this.takenOn(n));
      // One call per network, the ports with the first: teardown undoes them the same way.
      for (const group of groupByPorts(nets, sandbox.portsNetwork)) {
        const ports = group.some(([n]) => n.name === sandbox.portsNetwork) ? sandbox.ports : [];
        await this.netavark.setup(netns, this.request(c, group, ports));
        if (ports.length && group.some(([n]) => ipv6SubnetOf(n))) await exemptIpv6Loopback(group[0]![0].id);
      }
      for (const [n] of nets) this.events.emit('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    })();
    ready.catch(() => undefined);
    return {
      netnsPath: netns,
      usernsPath: this.remapped(c) ? this.netns.userPathOf(sandboxId) : undefined,
      ips: addressesOf(nets),
      nameservers: nameserversOf(nets),
      extraHosts: this.linkHosts(nets),
      hostGateway,
      ready,
    };
  }

  /** --network container:<x>: its namespace, which must exist now. */
  private joined(target: string): Omit<Sandbox, 'hostGateway'> {
    const t = this.networks.containers.find(target);
    if (!isRunning(t)) throw new ConflictError(`cannot join network namespace of a non running container: ${t.id}`);
    const ips = Object.values(t.networks ?? {}).flatMap((ep) => (ep.ipAddress ? [ep.ipAddress] : []));
    // A namespace is joined with the user namespace that owns it (moby's WithNamespaces).
    const usernsPath = !this.remapped(t) ? undefined : t.sandbox?.netns ? this.netns.userPathOf(t.sandbox.id) : `/proc/${t.state.pid}/ns/user`;
    return { ...NO_SANDBOX, netnsPath: t.sandbox?.netns ?? `/proc/${t.state.pid}/ns/net`, usernsPath, ips };
  }

  /** The container has a user namespace of its own (berthd --userns-remap, not --userns=host). */
  private remapped(c: ContainerRecord): boolean {
    return !!this.ids && c.hostConfig.UsernsMode !== 'host';
  }

  private bridgeEndpoints(c: ContainerRecord): [NetworkRecord, EndpointRecord][] {
    if (!c.networks) {
      // A container recorded before Berth had networks: it joins its mode's network.
      const n = this.networks.find(modeNetwork(c.hostConfig.NetworkMode));
      c.networks = { [n.name]: { networkId: n.id, aliases: [] } };
    }
    const out: [NetworkRecord, EndpointRecord][] = [];
    for (const [name, ep] of Object.entries(c.networks)) {
      const n = this.networks.get(ep.networkId);
      if (!n) throw new NotFoundError(`network ${name} not found`);
      if (n.driver === 'bridge') out.push([n, ep]);
    }
    return out;
  }

  /** --ip/--ip6: the address, unless a container holds it (the keeper's moves, keepers.ts). */
  private claim(n: NetworkRecord, ip: string): string {
    const taken = this.takenOn(n);
    if (this.keepers.addressesOf(n).includes(ip)) this.keepers.displace(n);
    else if (taken.has(ip)) throw new ConflictError(`Address already in use: ${ip} on network ${n.name}`);
    taken.add(ip);
    return ip;
  }

  /** The endpoint's IPv6 address on a network with IPv6 (--ip6, or the lowest free one). */
  private allocate6(n: NetworkRecord, ep: EndpointRecord): string | undefined {
    const s = ipv6SubnetOf(n);
    if (!s) return undefined;
    if (ep.ipv6) return this.claim(n, ep.ipv6);
    const taken = this.takenOn(n);
    const ip = nextFree6(subnet6Of(s), taken, s.ipRange ? parseSubnet6(s.ipRange) : undefined);
    if (!ip) throw new ConflictError(`no available IPv6 addresses on this network's address pools: ${n.name} (${n.id})`);
    taken.add(ip);
    return ip;
  }

  private allocate(n: NetworkRecord, ep: EndpointRecord): string {
    const taken = this.takenOn(n);
    if (ep.ipv4) return this.claim(n, ep.ipv4);
    for (const s of n.subnets) {
      const sub = subnetOf(s);
      const ip = nextFree(sub, taken, s.ipRange ? parseSubnet(s.ipRange) : sub);
      if (ip) {
        taken.add(ip);
        return ip;
      }
    }
    throw new ConflictError(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`);
  }

  private portRequestsOf(c: ContainerRecord): PortRequest[] {
    const bindings = { ...(c.hostConfig.PortBindings ?? {}) };
    if (c.hostConfig.PublishAllPorts) {
      for (const key of Object.keys(c.config.ExposedPorts ?? {})) {
        const { port, protocol } = parsePortKey(key);
        const k = `${port}/${protocol}`;
        if (!bindings[k] && !bindings[key]) bindings[k] = [{ HostIp: '', HostPort: '' }];
      }
    }
    return portRequests(bindings);
  }

  private linkHosts(nets: [NetworkRecord, EndpointRecord][]): string[] {
    const out: string[] = [];
    for (const [n, ep] of nets) {
      for (const link of ep.links ?? []) {
        const [name, alias] = link.replace(/^\//, '').split(':') as [string, string | undefined];
        let target: ContainerRecord;
        try {
          target = this.networks.containers.find(name);
        } catch {
          continue;
        }
        const ip = target.networks?.[n.name]?.ipAddress;
        if (!ip) continue;
        // One line per link, its names together, as Docker writes it ("172.17.0.2\tdb 0123456789ab db").
        const names = [alias, shortId(target.id), target.name].filter((x): x is string => !!x);
        out.push(`${names.join(' ')}:${ip}`);
      }
    }
    return out;
  }

  netavarkNetwork(n: NetworkRecord): NetavarkNetwork {
    const options: Record<string, string> = { isolate: 'true' };
    if (n.options[MTU_OPTION] && n.options[MTU_OPTION] !== '1500') options['mtu'] = n.options[MTU_OPTION];
    // netavark names its iptables chains and aardvark's record files after the network's name:
    // Berth's names are per daemon (every berthd has a "bridge"), its ids are unique on the host.
    return {
      name: n.id,
      id: n.id,
      driver: 'bridge',
      network_interface: n.bridge!,
      subnets: [...n.subnets, ...(ipv6SubnetOf(n) ? n.subnets6! : [])].map((s) => ({ subnet: s.subnet, gateway: s.gateway })),
      ipv6_enabled: !!ipv6SubnetOf(n),
      internal: n.internal,
      dns_enabled: n.dns,
      ipam_options: { driver: 'host-local' },
      options,
    };
  }

  private request(c: ContainerRecord, nets: [NetworkRecord, EndpointRecord][], ports: PublishedPort[]): NetavarkRequest {
    const req: NetavarkRequest = { container_id: c.id, container_name: c.name, networks: {}, network_info: {} };
    for (const [n, ep] of nets) {
      req.network_info[n.id] = this.netavarkNetwork(n);
      req.networks[n.id] = {
        static_ips: ep.ipv6Address ? [ep.ipAddress!, ep.ipv6Address] : [ep.ipAddress!],
        aliases: n.dns ? [...new Set([c.name, shortId(c.id), ...ep.aliases])] : [],
        interface_name: ep.iface ?? 'eth0',
        static_mac: ep.mac,
      };
    }
    const mappings = netavarkPorts(ports);
    if (mappings.length) req.port_mappings = mappings;
    return req;
  }

  /**
   * Undoes attach: the container's record is cleared at once (it may start again right away, in a
   * new namespace); netavark's teardown and the namespace's removal run after, one at a time with
   * every other netavark call, and the addresses are free again once they are done. The
   * `network disconnect` events wait for `announceAfter` when given: on an exit dockerd reports
   * the container's `die` first.
   */
  release(c: ContainerRecord, announceAfter?: Promise<void>): Promise<void> {
    const sb = c.sandbox;
    if (!sb) return Promise.resolve();
    c.sandbox = undefined;
    this.ports.release(c.id);
    const nets = this.liveEndpoints(c);
    // The network carrying the ports is torn down with them, every other one alone (as set up).
    const calls = sb.netns
      ? groupByPorts(nets, sb.portsNetwork)
          .map((g) => this.request(c, g, g.some(([n]) => n.name === sb.portsNetwork) ? sb.ports : []))
          .filter((req) => this.needsTeardown(req))
      : [];
    const freed = nets.flatMap(([n, ep]) => (ep.ipv6Address ? [[n, ep.ipAddress!], [n, ep.ipv6Address]] : [[n, ep.ipAddress!]]) as [NetworkRecord, string][]);
    for (const [, ep] of nets) clearRuntime(ep);
    const announce = (): void => {
      for (const [n] of nets) this.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    };
    if (announceAfter) void announceAfter.then(announce, announce);
    else announce();
    // Written before the caller saves the cleared record: a daemon killed mid-teardown finishes it at start.
    if (sb.netns) this.writePending({ sandboxId: sb.id, netns: sb.netns, calls });
    const done = (async () => {
      if (sb.netns) await this.teardownPending({ sandboxId: sb.id, netns: sb.netns, calls });
      for (const [n, ip] of freed) this.takenOn(n).delete(ip);
    })();
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  /**
   * Whether netavark must undo a setup of an exited container. Not when all it would do is delete
   * the veth — which goes with the namespace — that is: no published ports (their DNAT rules), no
   * name resolution (aardvark's records), and a keeper on each network (so this is not the last
   * endpoint, whose teardown removes the bridge and its rules). The default bridge's `run --rm`
   * then spawns netavark once, not twice, and the next container's setup does not queue behind it.
   */
  private needsTeardown(req: NetavarkRequest): boolean {
    if (req.port_mappings?.length) return true;
    return Object.values(req.network_info).some((info) => {
      const n = this.networks.get(info.id);
      return !n || info.dns_enabled || this.keepers.addressesOf(n).length === 0;
    });
  }

    private pendingFile(sandboxId: string): string {
    return path.join(this.netavark.configDir, 'teardowns', `${sandboxId}.json`);
  }

  private writePending(t: PendingTeardown): void {
    mkdirSync(path.dirname(this.pendingFile(t.sandboxId)), { recursive: true });
    writeFileSync(this.pendingFile(t.sandboxId), JSON.stringify(t));
  }

  private async teardownPending(t: PendingTeardown): Promise<void> {
    for (const req of t.calls) {
      await this.netavark.teardown(t.netns, req).catch((err: Error) => logger.warn(`network teardown of ${shortId(req.container_id)}: ${err.message}`));
    }
    await this.netns.remove(t.sandboxId).catch((err: Error) => logger.warn(`removing network namespace ${t.sandboxId}: ${err.message}`));
    await fsp.rm(this.pendingFile(t.sandboxId), { force: true });
  }

  /** Teardowns a killed daemon left unfinished. */
  private async resumePending(): Promise<void> {
    const dir = path.dirname(this.pendingFile('x'));
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        await this.teardownPending(JSON.parse(await fsp.readFile(path.join(dir, name), 'utf8')) as PendingTeardown);
      } catch (err) {
        logger.warn(`unfinished network teardown ${name}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * After the containers are reconciled: namespaces that no container's record names are what a
   * start cut short by the daemon's death made (the sandbox is recorded with the running state).
   * Removing the namespace takes its interfaces with it.
   */
  async removeOrphans(containers: ContainerRecord[]): Promise<void> {
    const known = new Set(containers.flatMap((c) => (c.sandbox ? [c.sandbox.id] : [])));
    for (const name of await fsp.readdir(this.netns.dir).catch(() => [] as string[])) {
      if (known.has(name) || isKeeperNamespace(name)) continue;
      logger.info(`removing the network namespace ${name} of an interrupted start`);
      await this.netns.remove(name).catch((err: Error) => logger.warn(`removing network namespace ${name}: ${err.message}`));
    }
  }

  /** Waits for the teardowns in flight (daemon shutdown). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /**
   * Daemon shutdown: teardowns finished, the bridges of networks no running container uses
   * removed (their keepers), the namespace dir's mount dropped if unused. Bounded by `timeoutMs`.
   */
  async close(timeoutMs: number): Promise<void> {
    const work = (async () => {
      await this.drain();
      const inUse = new Set(this.networks.containers.all().flatMap((c) => (c.sandbox ? Object.values(c.networks ?? {}).map((ep) => ep.networkId) : [])));
      for (const n of this.networks.all()) if (n.driver === 'bridge' && !inUse.has(n.id)) await this.keepers.remove(n);
      await this.netns.close();
    })();
    await Promise.race([work, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private liveEndpoints(c: ContainerRecord): [NetworkRecord, EndpointRecord][] {
    const out: [NetworkRecord, EndpointRecord][] = [];
    for (const ep of Object.values(c.networks ?? {})) {
      const n = this.networks.get(ep.networkId);
      if (n && ep.ipAddress) out.push([n, ep]);
    }
    return out;
  }

  /** After a daemon restart: a running container's addresses and ports are in use again. */
  async restore(c: ContainerRecord): Promise<void> {
    for (const [n, ep] of this.liveEndpoints(c)) {
      this.takenOn(n).add(ep.ipAddress!);
      if (ep.ipv6Address) this.takenOn(n).add(ep.ipv6Address);
    }
    const sb = c.sandbox;
    if (!sb || sb.ports.length === 0) return;
    const primary = sb.portsNetwork;
    const requests = sb.ports.map((p) => ({ ...p, hostPortEnd: p.hostPort }));
    await this.ports
      .take(c.id, requests, () => (primary ? c.networks?.[primary]?.ipAddress : undefined), c.name)
      .catch((err: Error) => logger.warn(`re-holding the published ports of ${shortId(c.id)}: ${err.message}`));
  }

  /** What a running container's /etc files take from its networks now (connect/disconnect rewrite them). */
  etcNetwork(c: ContainerRecord): Omit<Sandbox, 'netnsPath' | 'ready'> {
    const nets = this.liveEndpoints(c);
    return { ips: addressesOf(nets), nameservers: nameserversOf(nets), extraHosts: this.linkHosts(nets), hostGateway: this.hostGateway() };
  }

  /** network connect on a running container: one more interface in its namespace. */
  async connectRunning(c: ContainerRecord, name: string): Promise<void> {
    const sb = c.sandbox;
    const ep = c.networks![name]!;
    const n = this.networks.get(ep.networkId)!;
    if (!sb?.netns) throw new SystemError(`container ${c.id} has no network namespace of its own`);
    const used = new Set(Object.values(c.networks ?? {}).map((e) => e.iface));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const ip = this.allocate(n, ep);
    ep.ipAddress = ip;
    try {
      ep.ipv6Address = this.allocate6(n, ep);
      ep.mac = ep.macAddress ?? randomMac();
      ep.endpointId = newId();
      ep.iface = `eth${i}`;
      await this.keepers.ensure(n, this.takenOn(n));
      await this.netavark.setup(sb.netns, this.request(c, [[n, ep]], []));
    } catch (err) {
      this.takenOn(n).delete(ip);
      if (ep.ipv6Address) this.takenOn(n).delete(ep.ipv6Address);
      clearRuntime(ep);
      throw err;
    }
  }

  async disconnectRunning(c: ContainerRecord, name: string): Promise<void> {
    const sb = c.sandbox;
    const ep = c.networks![name]!;
    const n = this.networks.get(ep.networkId);
    if (!n || !ep.ipAddress || !sb?.netns) return;
    const ports = sb.portsNetwork === name ? sb.ports : [];
    await this.netavark.teardown(sb.netns, this.request(c, [[n, ep]], ports));
    if (ports.length) {
      this.ports.release(c.id);
      sb.ports = [];
    }
    this.takenOn(n).delete(ep.ipAddress);
    if (ep.ipv6Address) this.takenOn(n).delete(ep.ipv6Address);
    clearRuntime(ep);
  }
}

/** The gateways of the networks with name resolution (aardvark-dns listens there). */
function nameserversOf(nets: [NetworkRecord, EndpointRecord][]): string[] {
  return [...new Set(nets.filter(([n]) => n.dns).map(([n]) => n.subnets[0]!.gateway))];
}

/** A container's addresses on its networks, IPv4 then IPv6 of each (its /etc/hosts lines). */
function addressesOf(nets: [NetworkRecord, EndpointRecord][]): string[] {
  return nets.flatMap(([, ep]) => [ep.ipAddress!, ...(ep.ipv6Address ? [ep.ipv6Address] : [])]);
}

function clearRuntime(ep: EndpointRecord): void {
  delete ep.ipAddress;
  delete ep.ipv6Address;
  delete ep.mac;
  delete ep.endpointId;
  delete ep.iface;
}

/** Docker-style locally administered MAC (02:42:…), random. */
function randomMac(): string {
  return ['02', '42', ...[...randomBytes(4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/**
 * IPv4 and wildcard bindings are DNATed by netavark (both families on a dual-stack network);
 * bindings to an IPv6 address are relayed by the held socket.
 */
function netavarkPorts(ports: PublishedPort[]): NetavarkPortMapping[] {
  return ports
    .filter((p) => p.protocol !== 'sctp' && !p.hostIp.includes(':'))
    .map((p) => ({ host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol }));
}

function groupByPorts(nets: [NetworkRecord, EndpointRecord][], portsNetwork: string | undefined): [NetworkRecord, EndpointRecord][][] {
  const withPorts = nets.filter(([n]) => n.name === portsNetwork);
  const rest = nets.filter(([n]) => n.name !== portsNetwork).map((x) => [x]);
  return withPorts.length ? [withPorts, ...rest] : rest;
}
