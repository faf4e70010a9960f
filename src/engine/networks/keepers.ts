// One idle endpoint per bridge network in use (a namespace of its own on one of the network's
// addresses), so that the bridge and its NAT/forward chains stay between containers, as docker0
// does: netavark removes a bridge and its chains with its last endpoint and makes them again for
// the next one, which doubled the cost of every setup and teardown of a `run --rm`. A keeper goes
// with its network (rm, prune) and at daemon shutdown when no container of that network runs.
//
// Its address (one per family on a dual-stack network) is the subnet's highest free one outside
// the --ip-range (where containers get theirs), never the gateway or an --aux-address; it is kept
// in <config>/keepers/<network-id> so a restarted daemon knows it. A container that asks for that
// address with --ip/--ip6 gets it: the keeper moves to another before the container's interface
// is made. A subnet with no address to spare (a /30 with one container) has no keeper: netavark
// makes and removes its bridge per use.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SystemError } from '../../errors.js';
import { lastFree, parseSubnet } from '../../network/ipam.js';
import { lastFree6, parseSubnet6 } from '../../network/ipam6.js';
import { removeDnatChain, type Netavark, type NetavarkNetwork, type NetavarkRequest } from '../../network/netavark.js';
import type { NetnsStore } from '../../network/netns.js';
import { logger } from '../../util/logger.js';
import { ipv6SubnetOf, subnet6Of, subnetOf, type NetworkRecord } from './network.js';

const KEEPER_PREFIX = 'keeper-';

function keeperName(n: NetworkRecord): string {
  return `${KEEPER_PREFIX}${n.id.slice(0, 12)}`;
}

/** Whether a namespace under the netns dir is a keeper's (not a container's). */
export function isKeeperNamespace(name: string): boolean {
  return name.startsWith(KEEPER_PREFIX);
}

export class BridgeKeepers {
  private readonly ready = new Map<string, Promise<void>>();
  /** Network id → the keeper's addresses (while it has them). */
  private readonly addresses = new Map<string, string[]>();
  /** Networks whose keeper's address a container has taken (--ip): it moves at the next ensure. */
  private readonly displaced = new Set<string>();
  private readonly stateDir: string;

  constructor(
    private readonly netavark: Netavark,
    private readonly netns: NetnsStore,
    private readonly networkInfo: (n: NetworkRecord) => NetavarkNetwork,
  ) {
    this.stateDir = path.join(netavark.configDir, 'keepers');
  }

  /** The keeper's addresses on `n` ([] without a keeper; read from before a daemon restart too). */
  addressesOf(n: NetworkRecord): string[] {
    let ips = this.addresses.get(n.id);
    if (ips === undefined) {
      try {
        ips = readFileSync(path.join(this.stateDir, n.id), 'utf8').split('\n').filter(Boolean);
        this.addresses.set(n.id, ips);
      } catch {
        return [];
      }
    }
    return ips;
  }

  /** A container was given the keeper's address (--ip): the keeper moves before that container's setup. */
  displace(n: NetworkRecord): void {
    this.displaced.add(n.id);
  }

  private request(n: NetworkRecord, ips: string[]): NetavarkRequest {
    // Without name resolution: the keeper is no container and has no name.
    const info = { ...this.networkInfo(n), dns_enabled: false };
    return {
      container_id: n.id,
      container_name: keeperName(n),
      networks: { [info.name]: { static_ips: ips, aliases: [], interface_name: 'eth0' } },
      network_info: { [info.name]: info },
    };
  }

  /**
   * The network's keeper, made once (or found from before a daemon restart); `taken` are the
   * network's addresses in use, the keeper's own is added to it.
   */
  ensure(n: NetworkRecord, taken: Set<string>): Promise<void> {
    let p = this.ready.get(n.id);
    if (p && this.displaced.has(n.id)) {
      this.displaced.delete(n.id);
      p = p.catch(() => undefined).then(() => this.move(n, taken));
      this.ready.set(n.id, p);
    }
    if (!p) {
      p = this.start(n, taken);
      this.ready.set(n.id, p);
    }
    p.then(
      () => {
        // No address to spare: try again at the next container.
        if (!this.addresses.has(n.id)) this.ready.delete(n.id);
      },
      () => this.ready.delete(n.id),
    );
    return p;
  }

  private async start(n: NetworkRecord, taken: Set<string>): Promise<void> {
    const name = keeperName(n);
    this.displaced.delete(n.id);
    if (await this.netns.exists(name)) {
      const known = this.addressesOf(n);
      if (known.length) {
        for (const ip of known) taken.add(ip);
        return;
      }
      await this.netns.remove(name); // from a daemon that recorded no address: start afresh
    }
    const ips = spareAddresses(n, taken);
    if (!ips) return;
    for (const ip of ips) taken.add(ip);
    const netnsPath = await this.netns.create(name);
    try {
      await this.netavark.setup(netnsPath, this.request(n, ips));
    } catch (err) {
      for (const ip of ips) taken.delete(ip);
      await this.netns.remove(name);
      throw new SystemError(`setting up network ${n.name}: ${(err as Error).message}`);
    }
    this.addresses.set(n.id, ips);
    mkdirSync(this.stateDir, { recursive: true });
    writeFileSync(path.join(this.stateDir, n.id), ips.join('\n'));
  }

  /** The keeper gives its address up (a container now holds it in `taken`) and takes another. */
  private async move(n: NetworkRecord, taken: Set<string>): Promise<void> {
    await this.teardown(n);
    await this.start(n, taken);
  }

  private async teardown(n: NetworkRecord): Promise<void> {
    const name = keeperName(n);
    const ips = this.addressesOf(n);
    if (ips.length && (await this.netns.exists(name))) {
      await this.netavark.teardown(this.netns.pathOf(name), this.request(n, ips)).catch((err: Error) => logger.warn(`removing the keeper of network ${n.name}: ${err.message}`));
    }
    await this.netns.remove(name).catch(() => undefined);
    this.addresses.delete(n.id);
    rmSync(path.join(this.stateDir, n.id), { force: true });
  }

  /**
   * Removes the keeper (the last endpoint: netavark removes the bridge and its rules with it, all
   * but the network's DNAT chain, which Berth deletes — by the name netavark derives from this
   * network's id, so no other engine's chain is ever touched).
   */
  async remove(n: NetworkRecord): Promise<void> {
    await this.ready.get(n.id)?.catch(() => undefined);
    this.ready.delete(n.id);
    this.displaced.delete(n.id);
    await this.teardown(n);
    await removeDnatChain(this.networkInfo(n).name, this.networkInfo(n).ipv6_enabled);
  }
}

/** The keeper's addresses: the highest free one of each subnet (IPv4, and IPv6 when on); undefined when one has none left. */
function spareAddresses(n: NetworkRecord, taken: ReadonlySet<string>): string[] | undefined {
  const s = n.subnets[0];
  const ip = s && lastFree(subnetOf(s), taken, s.ipRange ? parseSubnet(s.ipRange) : undefined);
  if (!ip) return undefined;
  const s6 = ipv6SubnetOf(n);
  if (!s6) return [ip];
  const ip6 = lastFree6(subnet6Of(s6), taken, s6.ipRange ? parseSubnet6(s6.ipRange) : undefined);
  return ip6 ? [ip, ip6] : undefined;
}
