// Published ports: HostConfig.PortBindings checked and expanded, host ports chosen, and each
// published port held open by the daemon while its container runs. The kernel's DNAT rules
// (netavark's) carry the traffic; the held socket is what makes a taken port an error, keeps
// another process from taking it, and (for IPv6, which the bridge has no DNAT for) relays.
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { PortBinding } from '../types/api.js';
import { ConflictError, InvalidParameterError } from '../errors.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** One container port published on one host address. */
export interface PublishedPort {
  containerPort: number;
  protocol: Protocol;
  /** '' = every address (0.0.0.0 and ::). */
  hostIp: string;
  hostPort: number;
}

/** What the client asked for: a host port of 0 means "any free one" (within hostPortEnd, if given). */
export interface PortRequest {
  containerPort: number;
  protocol: Protocol;
  hostIp: string;
  hostPort: number;
  hostPortEnd: number;
}

/** "80/tcp" → [80, 'tcp']. */
export function parsePortKey(key: string): { port: number; protocol: Protocol } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidParameterError(`invalid port specification: "${key}"`);
  return { port, protocol: (m[2]?.toLowerCase() ?? 'tcp') as Protocol };
}

function parseHostPort(spec: string | undefined): [number, number] {
  if (!spec) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) throw new InvalidParameterError(`invalid port specification: "${spec}"`);
  return [start, start === end ? start : end];
}

/** Checks HostConfig.PortBindings and returns one request per binding. */
export function portRequests(bindings: Record<string, PortBinding[] | null> | null | undefined): PortRequest[] {
  const out: PortRequest[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, protocol } = parsePortKey(key);
    for (const b of list ?? [{}]) {
      const hostIp = b.HostIp ?? '';
      if (hostIp !== '' && net.isIP(hostIp) === 0) throw new InvalidParameterError(`invalid IP address: ${hostIp}`);
      const [start, end] = parseHostPort(b.HostPort);
      out.push({ containerPort: port, protocol, hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPort: start, hostPortEnd: end });
    }
  }
  return out;
}

/** The host's ephemeral range, where Docker also looks for a free port. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    // fall back on Docker's own default
  }
  return [49153, 60999];
}

interface Holder {
  close(): void;
}

function listenTcp(host: string, port: number, relayTo: () => { host: string; port: number } | undefined): Promise<Holder> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      const target = relayTo();
      if (!target) return sock.destroy();
      const up = net.connect(target.port, target.host);
      sock.pipe(up).pipe(sock);
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
    });
    server.once('error', reject);
    server.listen({ host, port, exclusive: true, ipv6Only: host === '::' }, () => {
      server.off('error', reject);
      server.unref();
      resolve({ close: () => server.close() });
    });
  });
}

function bindUdp(host: string, port: number): Promise<Holder> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: host === '::' });
    sock.once('error', reject);
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.off('error', reject);
      sock.unref();
      resolve({ close: () => sock.close() });
    });
  });
}

/** The addresses a binding is held on: a wildcard binding holds 0.0.0.0 and ::, as Docker does. */
function hostAddresses(hostIp: string): string[] {
  return hostIp === '' ? ['0.0.0.0', '::'] : [hostIp];
}

function shownAddress(hostIp: string): string {
  return hostIp.includes(':') ? `[${hostIp}]` : hostIp;
}

/** Holds published ports for the containers of one daemon. */
export class PortHolder {
  private readonly held = new Map<string, Holder[]>();

  /**
   * Takes every requested port for container `id` (all or none); `relayTo` gives the container's
   * address for connections that reach the held socket (IPv6).
   */
  async take(id: string, requests: readonly PortRequest[], relayTo: () => string | undefined, endpoint: string): Promise<PublishedPort[]> {
    const holders: Holder[] = [];
    const out: PublishedPort[] = [];
    try {
      for (const r of requests) {
        const port = await this.takeOne(r, holders, relayTo, endpoint);
        out.push({ containerPort: r.containerPort, protocol: r.protocol, hostIp: r.hostIp, hostPort: port });
      }
    } catch (err) {
      for (const h of holders) h.close();
      throw err;
    }
    this.held.set(id, [...(this.held.get(id) ?? []), ...holders]);
    return out;
  }

  private async takeOne(r: PortRequest, holders: Holder[], relayTo: () => string | undefined, endpoint: string): Promise<number> {
    const dynamic = r.hostPort === 0;
    const [lo, hi] = dynamic ? ephemeralRange() : [r.hostPort, r.hostPortEnd];
    const span = hi - lo + 1;
    const offset = dynamic ? Math.floor(Math.random() * span) : 0;
    let lastErr: unknown;
    for (let i = 0; i < span; i++) {
      const port = lo + ((offset + i) % span);
      try {
        holders.push(...(await this.hold(r, port, relayTo)));
        return port;
      } catch (err) {
        lastErr = err;
        if (!dynamic && span === 1) break;
      }
    }
    const addr = r.hostIp === '' ? '0.0.0.0' : shownAddress(r.hostIp);
    const why = (lastErr as NodeJS.ErrnoException | undefined)?.code === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : 'port is already allocated';
    const what = dynamic ? `Bind for ${addr}:0 failed: no free port` : `Bind for ${addr}:${r.hostPort === r.hostPortEnd ? r.hostPort : `${r.hostPort}-${r.hostPortEnd}`} failed: ${why}`;
    throw new ConflictError(`driver failed programming external connectivity on endpoint ${endpoint}: ${what}`);
  }

  private async hold(r: PortRequest, port: number, relayTo: () => string | undefined): Promise<Holder[]> {
    const got: Holder[] = [];
    try {
      for (const addr of hostAddresses(r.hostIp)) {
        if (r.protocol === 'udp') got.push(await bindUdp(addr, port));
        else if (r.protocol === 'tcp') {
          got.push(
            await listenTcp(addr, port, () => {
              const ip = relayTo();
              return ip ? { host: ip, port: r.containerPort } : undefined;
            }),
          );
        }
      }
    } catch (err) {
      // :: is unavailable on a host without IPv6: the IPv4 half is enough there.
      if (r.hostIp === '' && got.length === 1 && (err as NodeJS.ErrnoException).code === 'EAFNOSUPPORT') return got;
      for (const h of got) h.close();
      throw err;
    }
    return got;
  }

  release(id: string): void {
    for (const h of this.held.get(id) ?? []) h.close();
    this.held.delete(id);
  }
}
