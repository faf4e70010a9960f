// Contents of the per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, written the way
// Docker's libnetwork writes them (etchosts, internal/resolvconf, sandbox_dns_unix.go).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InvalidParameterError, SystemError } from '../errors.js';

// ---- /etc/hostname ----

export function hostnameFileContent(hostname: string): string {
  return hostname + '\n';
}

// ---- IP helpers ----

/** Canonical text of an IP (Go netip style: lower-case, compressed IPv6, v4-mapped unmapped). */
export function canonicalIP(ip: string): string | undefined {
  const s = ip.trim();
  const fam = isIP(s);
  if (fam === 4) return s.split('.').map((o) => String(Number(o))).join('.');
  if (fam !== 6) return undefined;
  // Expand into 8 groups
  let head = s;
  let tail4: number[] | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail4 = s.slice(lastColon + 1).split('.').map(Number);
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const [l, r] = head.includes('::') ? head.split('::') : [head, undefined];
  const left = l ? l.split(':') : [];
  const right = r !== undefined && r !== '' ? r.split(':') : [];
  const fill = r === undefined ? [] : new Array(8 - left.length - right.length).fill('0');
  const groups = [...left, ...fill, ...right].map((g) => parseInt(g, 16));
  if (tail4) {
    groups[6] = (tail4[0]! << 8) | tail4[1]!;
    groups[7] = (tail4[2]! << 8) | tail4[3]!;
  }
  // v4-mapped → IPv4 (netip Unmap)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  // longest run of zeros (length >= 2) → "::"
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || (isIP(ip) === 4 && ip.startsWith('127.'));
}

// ---- /etc/hosts ----

export const HOST_GATEWAY_NAME = 'host-gateway';

export interface HostsRecord {
  ip: string;
  hosts: string;
}

/** Parses HostConfig.ExtraHosts ("name:ip", IPv6 allowed since only the first ':' splits). */
export function parseExtraHosts(extraHosts: readonly string[], hostGatewayIPs: readonly string[] = []): HostsRecord[] {
  const out: HostsRecord[] = [];
  for (const entry of extraHosts) {
    const idx = entry.indexOf(':');
    const name = idx < 0 ? entry : entry.slice(0, idx);
    if (idx < 0 || name === '') throw new InvalidParameterError(`bad format for add-host: "${entry}"`);
    const ip = entry.slice(idx + 1);
    if (ip === HOST_GATEWAY_NAME) {
      if (hostGatewayIPs.length === 0) throw new InvalidParameterError('unable to derive the IP value for host-gateway');
      for (const g of hostGatewayIPs) {
        const c = canonicalIP(g);
        if (!c) throw new InvalidParameterError(`invalid IP address in add-host: "${g}"`);
        out.push({ ip: c, hosts: name });
      }
      continue;
    }
    const c = canonicalIP(ip);
    if (!c) throw new InvalidParameterError(`invalid IP address in add-host: "${ip}"`);
    out.push({ ip: c, hosts: name });
  }
  return out;
}

export interface HostsOptions {
  hostname: string;
  domainname?: string;
  /** The container's own addresses, when it has any beyond loopback. */
  ips?: readonly string[];
  extraHosts?: readonly string[] | null;
  /** Replacement for the "host-gateway" keyword in ExtraHosts. */
  hostGatewayIPs?: readonly string[];
  /** Whether the container has IPv6 (default true): without it, IPv6 lines are left out. */
  ipv6?: boolean;
  /** 'host' copies the host's hosts file, as Docker does when there are no ExtraHosts. */
  networkMode?: string;
  /** Host file to copy for network mode host (default /etc/hosts). */
  hostHostsPath?: string;
}

const DEFAULT_HOSTS_V4: HostsRecord[] = [{ ip: '127.0.0.1', hosts: 'localhost' }];
const DEFAULT_HOSTS_V6: HostsRecord[] = [
  { ip: '::1', hosts: 'localhost ip6-localhost ip6-loopback' },
  { ip: 'fe00::', hosts: 'ip6-localnet' },
  { ip: 'ff00::', hosts: 'ip6-mcastprefix' },
  { ip: 'ff02::1', hosts: 'ip6-allnodes' },
  { ip: 'ff02::2', hosts: 'ip6-allrouters' },
];

/** The names a container's own addresses get in /etc/hosts: "web.example.com web", or "web". */
export function ownHostNames(hostname: string, domainname?: string): string {
  let names = hostname;
  if (domainname) names += '.' + domainname;
  const dot = names.indexOf('.');
  if (dot >= 0) names += ' ' + names.slice(0, dot);
  return names;
}

/**
 * /etc/hosts after a running container joined or left networks, as libnetwork edits it: a line
 * for each new address is appended, the line of each address it lost is removed, every other line
 * (the user's edits included) is kept. (dockerd 20.10, measured, removes on a disconnect every
 * line of the hostname, the remaining networks' addresses too: Berth removes only the lost one's.)
 */
export function editHostsFile(content: string, names: string, added: readonly string[], removed: readonly string[]): string {
  const gone = new Set(removed.map((ip) => `${canonicalIP(ip) ?? ip}\t${names}`));
  const lines = content.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const kept = lines.filter((l) => !gone.has(l));
  for (const ip of added) {
    const line = `${canonicalIP(ip) ?? ip}\t${names}`;
    if (!kept.includes(line)) kept.push(line);
  }
  return kept.map((l) => l + '\n').join('');
}

export function hostsFileContent(opts: HostsOptions): string {
  const extra = parseExtraHosts(opts.extraHosts ?? [], opts.hostGatewayIPs);
  if (opts.networkMode === 'host' && extra.length === 0) {
    try {
      return readFileSync(opts.hostHostsPath ?? '/etc/hosts', 'utf8');
    } catch {
      return '';
    }
  }
  const names = ownHostNames(opts.hostname, opts.domainname);
  const own: HostsRecord[] = [];
  for (const ip of opts.ips ?? []) {
    const c = canonicalIP(ip);
    if (!c) throw new InvalidParameterError(`invalid IP address: "${ip}"`);
    own.push({ ip: c, hosts: names });
  }
  const ipv6 = opts.ipv6 ?? true;
  const records = [...DEFAULT_HOSTS_V4, ...(ipv6 ? DEFAULT_HOSTS_V6 : []), ...extra, ...own].filter(
    (r) => ipv6 || isIP(r.ip) === 4,
  );
  return records.map((r) => `${r.ip}\t${r.hosts}\n`).join('');
}

// ---- /etc/resolv.conf ----

export const DEFAULT_IPV4_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];
export const DEFAULT_IPV6_NAMESERVERS = ['2001:4860:4860::8888', '2001:4860:4860::8844'];

const RESOLV_HEADER = `# Generated by Docker Engine.
# This file can be edited; Docker Engine will not make further changes once it
# has been modified.`;

export interface ParsedResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
  other: string[];
  invalid: string[];
}

export function parseResolvConf(text: string): ParsedResolvConf {
  const rc: ParsedResolvConf = { nameservers: [], search: [], options: [], other: [], invalid: [] };
  for (const line of text.split('\n')) {
    if (line === '' || line[0] === '#' || line[0] === ';') continue;
    const f = line.split(/\s+/).filter(Boolean);
    if (f.length === 0) continue;
    switch (f[0]) {
      case 'nameserver': {
        if (f.length < 2) break;
        const c = canonicalIP(f[1]!.includes('%') ? '' : f[1]!);
        if (c) rc.nameservers.push(c);
        else rc.invalid.push(f[1]!);
        break;
      }
      case 'domain':
      case 'search':
        if (f.length >= 2) rc.search = f.slice(1);
        break;
      case 'options':
        if (f.length >= 2) rc.options.push(...f.slice(1));
        break;
      default:
        rc.other.push(line);
    }
  }
  return rc;
}

/** The host file Docker starts from: systemd-resolved's upstream list when /etc/resolv.conf only points at 127.0.0.53. */
export function hostResolvConfPath(defaultPath = '/etc/resolv.conf'): string {
  try {
    const rc = parseResolvConf(readFileSync(defaultPath, 'utf8'));
    if (rc.nameservers.length === 1 && rc.nameservers[0] === '127.0.0.53') return '/run/systemd/resolve/resolv.conf';
  } catch {
    // fall through
  }
  return defaultPath;
}

export interface ResolvConfOptions {
  /** HostConfig.NetworkMode. 'host' and 'none' keep the host's nameservers; others get Docker's legacy-bridge treatment. */
  networkMode?: string;
  dns?: readonly string[] | null;
  dnsSearch?: readonly string[] | null;
  dnsOptions?: readonly string[] | null;
  /** Whether the container has IPv6 (default false, like Docker's default bridge). */
  ipv6?: boolean;
  /** Host resolv.conf to start from (default: as Docker picks it). */
  hostPath?: string;
  /** Its content, instead of reading hostPath (tests). */
  hostContent?: string;
}

/**
 * Docker's container resolv.conf: the host file with HostConfig.Dns/DnsSearch/DnsOptions
 * overrides; unless the container shares the host network (or has none), loopback nameservers
 * (unreachable from a separate network namespace) are dropped and, if none remain, Google's
 * public resolvers are written instead. Nothing here contacts any of them.
 */
export function resolvConfContent(opts: ResolvConfOptions = {}): string {
  const sourcePath = opts.hostPath ?? hostResolvConfPath();
  let text = opts.hostContent;
  if (text === undefined) {
    try {
      text = readFileSync(sourcePath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SystemError(`failed to read ${sourcePath}: ${(e as Error).message}`);
      }
      text = '';
    }
  }
  const rc = parseResolvConf(text);
  const overrides: string[] = [];
  let ndotsFrom = rc.options.some((o) => o.split(':')[0] === 'ndots') ? 'host' : '';
  let nsOverride = false;
  if (opts.dns && opts.dns.length > 0) {
    rc.nameservers = opts.dns.map((d) => {
      const c = canonicalIP(d);
      if (!c) throw new InvalidParameterError(`${d} is not an ip address`);
      return c;
    });
    nsOverride = true;
    overrides.push('nameservers');
  }
  if (opts.dnsSearch && opts.dnsSearch.length > 0) {
    rc.search = opts.dnsSearch.filter((s) => s !== '.');
    overrides.push('search');
  }
  if (opts.dnsOptions && opts.dnsOptions.length > 0) {
    rc.options = [...opts.dnsOptions];
    ndotsFrom = rc.options.some((o) => o.split(':')[0] === 'ndots') ? 'override' : '';
    overrides.push('options');
  }

  const mode = opts.networkMode ?? 'default';
  const legacy = mode !== 'host' && mode !== 'none';
  const warnings: string[] = [];
  if (legacy && !nsOverride) {
    const ipv6 = opts.ipv6 ?? false;
    rc.nameservers = rc.nameservers.filter((ns) => !isLoopback(ns) && (ipv6 || isIP(ns) === 4));
    if (rc.nameservers.length === 0) {
      rc.nameservers = [...DEFAULT_IPV4_NAMESERVERS, ...(ipv6 ? DEFAULT_IPV6_NAMESERVERS : [])];
      warnings.push('Used default nameservers.');
    }
  }

  let out = RESOLV_HEADER + '\n\n';
  for (const ns of rc.nameservers) out += `nameserver ${ns}\n`;
  if (rc.search.length) out += `search ${rc.search.join(' ')}\n`;
  if (rc.options.length) out += `options ${rc.options.join(' ')}\n`;
  for (const o of rc.other) out += o + '\n';
  out += `\n# Based on host file: '${sourcePath}'${legacy ? ' (legacy)' : ''}\n`;
  for (const w of warnings) out += `# ${w}\n`;
  if (rc.invalid.length) out += `# Invalid nameservers: [${rc.invalid.join(' ')}]\n`;
  out += `# Overrides: [${overrides.join(' ')}]\n`;
  if (ndotsFrom) out += `# Option ndots from: ${ndotsFrom}\n`;
  return out;
}

// ---- all three ----

export interface EtcFilesInput {
  hostname: string;
  domainname?: string;
  networkMode?: string;
  ips?: readonly string[];
  extraHosts?: readonly string[] | null;
  hostGatewayIPs?: readonly string[];
  dns?: readonly string[] | null;
  dnsSearch?: readonly string[] | null;
  dnsOptions?: readonly string[] | null;
  ipv6?: boolean;
}

/** The three files' contents; the engine writes them and passes their paths to buildSpec. */
export function etcFilesContent(input: EtcFilesInput): { hostname: string; hosts: string; resolvConf: string } {
  return {
    hostname: hostnameFileContent(input.hostname),
    hosts: hostsFileContent({
      hostname: input.hostname,
      domainname: input.domainname,
      ips: input.ips,
      extraHosts: input.extraHosts,
      hostGatewayIPs: input.hostGatewayIPs,
      ipv6: input.ipv6,
      networkMode: input.networkMode,
    }),
    resolvConf: resolvConfContent({
      networkMode: input.networkMode,
      dns: input.dns,
      dnsSearch: input.dnsSearch,
      dnsOptions: input.dnsOptions,
      ipv6: input.ipv6,
    }),
  };
}
