// The spec's mounts: Docker's defaults, the engine's own files, and the user's mounts (which the
// engine has parsed and resolved to host paths), parents before children.
import { posix } from 'node:path';
import type { HostConfig } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { CONTAINER_INIT_PATH, DEFAULT_SHM_SIZE, defaultMounts } from './defaults.js';
import type { Mount, SpecOpt } from './runtime-spec.js';

/** A mount the user asked for, its source resolved to a host path. */
export interface UserMount {
  destination: string;
  type: 'bind' | 'tmpfs';
  source: string;
  readOnly: boolean;
  propagation?: string;
  nonRecursive?: boolean;
  /** tmpfs data options */
  data?: string;
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

export interface MountsInput {
  hostConfig: HostConfig;
  /** The user's mounts (userMounts), their sources present on the host. */
  mounts: readonly UserMount[];
  /** Host files bind-mounted at /etc/resolv.conf, /etc/hostname, /etc/hosts. */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  hostIpc: boolean;
  ipcMode: string;
  /** The --init binary, when the container runs one. */
  initPath?: string;
  writableCgroups?: boolean;
}

/** The engine's own binds: the host's /dev/shm for --ipc=host and the network files, unless the user mounted there. */
function engineMounts(input: MountsInput, taken: ReadonlySet<string>): UserMount[] {
  const out: UserMount[] = [];
  if (input.hostIpc && !taken.has('/dev/shm')) {
    out.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', readOnly: false, propagation: 'rprivate' });
  }
  // Docker's network files: writable unless --read-only.
  const etc: [string, string][] = [
    ['/etc/resolv.conf', input.etcFiles.resolvConf],
    ['/etc/hostname', input.etcFiles.hostname],
    ['/etc/hosts', input.etcFiles.hosts],
  ];
  for (const [dest, src] of etc) {
    if (!src || taken.has(dest)) continue;
    out.push({ destination: dest, type: 'bind', source: src, readOnly: !!input.hostConfig.ReadonlyRootfs, propagation: 'rprivate' });
  }
  return out;
}

/** Docker's default mounts that no user mount replaces, /dev/shm sized, read-only with the rootfs. */
function defaultMountsFor(input: MountsInput, userDests: ReadonlySet<string>): Mount[] {
  const hc = input.hostConfig;
  const mountDev = userDests.has('/dev');
  const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE;
  const out: Mount[] = [];
  for (const m of defaultMounts()) {
    if (userDests.has(m.destination)) continue;
    if (mountDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (input.ipcMode === 'none') continue;
      m.options!.push(`size=${shmSize}`);
    }
    if (hc.ReadonlyRootfs && !['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination)) {
      if (!m.options!.includes('ro')) m.options!.push('ro');
    }
    out.push(m);
  }
  return out;
}

/** A user mount as an OCI mount. */
function ociMount(m: UserMount): Mount {
  if (m.type === 'tmpfs') {
    const options = mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(m.data ? m.data.split(',') : [])]);
    return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  const options = [m.nonRecursive ? 'bind' : 'rbind'];
  if (m.readOnly) options.push('ro');
  if (m.propagation) options.push(m.propagation);
  return { destination: m.destination, type: 'bind', source: m.source, options };
}

/** The rootfs propagation a shared or slave bind needs to work. */
function rootfsPropagation(mounts: readonly UserMount[]): string | undefined {
  let out: string | undefined;
  for (const m of mounts) {
    if (m.type !== 'bind') continue;
    if (m.propagation === 'shared' || m.propagation === 'rshared') out = 'shared';
    else if ((m.propagation === 'slave' || m.propagation === 'rslave') && out !== 'shared') out = 'rslave';
  }
  return out;
}

/** Defaults, the init binary, then user mounts parents first (moby's WithMounts). */
export function withMounts(input: MountsInput): SpecOpt {
  return (spec) => {
    const taken = new Set(input.mounts.map((m) => m.destination));
    const all = [...input.mounts, ...engineMounts(input, taken)];
    const mounts = defaultMountsFor(input, new Set(all.map((m) => m.destination)));
    if (input.initPath) mounts.push({ destination: CONTAINER_INIT_PATH, type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
    const sorted = all
      .map((m, i) => ({ m, i }))
      .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
      .map((x) => x.m);
    for (const m of sorted) mounts.push(ociMount(m));
    const privileged = !!input.hostConfig.Privileged;
    if (privileged) {
      for (const m of mounts) if (m.destination === '/sys') m.options = m.options!.filter((o) => o !== 'ro');
    }
    if (input.writableCgroups ?? privileged) {
      for (const m of mounts) if (m.type === 'cgroup') m.options = m.options!.filter((o) => o !== 'ro');
    }
    spec.mounts = mounts;
    const propagation = rootfsPropagation(sorted);
    if (propagation) spec.linux!.rootfsPropagation = propagation;
  };
}
