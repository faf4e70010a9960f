// Berth's own IPv4 address management: subnets as numbers, overlap checks against each other and
// against the host's routes, and the next free address of a subnet (netavark is always handed
// static addresses, so the bookkeeping is ours and survives daemon restarts through the records).
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { InvalidParameterError } from '../errors.js';

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function ipToNumber(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.2.0/24" → Subnet; host bits must be zero unless `loose` (then they are cleared, as for --bip). */
export function parseSubnet(cidr: string, loose = false): Subnet | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) return undefined;
  const ip = ipToNumber(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const base = (ip & mask(prefix)) >>> 0;
  if (!loose && base !== ip) return undefined;
  return { base, prefix };
}

export function formatSubnet(s: Subnet): string {
  return `${numberToIp(s.base)}/${s.prefix}`;
}

export function size(s: Subnet): number {
  return 2 ** (32 - s.prefix);
}

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.prefix)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The first usable address (Docker's default gateway). */
export function firstHost(s: Subnet): string {
  return numberToIp(s.base + 1);
}

/**
 * The lowest address in `range` (default: the whole subnet) that is neither the network nor the
 * broadcast address nor in `taken`.
 */
export function nextFree(s: Subnet, taken: ReadonlySet<string>, range: Subnet = s): string | undefined {
  const first = Math.max(range.base, s.base + 1);
  const last = Math.min(range.base + size(range) - 1, s.base + size(s) - 2);
  for (let n = first; n <= last; n++) {
    const ip = numberToIp(n);
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}

/**
 * The highest address of `s` (neither network nor broadcast) not in `taken`, outside `avoid` (an
 * --ip-range, where containers get their addresses) if any such is left, else inside it.
 */
export function lastFree(s: Subnet, taken: ReadonlySet<string>, avoid?: Subnet): string | undefined {
  let inside: string | undefined;
  for (let n = s.base + size(s) - 2; n > s.base; n--) {
    const ip = numberToIp(n);
    if (taken.has(ip)) continue;
    if (!avoid || !contains(avoid, n)) return ip;
    inside ??= ip;
  }
  return inside;
}

/** Subnets the host already routes (main table) or has addresses in: a new bridge must not overlap them. */
export function hostSubnets(): Subnet[] {
  const out: Subnet[] = [];
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) continue;
      const dest = parseInt(f[1]!, 16);
      const m = parseInt(f[7]!, 16);
      if (m === 0) continue; // the default route overlaps everything; it is not a claim on a subnet
      // /proc/net/route is little-endian.
      const swap = (x: number): number => (((x & 255) << 24) | ((x >>> 8) & 255) << 16 | ((x >>> 16) & 255) << 8 | (x >>> 24)) >>> 0;
      const maskNum = swap(m);
      const prefix = 32 - Math.log2((~maskNum >>> 0) + 1);
      if (Number.isInteger(prefix)) out.push({ base: swap(dest), prefix });
    }
  } catch {
    // no procfs route table: fall back on interface addresses alone
  }
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const s = parseSubnet(a.cidr ?? '', true);
      if (s) out.push(s);
    }
  }
  return out;
}

/** Docker's default address pools for networks created without --subnet (local scope). */
export const DEFAULT_POOLS: { base: Subnet; size: number }[] = [
  { base: { base: ipToNumber('172.17.0.0')!, prefix: 12 }, size: 16 },
  { base: { base: ipToNumber('192.168.0.0')!, prefix: 16 }, size: 20 },
];

/** "base=10.10.0.0/16,size=24" (dockerd's --default-address-pool). */
export function parseAddressPool(spec: string): { base: Subnet; size: number } {
  const fields = Object.fromEntries(spec.split(',').map((kv) => kv.split('=') as [string, string]));
  const base = parseSubnet(fields['base'] ?? '', false);
  const sz = Number(fields['size']);
  if (!base || !Number.isInteger(sz) || sz < base.prefix || sz > 30) throw new InvalidParameterError(`invalid default address pool: ${spec}`);
  return { base, size: sz };
}

/** The first subnet of the pools that overlaps none of `inUse`. */
export function pickSubnet(pools: readonly { base: Subnet; size: number }[], inUse: readonly Subnet[]): Subnet | undefined {
  for (const pool of pools) {
    const step = 2 ** (32 - pool.size);
    const count = 2 ** (pool.size - pool.base.prefix);
    for (let i = 0; i < count; i++) {
      const candidate = { base: pool.base.base + i * step, prefix: pool.size };
      if (!inUse.some((u) => overlaps(u, candidate))) return candidate;
    }
  }
  return undefined;
}
