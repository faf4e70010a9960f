// The network backend: Debian's netavark (podman's), which makes the bridge, the veth pair, the
// addresses and routes inside a namespace, the iptables NAT/forwarding/port rules, and keeps
// aardvark-dns's records for networks with name resolution. It is stateless between calls: Berth
// hands it every network's definition and the addresses it chose on each setup and teardown.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { SystemError } from '../errors.js';
import { logger } from '../util/logger.js';

export const NETAVARK_BINARY = '/usr/lib/podman/netavark';
export const AARDVARK_BINARY = '/usr/lib/podman/aardvark-dns';

export interface NetavarkSubnet {
  subnet: string;
  gateway?: string;
  lease_range?: { start_ip?: string; end_ip?: string };
}

export interface NetavarkNetwork {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: NetavarkSubnet[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  ipam_options: { driver: 'host-local' };
  options?: Record<string, string>;
}

export interface NetavarkPortMapping {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface NetavarkEndpoint {
  static_ips: string[];
  aliases: string[];
  interface_name: string;
  static_mac?: string;
}

export interface NetavarkRequest {
  container_id: string;
  container_name: string;
  port_mappings?: NetavarkPortMapping[];
  networks: Record<string, NetavarkEndpoint>;
  network_info: Record<string, NetavarkNetwork>;
}

export type NetavarkStatus = Record<
  string,
  {
    dns_search_domains?: string[];
    dns_server_ips?: string[];
    interfaces?: Record<string, { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] }>;
  }
>;

/**
 * The per-network chain that netavark 1.4 makes for port DNAT and never removes (it outlives the
 * network, empty): "NETAVARK-DN-" and the first 13 hex digits (upper case) of the SHA-512 of the
 * network's name as netavark was given it — for Berth, the network's id.
 */
export function dnatChainOf(networkName: string): string {
  return `NETAVARK-DN-${createHash('sha512').update(networkName).digest('hex').toUpperCase().slice(0, 13)}`;
}

/**
 * Deletes the DNAT chain of a network whose last endpoint netavark has just torn down. `-X` only
 * deletes an empty chain nothing jumps to, so a chain still in use is never touched; a missing one
 * is no error.
 */
export async function removeDnatChain(networkName: string, ipv6: boolean): Promise<void> {
  const chain = dnatChainOf(networkName);
  // Two starts at once may each have inserted the RETURN (exemptIpv6Loopback): delete every copy.
  if (ipv6) {
    for (let i = 0; i < 16; i++) if (!(await nat('ip6tables', ['-D', chain, ...LOOPBACK_RETURN]))) break;
  }
  for (const bin of ipv6 ? ['iptables', 'ip6tables'] : ['iptables']) await nat(bin, ['-X', chain]);
}

const LOOPBACK_RETURN = ['-d', '::1/128', '-j', 'RETURN'];

/**
 * netavark's IPv6 DNAT of a wildcard-published port also catches connections to [::1], and the
 * kernel drops what it rewrites (a ::1 source may not leave the host; IPv6 has no
 * route_localnet). A RETURN for ::1 at the head of the network's own DNAT chain lets those reach
 * the port Berth holds on [::], which relays them, as docker-proxy does. Removed with the chain.
 */
export async function exemptIpv6Loopback(networkName: string): Promise<void> {
  const chain = dnatChainOf(networkName);
  if (!(await nat('ip6tables', ['-C', chain, ...LOOPBACK_RETURN]))) await nat('ip6tables', ['-I', chain, '1', ...LOOPBACK_RETURN]);
}

/** One iptables/ip6tables call on the nat table; true when it succeeded (failures are logged at debug). */
function nat(bin: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(bin, ['-w', '-t', 'nat', ...args], (err, _out, stderr) => {
      if (err && !/No chain|does not exist|Bad rule/i.test(stderr)) logger.debug(`${bin} -t nat ${args.join(' ')}: ${stderr.trim() || err.message}`);
      resolve(!err);
    });
  });
}

export class Netavark {
  /** netavark calls of one daemon run one at a time: concurrent runs race on creating the same chains. */
  private queue: Promise<unknown> = Promise.resolve();

  /** `configDir`: netavark's state (aardvark-dns's records and pid) — a per-daemon dir under the exec root. */
  constructor(readonly configDir: string) {}

  static available(): boolean {
    return existsSync(NETAVARK_BINARY);
  }

  async init(): Promise<void> {
    await fsp.mkdir(`${this.configDir}/aardvark-dns`, { recursive: true, mode: 0o700 });
  }

  async setup(netns: string, req: NetavarkRequest): Promise<NetavarkStatus> {
    try {
      return (await this.call('setup', netns, req)) as NetavarkStatus;
    } catch (err) {
      // netavark leaves what it made before a failure (a bridge, a veth, rules): undo it.
      await this.call('teardown', netns, req).catch(() => undefined);
      throw err;
    }
  }

  async teardown(netns: string, req: NetavarkRequest): Promise<void> {
    await this.call('teardown', netns, req);
  }

  private call(command: 'setup' | 'teardown', netns: string, req: NetavarkRequest): Promise<unknown> {
    const run = this.queue.then(() => this.spawn(command, netns, req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private spawn(command: 'setup' | 'teardown', netns: string, req: NetavarkRequest): Promise<unknown> {
    const args = ['--config', this.configDir, '--rootless', 'false', '--aardvark-binary', AARDVARK_BINARY, command, netns];
    return new Promise((resolve, reject) => {
      // aardvark-dns is started by netavark and must outlive both netavark and this daemon.
      const child = spawn(NETAVARK_BINARY, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => reject(new SystemError(`netavark: ${e.message}`)));
      child.on('close', (code) => {
        const stdout = Buffer.concat(out).toString().trim();
        const stderr = Buffer.concat(err).toString().trim();
        if (code !== 0) {
          let message = stderr || stdout;
          try {
            message = (JSON.parse(stdout) as { error?: string }).error ?? message;
          } catch {
            // not JSON: keep the raw text
          }
          reject(new SystemError(`netavark ${command}: ${message}`));
          return;
        }
        if (stderr) logger.debug(`netavark ${command}: ${stderr}`);
        try {
          resolve(stdout ? JSON.parse(stdout) : {});
        } catch {
          resolve({});
        }
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(JSON.stringify(req));
    });
  }
}
