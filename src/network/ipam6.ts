// IPv6 address management for dual-stack bridge networks (`network create --ipv6 --subnet fd…/64`):
// subnets as 128-bit numbers, overlap checks against each other and the host's IPv6 routes, and
// free addresses — the IPv4 bookkeeping of ipam.ts, for the other family. Berth takes unique local
// subnets only (fc00::/7): a bridge's IPv6 stays on this host's own networks.
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface Subnet6 {
  base: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;

function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/** An IPv6 address as a number (IPv4-mapped and zone forms are not addresses here). */
export function ip6ToBigInt(ip: string): bigint | undefined {
  if (!isIPv6(ip) || ip.includes('.') || ip.includes('%')) return undefined;
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The canonical text (RFC 5952: lower case, the longest run of zero groups as "::"). */
export function bigIntToIp6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The canonical text of an IPv6 address, or undefined when it is none. */
export function canonicalIp6(ip: string): string | undefined {
  const n = ip6ToBigInt(ip);
  return n === undefined ? undefined : bigIntToIp6(n);
}

/** "fd00:1::/64" → Subnet6; host bits must be zero unless `loose`. */
export function parseSubnet6(cidr: string, loose = false): Subnet6 | undefined {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return undefined;
  const ip = ip6ToBigInt(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 128) return undefined;
  const base = ip & mask6(prefix);
  if (!loose && base !== ip) return undefined;
  return { base, prefix };
}

export function formatSubnet6(s: Subnet6): string {
  return `${bigIntToIp6(s.base)}/${s.prefix}`;
}

export function contains6(s: Subnet6, ip: bigint): boolean {
  return (ip & mask6(s.prefix)) === s.base;
}

export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  const m = mask6(Math.min(a.prefix, b.prefix));
  return (a.base & m) === (b.base & m);
}

/** Unique local addresses (fc00::/7), the only IPv6 subnets Berth puts on a bridge. */
export const ULA: Subnet6 = { base: 0xfcn << 120n, prefix: 7 };

function lastOf(s: Subnet6): bigint {
  return s.base | (~mask6(s.prefix) & ALL);
}

/** The first address after the subnet's own (Docker's default IPv6 gateway: <subnet>::1). */
export function firstHost6(s: Subnet6): string {
  return bigIntToIp6(s.base + 1n);
}

/** The lowest address of `range` (default the subnet) after the subnet's own that is not in `taken`. */
export function nextFree6(s: Subnet6, taken: ReadonlySet<string>, range: Subnet6 = s): string | undefined {
  const first = range.base > s.base ? range.base : s.base + 1n;
  const last = lastOf(range) < lastOf(s) ? lastOf(range) : lastOf(s);
  // A /64 has 2^64 addresses: only as many candidates as there are taken ones can be skipped.
  for (let n = first, tries = 0; n <= last && tries <= taken.size; n++, tries++) {
    const ip = bigIntToIp6(n);
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}

/** The highest address of `s` not in `taken`, outside `avoid` (an --ip-range) when one is left there. */
export function lastFree6(s: Subnet6, taken: ReadonlySet<string>, avoid?: Subnet6): string | undefined {
  let inside: string | undefined;
  for (let n = lastOf(s), tries = 0; n > s.base && tries <= taken.size + 1; n--) {
    const ip = bigIntToIp6(n);
    if (taken.has(ip)) {
      tries++;
      continue;
    }
    if (!avoid || !contains6(avoid, n)) return ip;
    inside ??= ip;
    if (avoid) n = avoid.base; // skip the rest of the range
  }
  return inside;
}

/** IPv6 subnets the host routes (main table, /proc/net/ipv6_route) or has addresses in. */
export function hostSubnets6(): Subnet6[] {
  const out: Subnet6[] = [];
  try {
    for (const line of readFileSync('/proc/net/ipv6_route', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const prefix = parseInt(f[1]!, 16);
      if (prefix === 0 || prefix === 128) continue; // the default route; single host routes (local addresses)
      const base = BigInt(`0x${f[0]}`);
      if ((base >> 118n) === 0x3fan) continue; // fe80::/10, on every interface
      out.push({ base, prefix });
    }
  } catch {
    // no IPv6 routes to read: interface addresses alone
  }
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv6' || a.internal || a.scopeid) continue;
      const s = parseSubnet6(a.cidr ?? '', true);
      if (s) out.push(s);
    }
  }
  return out;
}
