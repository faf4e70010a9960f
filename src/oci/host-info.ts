// The facts about this host that shape a container's spec, probed once when the daemon starts
// and handed to buildSpec, which then does no I/O of its own.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { posix } from 'node:path';
import { SystemError } from '../errors.js';
import { daemonCapabilities, defaultMaskedPaths } from './defaults.js';
import { daemonHardLimits } from './rlimits.js';
import type { RlimitType } from './runtime-spec.js';
import { type DockerSeccompProfile, type KernelVersion, hostKernelVersion, loadSeccompProfile } from './seccomp.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** v2: pure cgroup2 at /sys/fs/cgroup; hybrid: v1 controllers plus cgroup2 at unified/. */
export type CgroupMode = 'v1' | 'v2' | 'hybrid' | 'none';

function fsType(p: string): number | null {
  try {
    return statfsSync(p).type;
  } catch {
    return null;
  }
}

const modeCache = new Map<string, CgroupMode>();

/** The host's cgroup layout: Berth's one cgroup probe (the layout does not change while it runs). */
export function cgroupMode(root = CGROUP_ROOT): CgroupMode {
  let mode = modeCache.get(root);
  if (!mode) {
    const t = fsType(root);
    if (t === null) mode = 'none';
    else if (t === CGROUP2_SUPER_MAGIC) mode = 'v2';
    else mode = fsType(posix.join(root, 'unified')) === CGROUP2_SUPER_MAGIC ? 'hybrid' : 'v1';
    modeCache.set(root, mode);
  }
  return mode;
}

/** Whether the kernel can limit a container's swap (v1: memsw accounting; v2: memory.swap.max). */
function probeSwapLimit(v2: boolean): boolean {
  if (!v2) return existsSync(posix.join(CGROUP_ROOT, 'memory/memory.memsw.limit_in_bytes'));
  let own = '/';
  try {
    const m = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'));
    if (m) own = m[1]!;
  } catch {
    // keep "/"
  }
  if (existsSync(posix.join(CGROUP_ROOT, own, 'memory.swap.max'))) return true;
  try {
    return readFileSync(posix.join(CGROUP_ROOT, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory') && existsSync('/proc/swaps');
  } catch {
    return false;
  }
}

/** The block I/O controls the kernel offers (moby's sysinfo: absent ones are discarded with a warning). */
export interface BlkioSupport {
  weight: boolean;
  weightDevice: boolean;
  readBps: boolean;
  writeBps: boolean;
  readIOps: boolean;
  writeIOps: boolean;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function probeBlkio(v2: boolean): BlkioSupport {
  if (v2) {
    const io = (readText(posix.join(CGROUP_ROOT, 'cgroup.controllers')) ?? '').split(/\s+/).includes('io');
    return { weight: io, weightDevice: io, readBps: io, writeBps: io, readIOps: io, writeIOps: io };
  }
  const has = (f: string): boolean => existsSync(posix.join(CGROUP_ROOT, 'blkio', f));
  return {
    weight: has('blkio.weight') || has('blkio.bfq.weight'),
    weightDevice: has('blkio.weight_device') || has('blkio.bfq.weight_device'),
    readBps: has('blkio.throttle.read_bps_device'),
    writeBps: has('blkio.throttle.write_bps_device'),
    readIOps: has('blkio.throttle.read_iops_device'),
    writeIOps: has('blkio.throttle.write_iops_device'),
  };
}

export interface HostInfo {
  cgroupMode: CgroupMode;
  /** Pure cgroup v2 (hybrid and v1 hosts are "v1" to Docker). */
  cgroupV2: boolean;
  swapLimit: boolean;
  /** The daemon's effective capabilities: what --privileged gets and --cap-add may choose from. */
  capabilities: readonly string[];
  /** The daemon's own hard rlimits; a container's are clamped to them. */
  hardLimits: ReadonlyMap<RlimitType, bigint>;
  blkio: BlkioSupport;
  /** The memory nodes cpusets may use ("0", "0-1"): the --cpuset-mems range. */
  mems: string;
  /** cgroup v1 only: v2 has no switch to turn the OOM killer off. */
  oomKillDisable: boolean;
  /** CPUs this process may use (the --cpus ceiling) and CPUs the host has (the --cpuset-cpus range). */
  availableCpus: number;
  onlineCpus: number;
  maskedPaths: readonly string[];
  /** Namespaced sysctls this kernel has, among those Docker sets by default. */
  sysctls: ReadonlySet<string>;
  kernel: KernelVersion;
  /** The default seccomp profile, or why it could not be read (reported when a container needs it). */
  seccompProfile: DockerSeccompProfile | SystemError;
}

const DEFAULT_SYSCTLS = ['net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start'];

export interface ProbeOptions {
  /** Docker-format seccomp profile used by default (default: /usr/share/containers/seccomp.json). */
  seccompProfilePath?: string;
}

/** Reads everything buildSpec needs to know about the host. */
export function probeHost(opts: ProbeOptions = {}): HostInfo {
  const mode = cgroupMode();
  let seccompProfile: DockerSeccompProfile | SystemError;
  try {
    seccompProfile = loadSeccompProfile(opts.seccompProfilePath);
  } catch (e) {
    seccompProfile = e instanceof SystemError ? e : new SystemError((e as Error).message);
  }
  return {
    cgroupMode: mode,
    cgroupV2: mode === 'v2',
    swapLimit: probeSwapLimit(mode === 'v2'),
    blkio: probeBlkio(mode === 'v2'),
    mems: (readText(posix.join(CGROUP_ROOT, mode === 'v2' ? 'cpuset.mems.effective' : 'cpuset/cpuset.mems')) ?? '0').trim() || '0',
    oomKillDisable: mode !== 'v2',
    capabilities: daemonCapabilities(),
    hardLimits: daemonHardLimits(),
    availableCpus: availableParallelism(),
    onlineCpus: cpus().length,
    maskedPaths: defaultMaskedPaths(),
    sysctls: new Set(DEFAULT_SYSCTLS.filter((k) => existsSync(posix.join('/proc/sys', k.replace(/\./g, '/'))))),
    kernel: hostKernelVersion(),
    seccompProfile,
  };
}
