// Docker's defaults for a Linux container's runtime spec (moby daemon/pkg/oci/defaults.go and
// daemon/oci_linux.go), re-expressed for Berth.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { LinuxDeviceCgroup, Mount } from './runtime-spec.js';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default /dev/shm size: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** The capabilities a non-privileged Docker container gets. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Every capability name Linux defines, indexed by capability number. */
export const KNOWN_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE', // 40
]);

/** Bitmask (as in /proc/<pid>/status CapEff) of a set of capability names. */
export function capabilityMask(caps: Iterable<string>): bigint {
  let mask = 0n;
  for (const c of caps) {
    const n = KNOWN_CAPABILITIES.indexOf(c);
    if (n < 0) throw new Error(`unknown capability ${c}`);
    mask |= 1n << BigInt(n);
  }
  return mask;
}

/** Capability names in a bitmask; bits Berth has no name for are skipped. */
export function capabilitiesFromMask(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < KNOWN_CAPABILITIES.length; i++) {
    if ((mask >> BigInt(i)) & 1n) out.push(KNOWN_CAPABILITIES[i]!);
  }
  return out;
}

let currentCaps: string[] | undefined;

/**
 * The capabilities the daemon itself holds (its effective set), which is what Docker grants a
 * --privileged container and what --cap-add may choose from. Known names the daemon lacks are
 * "not available in the current environment".
 */
export function daemonCapabilities(): readonly string[] {
  if (!currentCaps) {
    let caps: string[] = [...KNOWN_CAPABILITIES];
    try {
      const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) caps = capabilitiesFromMask(BigInt('0x' + m[1]));
    } catch {
      // keep all known capabilities
    }
    currentCaps = caps;
  }
  return currentCaps;
}

/** Docker's default mounts, before /dev/shm gets its size option. Returns fresh copies. */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

const BASE_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

let maskedPathsCache: string[] | undefined;

/**
 * Paths Docker hides from a non-privileged container: the fixed list plus, as current Docker
 * does, each CPU's thermal_throttle directory that exists on this host.
 */
export function defaultMaskedPaths(): string[] {
  if (!maskedPathsCache) {
    const paths = [...BASE_MASKED_PATHS];
    try {
      const cpus = readdirSync('/sys/devices/system/cpu')
        .filter((n) => /^cpu\d+$/.test(n))
        .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
      for (const cpu of cpus) {
        const p = `/sys/devices/system/cpu/${cpu}/thermal_throttle`;
        if (existsSync(p)) paths.push(p);
      }
    } catch {
      // no sysfs: only the fixed list
    }
    maskedPathsCache = paths;
  }
  return [...maskedPathsCache];
}

/** Paths Docker makes read-only in a non-privileged container. */
export function defaultReadonlyPaths(): string[] {
  return ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
}

/**
 * Docker's device cgroup rules: deny everything, then allow /dev/null, zero, full, random,
 * urandom, tty, console, ptmx; deny /dev/fuse (10:229). The runtime itself creates the
 * default device nodes (null, zero, full, random, urandom, tty, console, ptmx).
 */
export function defaultDeviceCgroupRules(): LinuxDeviceCgroup[] {
  return [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}

/** The in-container path of the --init binary. */
export const CONTAINER_INIT_PATH = '/sbin/docker-init';
