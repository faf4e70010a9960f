// Container rlimits: Docker's --ulimit names and checks, merged over the daemon's defaults and
// clamped to the daemon's own hard limits.
import { readFileSync } from 'node:fs';
import type { Ulimit } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import type { Rlimit, RlimitType, SpecOpt } from './runtime-spec.js';

/** RLIM_INFINITY, which a JS number cannot hold; specToJSON writes it exactly. */
export const RLIM_INFINITY = 2n ** 64n - 1n;

const RLIMIT_NAMES: Record<string, RlimitType> = {
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

const PROC_LIMIT_ROWS: Record<string, RlimitType> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** The daemon's own hard limits (from /proc/self/limits); RLIM_INFINITY for "unlimited". */
export function daemonHardLimits(limitsText?: string): Map<RlimitType, bigint> {
  const out = new Map<RlimitType, bigint>();
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return out;
    }
  }
  for (const line of text.split('\n')) {
    for (const [label, type] of Object.entries(PROC_LIMIT_ROWS)) {
      if (!line.startsWith(label + ' ')) continue;
      const fields = line.slice(label.length).trim().split(/\s+/);
      const hard = fields[1];
      if (hard === 'unlimited') out.set(type, RLIM_INFINITY);
      else if (hard && /^\d+$/.test(hard)) out.set(type, BigInt(hard));
    }
  }
  return out;
}

export function validateUlimit(u: Ulimit): RlimitType {
  const type = u.Name !== undefined && Object.prototype.hasOwnProperty.call(RLIMIT_NAMES, u.Name) ? RLIMIT_NAMES[u.Name] : undefined;
  if (!type) throw new InvalidParameterError(`invalid ulimit type: ${u.Name}`);
  for (const v of [u.Soft, u.Hard]) {
    if (v === undefined || !Number.isSafeInteger(v) || v < -1) throw new InvalidParameterError(`invalid ulimit argument: ${u.Name}=${u.Soft}:${u.Hard}`);
  }
  if (u.Hard !== -1) {
    if (u.Soft === -1) {
      throw new InvalidParameterError(
        `ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${u.Hard}`,
      );
    }
    if (u.Soft! > u.Hard!) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
  return type;
}

/**
 * HostConfig.Ulimits merged over the daemon defaults, as OCI rlimits, each clamped to the
 * daemon's own hard limit (an unprivileged daemon cannot raise it, and neither can the runtime).
 */
export function buildRlimits(
  ulimits: readonly Ulimit[] | null | undefined,
  defaults: readonly Ulimit[] = [],
  hardLimits: ReadonlyMap<RlimitType, bigint> = daemonHardLimits(),
): Rlimit[] {
  const merged = [...(ulimits ?? [])];
  for (const d of defaults) if (!merged.some((u) => u.Name === d.Name)) merged.push(d);
  const out: Rlimit[] = [];
  const seen = new Set<RlimitType>();
  for (const u of merged) {
    const type = validateUlimit(u);
    if (seen.has(type)) continue; // first one wins, as the kernel would apply the last: keep it deterministic
    seen.add(type);
    const cap = hardLimits.get(type) ?? RLIM_INFINITY;
    const toBig = (v: number): bigint => (v === -1 ? RLIM_INFINITY : BigInt(v));
    // validateUlimit has checked both are integers.
    const hard = toBig(u.Hard!) < cap ? toBig(u.Hard!) : cap;
    let soft = toBig(u.Soft!) < cap ? toBig(u.Soft!) : cap;
    if (soft > hard) soft = hard;
    const num = (v: bigint): number | bigint => (v === RLIM_INFINITY ? RLIM_INFINITY : Number(v));
    out.push({ type, soft: num(soft), hard: num(hard) });
  }
  return out;
}

/** --ulimit over the daemon's --default-ulimit, clamped to the daemon's hard limits. */
export function withRlimits(ulimits: readonly Ulimit[] | null | undefined, defaults: readonly Ulimit[], hardLimits: ReadonlyMap<RlimitType, bigint>): SpecOpt {
  return (spec) => {
    const rlimits = buildRlimits(ulimits, defaults, hardLimits);
    if (rlimits.length) spec.process!.rlimits = rlimits;
    else delete spec.process!.rlimits;
  };
}
