// Docker's mount forms as its Linux parser reads them (moby volume/mounts/linux_parser.go):
// HostConfig.Binds ("src:dst[:mode]"), HostConfig.Mounts (--mount) and HostConfig.Tmpfs, each
// turned into the mount point a container records, with Docker's messages for bad input.
import { posix } from 'node:path';
import type { Mount as ApiMount, MountPoint, VolumeCreateRequest } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { mergeTmpfsOptions } from '../../oci/mounts.js';

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated', 'default']);

/** A container's mount, as inspect's `Mounts` shows it plus what Berth needs to set it up. */
export interface MountPointRecord extends MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** The host path: a bind's source, a volume's data directory; "" for tmpfs. */
  Source: string;
  /** A volume filled from the image's content at Destination on first start, if empty then. */
  CopyData?: boolean;
  /** A volume made for this container alone: `rm -v` and `run --rm` remove it. */
  Anonymous?: boolean;
  /** A `-v` bind: a missing source directory is created at start, as Docker does. */
  CreateSource?: boolean;
  NonRecursive?: boolean;
  /** tmpfs mount data (size=…,mode=…). */
  TmpfsData?: string;
}

/** A parsed mount; volumes carry what their volume is created with when missing ("" name: anonymous). */
export interface ParsedMount {
  point: MountPointRecord;
  volume?: VolumeCreateRequest;
}

export function cleanDest(p: string): string {
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

/**
 * The destination rules: absolute, not "/", and not "/proc", which the runtime refuses to cover
 * with anything but procfs (Docker lets that through to a failed start; Berth says so at create).
 */
function destinationError(target: string): string | undefined {
  if (target === '') return 'field Target must not be empty';
  if (cleanDest(target) === '/') return "invalid specification: destination can't be '/'";
  if (!target.startsWith('/')) return `invalid mount path: '${target}' mount path must be absolute`;
  if (cleanDest(target) === '/proc') return '"/proc" cannot be mounted because it is not of type proc';
  return undefined;
}

/** One HostConfig.Binds entry ("src:dst[:mode]"; a lone path is an anonymous volume). */
export function parseBind(raw: string): ParsedMount {
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
  const bad = destinationError(target);
  if (bad) throw new InvalidParameterError(`invalid volume specification: '${raw}': invalid mount config for type "${type}": ${bad}`);
  const opts = mode.split(',');
  const destination = cleanDest(target);
  const RW = !opts.includes('ro');
  if (type === 'volume') {
    const point: MountPointRecord = { Type: 'volume', Name: source, Source: '', Destination: destination, Driver: 'local', Mode: mode || (source ? 'z' : ''), RW, Propagation: '' };
    point.CopyData = !opts.includes('nocopy');
    return { point, volume: { Name: source } };
  }
  const propagation = opts.find((o) => PROPAGATIONS.has(o)) ?? 'rprivate';
  return { point: { Type: 'bind', Source: posix.normalize(source), Destination: destination, Mode: mode, RW, Propagation: propagation, CreateSource: true } };
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
export function parseApiMount(m: ApiMount): ParsedMount {
  const fail = (msg: string): never => {
    throw new InvalidParameterError(`invalid mount config for type "${m.Type}": ${msg}`);
  };
  if (m.Type !== 'bind' && m.BindOptions) fail('field BindOptions must not be specified');
  if (m.Type !== 'volume' && m.VolumeOptions) fail('field VolumeOptions must not be specified');
  if (m.Type !== 'tmpfs' && m.TmpfsOptions) fail('field TmpfsOptions must not be specified');
  const bad = destinationError(m.Target ?? '');
  if (bad) fail(bad);
  const destination = cleanDest(m.Target ?? '');
  const RW = !m.ReadOnly;
  switch (m.Type) {
    case 'bind': {
      if (!m.Source) fail('field Source must not be empty');
      const prop = m.BindOptions?.Propagation;
      if (prop && !PROPAGATIONS.has(prop)) fail(`invalid propagation mode: ${prop}`);
      if (!m.Source!.startsWith('/')) fail(`invalid mount path: '${m.Source}' mount path must be absolute`);
      const point: MountPointRecord = { Type: 'bind', Source: posix.normalize(m.Source!), Destination: destination, Mode: '', RW, Propagation: prop || 'rprivate' };
      if (m.BindOptions?.NonRecursive) point.NonRecursive = true;
      return { point };
    }
    case 'tmpfs': {
      if (m.Source) fail('field Source must not be specified');
      const data: string[] = [];
      if (m.ReadOnly) data.push('ro');
      const mode = m.TmpfsOptions?.Mode;
      if (mode) data.push(`mode=${mode.toString(8)}`);
      const size = m.TmpfsOptions?.SizeBytes;
      if (size) {
        if (size < 0 || !Number.isSafeInteger(size)) fail('invalid tmpfs size');
        data.push(tmpfsSizeOption(size));
      }
      return { point: { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW, Propagation: '', TmpfsData: data.join(',') } };
    }
    case 'volume': {
      const vo = m.VolumeOptions;
      const driver = vo?.DriverConfig?.Name;
      const point: MountPointRecord = { Type: 'volume', Name: m.Source ?? '', Source: '', Destination: destination, Driver: 'local', Mode: 'z', RW, Propagation: '' };
      point.CopyData = !vo?.NoCopy;
      return { point, volume: { Name: m.Source ?? '', Driver: driver, DriverOpts: vo?.DriverConfig?.Options, Labels: vo?.Labels } };
    }
    default:
      return fail('mount type unknown');
  }
}

const TMPFS_SIZE = /^\d+[kmgKMG%]?$/;

/** One HostConfig.Tmpfs entry (--tmpfs /dst:opts), checked as the kernel will take it. */
export function parseTmpfs(dest: string, data: string): MountPointRecord {
  if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount path: '${dest}' mount path must be absolute`);
  if (cleanDest(dest) === '/') throw new InvalidParameterError("invalid specification: destination can't be '/'");
  const opts = data ? data.split(',') : [];
  mergeTmpfsOptions(opts);
  for (const o of opts) {
    if (o.startsWith('size=') && !TMPFS_SIZE.test(o.slice(5))) throw new InvalidParameterError(`invalid tmpfs option "${o}": invalid size`);
  }
  return { Type: 'tmpfs', Source: '', Destination: cleanDest(dest), Mode: '', RW: !opts.includes('ro'), Propagation: '', TmpfsData: data };
}
