// Builds a container's OCI runtime spec from Docker's container/host config, with Docker's
// defaults and rules (moby daemon/oci_linux.go createSpec and the create-time validation in
// daemon/daemon_unix.go), for crun/runc.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { posix } from 'node:path';
import type { HostConfig, Mount as ApiMount, Ulimit } from '../types/api.js';
import { InvalidParameterError, NotImplementedError, SystemError } from '../errors.js';
import {
  CONTAINER_INIT_PATH,
  DEFAULT_CAPABILITIES,
  DEFAULT_SHM_SIZE,
  KNOWN_CAPABILITIES,
  daemonCapabilities,
  defaultDeviceCgroupRules,
  defaultMaskedPaths,
  defaultMounts,
  defaultReadonlyPaths,
} from './defaults.js';
import type {
  LinuxDevice,
  LinuxDeviceCgroup,
  LinuxNamespace,
  LinuxNamespaceType,
  LinuxResources,
  Mount,
  Process,
  Rlimit,
  RlimitType,
  Seccomp,
  Spec,
} from './runtime-spec.js';
import { OCI_VERSION } from './runtime-spec.js';
import { convertSeccompProfile, defaultSeccomp, parseSeccompProfile } from './seccomp.js';
import { parseSignal } from './signals.js';
import type { ResolvedUser } from './user.js';

export interface SpecInput {
  id: string;
  /** The mounted union rootfs (absolute path). */
  rootfs: string;
  /** Resolved entrypoint + cmd. */
  args: string[];
  /** Merged env (the engine adds HOSTNAME and the default PATH). */
  env: string[];
  user: ResolvedUser;
  cwd: string;
  tty: boolean;
  openStdin: boolean;
  hostname: string;
  domainname?: string;
  /** Docker's HostConfig as the client sent it. */
  hostConfig: HostConfig;
  /** Host paths bind-mounted at /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  /** Given by the runtime layer. */
  cgroupsPath: string;
  /** For --init: a static init bind-mounted read-only at /sbin/docker-init. */
  initPath?: string;
  stopSignal?: string;
  // ---- optional, beyond the first contract ----
  /** The daemon's --default-ulimit values, merged under HostConfig.Ulimits like Docker. */
  defaultUlimits?: Ulimit[];
  /** Namespaces to join for container:<id> modes, e.g. { network: '/proc/123/ns/net' }. */
  namespacePaths?: Partial<Record<'network' | 'ipc' | 'pid' | 'uts', string>>;
  /** Host directories of named volumes referenced by Binds / Mounts of type volume. */
  volumePaths?: Record<string, string>;
  /** Docker-format seccomp profile used by default (default: /usr/share/containers/seccomp.json). */
  seccompProfilePath?: string;
}

// ---------------------------------------------------------------------------------------------
// host facts (cached)

let cgroupV2: boolean | undefined;
/** True on a pure cgroup v2 host (/sys/fs/cgroup is cgroup2fs). Hybrid and v1 hosts are "v1". */
export function isCgroupV2(): boolean {
  if (cgroupV2 === undefined) {
    try {
      cgroupV2 = statfsSync('/sys/fs/cgroup').type === 0x63677270;
    } catch {
      cgroupV2 = false;
    }
  }
  return cgroupV2;
}

let swapLimitSupported: boolean | undefined;
function swapLimit(): boolean {
  if (swapLimitSupported === undefined) {
    if (isCgroupV2()) {
      let own = '/';
      try {
        const m = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'));
        if (m) own = m[1]!;
      } catch {
        // keep "/"
      }
      swapLimitSupported =
        existsSync(posix.join('/sys/fs/cgroup', own, 'memory.swap.max')) ||
        (() => {
          try {
            return readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').split(/\s+/).includes('memory') &&
              existsSync('/proc/swaps');
          } catch {
            return false;
          }
        })();
    } else {
      swapLimitSupported = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
    }
  }
  return swapLimitSupported;
}

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

// ---------------------------------------------------------------------------------------------
// validation (Docker's create-time checks)

const MIN_MEMORY = 6 * 1024 * 1024;
const VALID_IPC = /^(|host|private|shareable|none|container:.+)$/;
const VALID_PID = /^(|host|private|container:.+)$/;
const VALID_UTS = /^(|host|private)$/;

function parseCpuList(v: string): number[] | undefined {
  if (v === '') return [];
  const out: number[] = [];
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/**
 * Docker's create-time HostConfig checks (daemon/daemon_unix.go verifyPlatformContainerSettings
 * and friends), with its messages. Throws InvalidParameterError; returns the warnings Docker
 * would return (e.g. a discarded swap limit).
 */
export function validateHostConfig(hc: HostConfig): string[] {
  const warnings: string[] = [];
  const fail = (msg: string): never => {
    throw new InvalidParameterError(msg);
  };
  if (!VALID_IPC.test(hc.IpcMode ?? '')) fail(`invalid IPC mode: ${hc.IpcMode}`);
  if (!VALID_PID.test(hc.PidMode ?? '')) fail(`invalid PID mode: ${hc.PidMode}`);
  if (!VALID_UTS.test(hc.UTSMode ?? '')) fail(`invalid UTS mode: ${hc.UTSMode}`);
  if (hc.CgroupnsMode !== undefined && !['', 'private', 'host'].includes(hc.CgroupnsMode)) {
    fail(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);
  }
  if ((hc.ShmSize ?? 0) < 0) fail('SHM size can not be less than 0');
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) fail(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);

  const mem = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) fail('Minimum memory limit allowed is 6MB');
  if (mem > 0 && swap > 0 && swap < mem) fail('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0) fail('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swap > 0 && !swapLimit()) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
  }
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    fail(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const resv = hc.MemoryReservation ?? 0;
  if (resv !== 0 && resv < MIN_MEMORY) fail('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && resv > 0 && mem < resv) fail('Minimum memory limit can not be less than memory reservation limit, see usage');

  const nano = hc.NanoCpus ?? 0;
  if (nano > 0 && (hc.CpuPeriod ?? 0) > 0) fail('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (hc.CpuQuota ?? 0) > 0) fail('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  const ncpu = availableParallelism();
  if (nano < 0 || nano > ncpu * 1e9) {
    fail(`range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  }
  if ((hc.CpuShares ?? 0) < 0) fail(`invalid CPU shares (${hc.CpuShares}): value must be a positive integer`);
  const period = hc.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    fail('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = hc.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) fail('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (hc.CpusetCpus) {
    const list = parseCpuList(hc.CpusetCpus);
    if (!list) fail(`Invalid value ${hc.CpusetCpus} for cpuset cpus`);
    const n = cpus().length;
    if (list!.some((c) => c >= n)) {
      fail(`Requested CPUs are not available - requested ${hc.CpusetCpus}, available: ${n === 1 ? '0' : `0-${n - 1}`}`);
    }
  }
  if (hc.CpusetMems && !parseCpuList(hc.CpusetMems)) fail(`Invalid value ${hc.CpusetMems} for cpuset mems`);
  const bw = hc.BlkioWeight ?? 0;
  if (bw !== 0 && (bw < 10 || bw > 1000)) fail('Range of blkio weight is from 10 to 1000');
  for (const rule of hc.DeviceCgroupRules ?? []) parseDeviceCgroupRule(rule);
  for (const u of hc.Ulimits ?? []) validateUlimit(u);
  parseSecurityOpts(hc.SecurityOpt);
  if (!hc.Privileged) normalizeCapabilities([...(hc.CapAdd ?? []), ...(hc.CapDrop ?? [])]);
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// security options

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined: the default profile; 'unconfined'; or the JSON text of a custom profile. */
  seccomp?: string;
  apparmor?: string;
  writableCgroups?: boolean;
  labels: string[];
}

function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** HostConfig.SecurityOpt as dockerd parses it, with its error messages. */
export function parseSecurityOpts(opts: readonly string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, labels: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'writable-cgroups') {
      out.writableCgroups = true;
      continue;
    }
    if (opt === 'disable') {
      out.labels.push('disable');
      continue;
    }
    let sep = -1;
    if (opt.includes('=')) sep = opt.indexOf('=');
    else if (opt.includes(':')) sep = opt.indexOf(':');
    if (sep < 0) throw new InvalidParameterError(`invalid --security-opt 1: "${opt}"`);
    const k = opt.slice(0, sep);
    const v = opt.slice(sep + 1);
    switch (k) {
      case 'label':
        out.labels.push(v);
        break;
      case 'apparmor':
        out.apparmor = v;
        break;
      case 'seccomp':
        out.seccomp = v;
        break;
      case 'no-new-privileges': {
        const b = parseBool(v);
        if (b === undefined) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = b;
        break;
      }
      case 'writable-cgroups': {
        const b = parseBool(v);
        if (b === undefined) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        out.writableCgroups = b;
        break;
      }
      default:
        throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// capabilities

/** Upper-cases, adds CAP_, and checks names against the kernel's and the daemon's sets. "ALL" stays. */
export function normalizeCapabilities(caps: readonly string[], available: readonly string[] = daemonCapabilities()): string[] {
  const out: string[] = [];
  for (const raw of caps) {
    let c = raw.toUpperCase();
    if (c === 'ALL') {
      out.push(c);
      continue;
    }
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!KNOWN_CAPABILITIES.includes(c)) throw new InvalidParameterError(`unknown capability: "${c}"`);
    if (!available.includes(c)) {
      throw new InvalidParameterError(
        `capability not supported by your kernel or not available in the current environment: "${c}"`,
      );
    }
    out.push(c);
  }
  return out;
}

/** Docker's TweakCapabilities: the effective capability list for CapAdd/CapDrop/Privileged. */
export function tweakCapabilities(
  adds: readonly string[] | null | undefined,
  drops: readonly string[] | null | undefined,
  privileged: boolean,
  available: readonly string[] = daemonCapabilities(),
): string[] {
  if (privileged) return [...available];
  if (!adds?.length && !drops?.length) return [...DEFAULT_CAPABILITIES];
  const capDrop = normalizeCapabilities(drops ?? [], available);
  const capAdd = normalizeCapabilities(adds ?? [], available);
  let caps: string[];
  if (capAdd.includes('ALL')) {
    caps = available.filter((c) => !capDrop.includes(c));
  } else if (capDrop.includes('ALL')) {
    caps = [...capAdd];
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !capDrop.includes(c)), ...capAdd];
  }
  return [...new Set(caps)];
}

// ---------------------------------------------------------------------------------------------
// rlimits

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
  hardLimits: Map<RlimitType, bigint> = daemonHardLimits(),
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

/**
 * JSON for config.json. Identical to JSON.stringify except that RLIM_INFINITY (a bigint, which
 * only rlimits can carry) is written as the exact unsigned 64-bit number runtimes expect.
 */
export function specToJSON(spec: Spec, space?: number): string {
  return JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'bigint' ? `__BIGINT_${v.toString()}__` : v), space).replace(
    /"__BIGINT_(\d+)__"/g,
    '$1',
  );
}

// ---------------------------------------------------------------------------------------------
// mounts

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated', 'default']);

interface UserMount {
  destination: string;
  type: 'bind' | 'tmpfs';
  source: string;
  readOnly: boolean;
  propagation?: string;
  nonRecursive?: boolean;
  /** tmpfs data options */
  data?: string;
  /** create the (directory) source if missing, as Docker does for -v binds */
  create?: boolean;
  /** a file the engine made (etc files, /dev/shm): not checked here */
  trusted?: boolean;
}

function cleanDest(p: string): string {
  return posix.normalize(p.replace(/\\/g, '/')).replace(/(.)\/+$/, '$1');
}

function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  let rw = 0;
  let label = 0;
  let prop = 0;
  let copy = 0;
  let cons = 0;
  for (const o of mode.split(',')) {
    if (o === 'rw' || o === 'ro') rw++;
    else if (o === 'z' || o === 'Z') label++;
    else if (PROPAGATIONS.has(o)) prop++;
    else if (o === 'nocopy') copy++;
    else if (CONSISTENCY.has(o)) cons++;
    else return false;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && cons <= 1;
}

/** One HostConfig.Binds entry ("src:dst[:mode]"), as Docker's Linux parser reads it. */
export function parseBind(raw: string, volumePaths: Record<string, string> = {}): UserMount {
  const invalid = (): never => {
    throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
  };
  const arr = raw.split(':');
  if (arr.length > 3 || arr[0] === '') invalid();
  let source = '';
  let target: string;
  let mode = '';
  if (arr.length === 1) {
    target = arr[0]!;
  } else if (arr.length === 2) {
    if (validMountMode(arr[1]!)) invalid();
    source = arr[0]!;
    target = arr[1]!;
  } else {
    source = arr[0]!;
    target = arr[1]!;
    mode = arr[2]!;
  }
  if (!validMountMode(mode)) throw new InvalidParameterError(`invalid mode: ${mode}`);
  const type = source.startsWith('/') ? 'bind' : 'volume';
  const wrap = (msg: string): never => {
    throw new InvalidParameterError(`invalid volume specification: '${raw}': invalid mount config for type "${type}": ${msg}`);
  };
  if (target === '') wrap('field Target must not be empty');
  if (cleanDest(target) === '/') wrap("invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) wrap(`invalid mount path: '${target}' mount path must be absolute`);
  const opts = mode.split(',');
  const readOnly = opts.includes('ro');
  const propagation = opts.find((o) => PROPAGATIONS.has(o));
  if (type === 'volume') {
    if (source === '') throw new NotImplementedError(`anonymous volumes are not supported yet: '${raw}'`);
    const host = volumePaths[source];
    if (!host) throw new NotImplementedError(`named volume "${source}" is not available (volumes are not supported yet)`);
    return { destination: cleanDest(target), type: 'bind', source: host, readOnly, propagation };
  }
  return {
    destination: cleanDest(target),
    type: 'bind',
    source: posix.normalize(source),
    readOnly,
    propagation: propagation ?? 'rprivate',
    create: true,
  };
}

function tmpfsSizeOption(size: number): string {
  for (const [suffix, div] of [
    ['g', 2 ** 30],
    ['m', 2 ** 20],
    ['k', 2 ** 10],
  ] as const) {
    if (size % div === 0) return `size=${size / div}${suffix}`;
  }
  return `size=${size}`;
}

/** One HostConfig.Mounts entry, validated like Docker's ValidateMountConfig. */
export function parseApiMount(m: ApiMount, volumePaths: Record<string, string> = {}): UserMount {
  // Typed on the name so that TypeScript narrows after a call (m.Target is set past its check).
  const fail: (msg: string) => never = (msg) => {
    throw new InvalidParameterError(`invalid mount config for type "${m.Type}": ${msg}`);
  };
  if (m.Type !== 'bind' && m.BindOptions) fail('field BindOptions must not be specified');
  if (m.Type !== 'volume' && m.VolumeOptions) fail('field VolumeOptions must not be specified');
  if (m.Type !== 'tmpfs' && m.TmpfsOptions) fail('field TmpfsOptions must not be specified');
  if (!m.Target) fail('field Target must not be empty');
  if (cleanDest(m.Target) === '/') fail("invalid specification: destination can't be '/'");
  if (!m.Target.startsWith('/')) fail(`invalid mount path: '${m.Target}' mount path must be absolute`);
  const destination = cleanDest(m.Target);
  switch (m.Type) {
    case 'bind': {
      if (!m.Source) fail('field Source must not be empty');
      const prop = m.BindOptions?.Propagation;
      if (prop && !PROPAGATIONS.has(prop)) fail(`invalid propagation mode: ${prop}`);
      if (!m.Source!.startsWith('/')) fail(`invalid mount path: '${m.Source}' mount path must be absolute`);
      if (!existsSync(m.Source!)) fail(`bind source path does not exist: ${m.Source}`);
      return {
        destination,
        type: 'bind',
        source: posix.normalize(m.Source!),
        readOnly: !!m.ReadOnly,
        propagation: prop || 'rprivate',
        nonRecursive: !!m.BindOptions?.NonRecursive,
      };
    }
    case 'tmpfs': {
      if (m.Source) fail('field Source must not be specified');
      const data: string[] = [];
      if (m.ReadOnly) data.push('ro');
      const mode = m.TmpfsOptions?.Mode;
      if (mode) data.push(`mode=${mode.toString(8)}`);
      const size = m.TmpfsOptions?.SizeBytes;
      if (size) {
        if (size < 0) fail('invalid tmpfs size');
        data.push(tmpfsSizeOption(size));
      }
      return { destination, type: 'tmpfs', source: 'tmpfs', readOnly: !!m.ReadOnly, data: data.join(',') };
    }
    case 'volume': {
      if (!m.Source) throw new NotImplementedError('anonymous volumes are not supported yet');
      const host = volumePaths[m.Source];
      if (!host) throw new NotImplementedError(`named volume "${m.Source}" is not available (volumes are not supported yet)`);
      return { destination, type: 'bind', source: host, readOnly: !!m.ReadOnly, propagation: 'rprivate' };
    }
    default:
      return fail('mount type unknown');
  }
}

// Mount option flags and their "key" for Docker's MergeTmpfsOptions de-duplication.
const FLAG_KEYS: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly',
  suid: 'nosuid', nosuid: 'nosuid',
  dev: 'nodev', nodev: 'nodev',
  exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync',
  dirsync: 'dirsync',
  remount: 'remount',
  mand: 'mand', nomand: 'mand',
  atime: 'noatime', noatime: 'noatime',
  diratime: 'nodiratime', nodiratime: 'nodiratime',
  bind: 'prop', rbind: 'prop', unbindable: 'prop', runbindable: 'prop',
  private: 'prop', rprivate: 'prop', shared: 'prop', rshared: 'prop', slave: 'prop', rslave: 'prop',
  relatime: 'relatime', norelatime: 'relatime',
  strictatime: 'strictatime', nostrictatime: 'strictatime',
};
const TMPFS_DATA_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** Docker's MergeTmpfsOptions: later options win; unknown data options are an error. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const flags = new Set<string>();
  const data = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults' || o === '') continue;
    const fk = FLAG_KEYS[o];
    if (fk) {
      if (!flags.has(fk)) {
        out.unshift(o);
        flags.add(fk);
      }
      continue;
    }
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 || !TMPFS_DATA_KEYS.has(key)) throw new InvalidParameterError(`invalid tmpfs option "${key}"`);
    if (!data.has(key)) {
      out.unshift(o);
      data.add(key);
    }
  }
  return out;
}

function depth(p: string): number {
  return (posix.normalize(p).match(/\//g) ?? []).length;
}

// ---------------------------------------------------------------------------------------------
// devices

function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

/** A device node's OCI description, or undefined if `path` is not a block/char device. */
export function deviceFromPath(path: string): LinuxDevice | undefined {
  const st = lstatSync(path, { bigint: true });
  let type: LinuxDevice['type'];
  if (st.isBlockDevice()) type = 'b';
  else if (st.isCharacterDevice()) type = 'c';
  else return undefined;
  return {
    path,
    type,
    major: devMajor(st.rdev),
    minor: devMinor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

const SKIP_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under the host's /dev, as Docker gives a --privileged container. */
export function hostDevices(dir = '/dev'): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = posix.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DEV_DIRS.has(e.name)) out.push(...hostDevices(p));
      continue;
    }
    if (e.name === 'console') continue;
    try {
      const d = deviceFromPath(p);
      if (d) out.push(d);
    } catch {
      // vanished or unreadable
    }
  }
  return out;
}

const DEVICE_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const m = DEVICE_RULE.exec(rule);
  if (!m) throw new InvalidParameterError(`invalid device cgroup rule format: '${rule}'`);
  return {
    allow: true,
    type: m[1] as 'a' | 'b' | 'c',
    major: m[2] === '*' ? -1 : Number(m[2]),
    minor: m[3] === '*' ? -1 : Number(m[3]),
    access: m[4]!,
  };
}

/** HostConfig.Devices entry → device nodes + cgroup rules (a directory maps every node inside). */
export function devicesFromPath(
  pathOnHost: string,
  pathInContainer: string,
  permissions: string,
): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  if (!/^[rwm]{1,3}$/.test(permissions)) throw new InvalidParameterError(`invalid device mode: ${permissions}`);
  let resolved = pathOnHost;
  try {
    if (lstatSync(pathOnHost).isSymbolicLink()) resolved = realpathSync(pathOnHost);
  } catch {
    // reported below
  }
  const devices: LinuxDevice[] = [];
  const rules: LinuxDeviceCgroup[] = [];
  const add = (d: LinuxDevice, inContainer: string): void => {
    devices.push({ ...d, path: inContainer });
    rules.push({ allow: true, type: d.type as 'b' | 'c', major: d.major, minor: d.minor, access: permissions });
  };
  let err = 'not a device node';
  try {
    const d = deviceFromPath(resolved);
    if (d) {
      add(d, pathInContainer);
      return { devices, rules };
    }
    if (statSync(resolved).isDirectory()) {
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = posix.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else {
            try {
              const cd = deviceFromPath(p);
              if (cd) add(cd, pathInContainer + p.slice(resolved.length));
            } catch {
              // skip
            }
          }
        }
      };
      walk(resolved);
    }
  } catch (e) {
    err = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
  }
  if (devices.length === 0) {
    throw new InvalidParameterError(`error gathering device information while adding custom device "${pathOnHost}": ${err}`);
  }
  return { devices, rules };
}

// ---------------------------------------------------------------------------------------------
// sysctls

const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

function validateSysctl(key: string, hostNet: boolean, hostIpc: boolean, hostUts: boolean): void {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
    if (hostIpc) throw new InvalidParameterError(`sysctl "${key}" is not allowed in host IPC namespace`);
    return;
  }
  if (key.startsWith('net.')) {
    if (hostNet) throw new InvalidParameterError(`sysctl "${key}" is not allowed in host network namespace`);
    return;
  }
  if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (hostUts) throw new InvalidParameterError(`sysctl "${key}" is not allowed in host UTS namespace`);
    return;
  }
  throw new InvalidParameterError(`sysctl "${key}" is not in a separate kernel namespace`);
}

function sysctlExists(key: string): boolean {
  return existsSync(posix.join('/proc/sys', key.replace(/\./g, '/')));
}

// ---------------------------------------------------------------------------------------------
// the spec

function hasEnv(env: readonly string[], name: string): boolean {
  return env.some((e) => e === name || e.startsWith(name + '='));
}

/** Builds config.json for a container. Throws InvalidParameterError for bad HostConfig input. */
export function buildSpec(input: SpecInput): Spec {
  const hc = input.hostConfig ?? {};
  validateHostConfig(hc);
  if (!input.rootfs.startsWith('/')) throw new InvalidParameterError(`rootfs must be an absolute path: ${input.rootfs}`);
  if (input.stopSignal) parseSignal(input.stopSignal);
  const privileged = !!hc.Privileged;
  const sec = parseSecurityOpts(hc.SecurityOpt);

  const networkMode = hc.NetworkMode || 'default';
  const hostNet = networkMode === 'host';
  const ipcMode = hc.IpcMode || 'private';
  const pidMode = hc.PidMode || '';
  const hostIpc = ipcMode === 'host';
  const hostPid = pidMode === 'host';
  const hostUts = hc.UTSMode === 'host';

  // ---- process ----
  const caps = tweakCapabilities(hc.CapAdd, hc.CapDrop, privileged);
  const env = [...input.env];
  if (input.tty && !hasEnv(env, 'TERM')) env.push('TERM=xterm');
  if (!hasEnv(env, 'HOME')) env.push(`HOME=${input.user.home || '/'}`);

  let args = [...input.args];
  if (args.length === 0) throw new InvalidParameterError('no command specified');
  const privatePid = pidMode === '' || pidMode === 'private';
  const useInit = hc.Init === true && privatePid;
  if (useInit) {
    if (!input.initPath) throw new SystemError('--init requested but no init binary is configured');
    args = [CONTAINER_INIT_PATH, '--', ...args];
  }

  const process: Process = {
    terminal: input.tty,
    user: {
      uid: input.user.uid,
      gid: input.user.gid,
      additionalGids: [...input.user.additionalGids],
    },
    args,
    env,
    cwd: input.cwd || '/',
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
    rlimits: buildRlimits(hc.Ulimits, input.defaultUlimits),
    noNewPrivileges: sec.noNewPrivileges,
    oomScoreAdj: hc.OomScoreAdj ?? 0,
  };
  if (input.tty && hc.ConsoleSize && (hc.ConsoleSize[0] > 0 || hc.ConsoleSize[1] > 0)) {
    process.consoleSize = { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] };
  }
  if (sec.apparmor && sec.apparmor !== 'unconfined') process.apparmorProfile = sec.apparmor;
  if (!process.rlimits!.length) delete process.rlimits;

  // ---- namespaces ----
  const namespaces: LinuxNamespace[] = [{ type: 'mount' }];
  const nsPath = input.namespacePaths ?? {};
  const addNs = (type: LinuxNamespaceType, path?: string): void => {
    namespaces.push(path ? { type, path } : { type });
  };
  if (!hostNet) addNs('network', networkMode.startsWith('container:') ? nsPath.network : undefined);
  if (!hostUts) addNs('uts', nsPath.uts);
  if (!hostPid) {
    if (pidMode.startsWith('container:') && !nsPath.pid) {
      throw new NotImplementedError(`PID mode ${pidMode} needs the other container's namespace, which was not given`);
    }
    addNs('pid', pidMode.startsWith('container:') ? nsPath.pid : undefined);
  }
  if (!hostIpc) {
    if (ipcMode.startsWith('container:') && !nsPath.ipc) {
      throw new NotImplementedError(`IPC mode ${ipcMode} needs the other container's namespace, which was not given`);
    }
    addNs('ipc', ipcMode.startsWith('container:') ? nsPath.ipc : undefined);
  }
  const cgroupns = hc.CgroupnsMode || (isCgroupV2() ? 'private' : 'host');
  if (cgroupns === 'private') addNs('cgroup');

  // ---- mounts ----
  const userMounts: UserMount[] = [];
  const seenDest = new Set<string>();
  const addUser = (m: UserMount): void => {
    if (seenDest.has(m.destination)) throw new InvalidParameterError(`Duplicate mount point: ${m.destination}`);
    seenDest.add(m.destination);
    userMounts.push(m);
  };
  for (const b of hc.Binds ?? []) addUser(parseBind(b, input.volumePaths));
  for (const m of hc.Mounts ?? []) addUser(parseApiMount(m, input.volumePaths));
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount path: '${dest}' mount path must be absolute`);
    if (cleanDest(dest) === '/') throw new InvalidParameterError("invalid specification: destination can't be '/'");
    addUser({ destination: cleanDest(dest), type: 'tmpfs', source: 'tmpfs', readOnly: false, data });
  }
  if (hostIpc && !seenDest.has('/dev/shm')) {
    addUser({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', readOnly: false, propagation: 'rprivate', trusted: true });
  }
  // Docker's network files: writable unless --read-only; a user mount at the same path wins.
  const etc: [string, string][] = [
    ['/etc/resolv.conf', input.etcFiles.resolvConf],
    ['/etc/hostname', input.etcFiles.hostname],
    ['/etc/hosts', input.etcFiles.hosts],
  ];
  for (const [dest, src] of etc) {
    if (!src || seenDest.has(dest)) continue;
    addUser({ destination: dest, type: 'bind', source: src, readOnly: !!hc.ReadonlyRootfs, propagation: 'rprivate', trusted: true });
  }

  const userDests = new Set(userMounts.map((m) => m.destination));
  const mountDev = userDests.has('/dev');
  const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE;
  const mounts: Mount[] = [];
  for (const m of defaultMounts()) {
    if (userDests.has(m.destination)) continue;
    if (mountDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (ipcMode === 'none') continue;
      m.options!.push(`size=${shmSize}`);
    }
    if (hc.ReadonlyRootfs && !['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination)) {
      if (!m.options!.includes('ro')) m.options!.push('ro');
    }
    mounts.push(m);
  }
  if (useInit) {
    mounts.push({ destination: CONTAINER_INIT_PATH, type: 'bind', source: input.initPath!, options: ['bind', 'ro'] });
  }

  let rootfsPropagation: string | undefined;
  const sorted = userMounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
  for (const m of sorted) {
    if (m.type === 'tmpfs') {
      const options = mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(m.data ? m.data.split(',') : [])]);
      mounts.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options });
      continue;
    }
    if (m.create && !existsSync(m.source)) {
      // Docker creates missing -v sources as directories; --mount sources were checked above.
      try {
        mkdirSync(m.source, { recursive: true, mode: 0o755 });
      } catch (e) {
        throw new SystemError(`error while creating mount source path '${m.source}': ${(e as Error).message}`);
      }
    } else if (!m.create && !m.trusted && !existsSync(m.source)) {
      throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    }
    const options = [m.nonRecursive ? 'bind' : 'rbind'];
    if (m.readOnly) options.push('ro');
    if (m.propagation) options.push(m.propagation);
    if (m.propagation === 'shared' || m.propagation === 'rshared') rootfsPropagation = 'shared';
    else if ((m.propagation === 'slave' || m.propagation === 'rslave') && rootfsPropagation !== 'shared') rootfsPropagation = 'rslave';
    mounts.push({ destination: m.destination, type: 'bind', source: m.source, options });
  }

  if (privileged) {
    for (const m of mounts) if (m.destination === '/sys') m.options = m.options!.filter((o) => o !== 'ro');
  }
  if (sec.writableCgroups ?? privileged) {
    for (const m of mounts) if (m.type === 'cgroup') m.options = m.options!.filter((o) => o !== 'ro');
  }

  // ---- devices & resources ----
  let devices: LinuxDevice[] = [];
  let deviceRules: LinuxDeviceCgroup[] = defaultDeviceCgroupRules();
  if (privileged) {
    devices = hostDevices();
    for (const d of hc.Devices ?? []) {
      if (d.PathOnHost === d.PathInContainer || !d.PathOnHost) continue;
      devices.push(...devicesFromPath(d.PathOnHost, d.PathInContainer || d.PathOnHost, 'rwm').devices);
    }
    deviceRules = [{ allow: true, access: 'rwm' }];
  } else {
    for (const d of hc.Devices ?? []) {
      if (!d.PathOnHost) throw new InvalidParameterError('invalid device mapping: PathOnHost must not be empty');
      const r = devicesFromPath(d.PathOnHost, d.PathInContainer || d.PathOnHost, d.CgroupPermissions || 'rwm');
      devices.push(...r.devices);
      deviceRules.push(...r.rules);
    }
    for (const rule of hc.DeviceCgroupRules ?? []) deviceRules.push(parseDeviceCgroupRule(rule));
  }

  const resources: LinuxResources = { devices: deviceRules };
  const memory: NonNullable<LinuxResources['memory']> = {};
  if ((hc.Memory ?? 0) > 0) memory.limit = hc.Memory!;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation!;
  if (swapLimit()) {
    if ((hc.MemorySwap ?? 0) > 0) memory.swap = hc.MemorySwap!;
    else if ((hc.Memory ?? 0) > 0 && (hc.MemorySwap ?? 0) === 0) memory.swap = 2 * hc.Memory!;
  }
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness >= 0) {
    memory.swappiness = hc.MemorySwappiness;
  }
  if (hc.OomKillDisable !== undefined && hc.OomKillDisable !== null) memory.disableOOMKiller = hc.OomKillDisable;
  if (Object.keys(memory).length) resources.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((hc.NanoCpus! * 100000) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;
  if (Object.keys(cpu).length) resources.cpu = cpu;

  // 0 or -1 mean "unlimited" to Docker; crun writes a -1 limit literally, which cgroup v1 refuses.
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit > 0) {
    resources.pids = { limit: hc.PidsLimit };
  }
  if (hc.BlkioWeight) resources.blockIO = { weight: hc.BlkioWeight };

  // ---- sysctls ----
  const sysctl: Record<string, string> = {};
  if (input.domainname && !hostUts) sysctl['kernel.domainname'] = input.domainname;
  const privateNet = !hostNet && !networkMode.startsWith('container:');
  if (privateNet) {
    if (sysctlExists('net.ipv4.ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  for (const [k, v] of Object.entries(hc.Sysctls ?? {})) {
    validateSysctl(k, hostNet || networkMode.startsWith('container:'), hostIpc, hostUts);
    sysctl[k] = v;
  }

  // ---- seccomp ----
  let seccomp: Seccomp | undefined;
  if (sec.seccomp !== 'unconfined') {
    const custom = sec.seccomp && sec.seccomp !== 'builtin' ? parseSeccompProfile(sec.seccomp) : undefined;
    if (custom) seccomp = convertSeccompProfile(custom, caps);
    else if (!privileged || sec.seccomp === 'builtin') {
      seccomp = defaultSeccomp(caps, { path: input.seccompProfilePath });
    }
  }

  // ---- masked / read-only paths ----
  let maskedPaths = privileged ? [] : defaultMaskedPaths();
  let readonlyPaths = privileged ? [] : defaultReadonlyPaths();
  if (hc.MaskedPaths !== undefined && hc.MaskedPaths !== null) maskedPaths = [...hc.MaskedPaths];
  if (hc.ReadonlyPaths !== undefined && hc.ReadonlyPaths !== null) readonlyPaths = [...hc.ReadonlyPaths];

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfs, readonly: !!hc.ReadonlyRootfs },
    mounts,
    linux: {
      resources,
      cgroupsPath: input.cgroupsPath,
      namespaces,
      devices,
      maskedPaths,
      readonlyPaths,
    },
  };
  if (!hostUts) spec.hostname = input.hostname;
  if (Object.keys(sysctl).length) spec.linux!.sysctl = sysctl;
  if (seccomp) spec.linux!.seccomp = seccomp;
  if (rootfsPropagation) spec.linux!.rootfsPropagation = rootfsPropagation;
  return spec;
}
