// User mounts: HostConfig.Binds, Mounts and Tmpfs as Docker parses and validates them, and the
// spec's mount list built from them over Docker's defaults.
import { posix } from 'node:path';
import type { Mount as ApiMount, HostConfig } from '../types/api.js';
import { InvalidParameterError, NotImplementedError } from '../errors.js';
import { CONTAINER_INIT_PATH, DEFAULT_SHM_SIZE, defaultMounts } from './defaults.js';
import type { Mount, SpecOpt } from './runtime-spec.js';

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated', 'default']);

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
  /** create the (directory) source if missing, as Docker does for -v binds */
  create?: boolean;
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

/** HostConfig's Binds, Mounts and Tmpfs in that order, each destination at most once. */
export function userMounts(hc: HostConfig, volumePaths: Record<string, string> = {}): UserMount[] {
  const out: UserMount[] = [];
  const seen = new Set<string>();
  const add = (m: UserMount): void => {
    if (seen.has(m.destination)) throw new InvalidParameterError(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
    out.push(m);
  };
  for (const b of hc.Binds ?? []) add(parseBind(b, volumePaths));
  for (const m of hc.Mounts ?? []) add(parseApiMount(m, volumePaths));
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount path: '${dest}' mount path must be absolute`);
    if (cleanDest(dest) === '/') throw new InvalidParameterError("invalid specification: destination can't be '/'");
    add({ destination: cleanDest(dest), type: 'tmpfs', source: 'tmpfs', readOnly: false, data });
  }
  return out;
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
