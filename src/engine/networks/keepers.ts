// One idle endpoint per bridge network in use (a namespace of its own on the network's last
// address), so that the bridge and its NAT/forward chains stay between containers, as docker0
// does: netavark removes a bridge and its chains with its last endpoint and makes them again for
// the next one, which doubled the cost of every setup and teardown of a `run --rm`. A keeper goes
// with its network (rm, prune) and at daemon shutdown when no container of that network runs.
import { SystemError } from '../../errors.js';
import { numberToIp } from '../../network/ipam.js';
import type { Netavark, NetavarkNetwork, NetavarkRequest } from '../../network/netavark.js';
import type { NetnsStore } from '../../network/netns.js';
import { logger } from '../../util/logger.js';
import { subnetOf, type NetworkRecord } from './network.js';

/** The address a network's keeper holds: the subnet's last usable one. */
export function keeperAddress(n: NetworkRecord): string | undefined {
  const s = n.subnets[0];
  if (!s) return undefined;
  const sub = subnetOf(s);
  return numberToIp(sub.base + 2 ** (32 - sub.prefix) - 2);
}

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

  constructor(
    private readonly netavark: Netavark,
    private readonly netns: NetnsStore,
    private readonly networkInfo: (n: NetworkRecord) => NetavarkNetwork,
  ) {}

  private request(n: NetworkRecord): NetavarkRequest {
    // Without name resolution: the keeper is no container and has no name.
    const info = { ...this.networkInfo(n), dns_enabled: false };
    return {
      container_id: n.id,
      container_name: keeperName(n),
      networks: { [info.name]: { static_ips: [keeperAddress(n)!], aliases: [], interface_name: 'eth0' } },
      network_info: { [info.name]: info },
    };
  }

  /** The network's keeper, made once (or found from before a daemon restart). */
  ensure(n: NetworkRecord): Promise<void> {
    let p = this.ready.get(n.id);
    if (!p) {
      p = this.start(n);
      this.ready.set(n.id, p);
      p.catch(() => this.ready.delete(n.id));
    }
    return p;
  }

  private async start(n: NetworkRecord): Promise<void> {
    const name = keeperName(n);
    if (await this.netns.exists(name)) return;
    const path = await this.netns.create(name);
    try {
      await this.netavark.setup(path, this.request(n));
    } catch (err) {
      await this.netns.remove(name);
      throw new SystemError(`setting up network ${n.name}: ${(err as Error).message}`);
    }
  }

  /** Removes the keeper (the last endpoint: netavark removes the bridge and its rules with it). */
  async remove(n: NetworkRecord): Promise<void> {
    const name = keeperName(n);
    await this.ready.get(n.id)?.catch(() => undefined);
    this.ready.delete(n.id);
    if (!(await this.netns.exists(name))) return;
    await this.netavark.teardown(this.netns.pathOf(name), this.request(n)).catch((err: Error) => logger.warn(`removing the bridge of network ${n.name}: ${err.message}`));
    await this.netns.remove(name);
  }
}
