// run/create's mount flags as the docker CLI turns them into the create request: -v (binds and
// named volumes in HostConfig.Binds, a lone path in Config.Volumes), --mount (HostConfig.Mounts),
// --tmpfs and --volumes-from. The daemon validates what the CLI passes through unchanged.

import path from 'node:path';
import type { ContainerCreateRequest, HostConfig, Mount } from '../../types/api.js';
import { collect, StatusError, type Command } from '../cli.js';
import { ramInBytes } from '../format/units.js';

export interface MountFlags {
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  volumesFrom?: string[];
}

export function addMountFlags(c: Command): void {
  c.option('--mount <mount>', 'Attach a filesystem mount to the container', collect)
    .option('--tmpfs <list>', 'Mount a tmpfs directory', collect)
    .option('-v, --volume <list>', 'Bind mount a volume', collect)
    .option('--volumes-from <list>', 'Mount volumes from the specified container(s)', collect);
}

function parseBool(key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new Error(`invalid value for ${key}: ${v}`);
}

function keyValue(s: string): [string, string] {
  const i = s.indexOf('=');
  if (i < 0) throw new Error(`invalid field '${s}' must be a key=value pair`);
  return [s.slice(0, i), s.slice(i + 1)];
}

/** One --mount value (docker's opts.MountOpt): comma-separated key[=value] fields. */
export function parseMountFlag(value: string): Mount {
  const m: Mount = { Type: 'volume', Target: '' };
  const volume = (): NonNullable<Mount['VolumeOptions']> => (m.VolumeOptions ??= {});
  const bind = (): NonNullable<Mount['BindOptions']> => (m.BindOptions ??= {});
  const tmpfs = (): NonNullable<Mount['TmpfsOptions']> => (m.TmpfsOptions ??= {});
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? undefined : field.slice(eq + 1);
    if (v === undefined && !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive'].includes(key)) {
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type':
        m.Type = v as Mount['Type'];
        break;
      case 'source':
      case 'src':
        m.Source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = v!;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = parseBool(key, v);
        break;
      case 'consistency':
        m.Consistency = v;
        break;
      case 'bind-propagation':
        bind().Propagation = v as NonNullable<Mount['BindOptions']>['Propagation'];
        break;
      case 'bind-nonrecursive':
        bind().NonRecursive = parseBool(key, v);
        break;
      case 'volume-nocopy':
        volume().NoCopy = parseBool(key, v);
        break;
      case 'volume-driver':
        (volume().DriverConfig ??= {}).Name = v;
        break;
      case 'volume-opt': {
        const [k, val] = keyValue(v!);
        ((volume().DriverConfig ??= {}).Options ??= {})[k] = val;
        break;
      }
      case 'volume-label': {
        const [k, val] = keyValue(v!);
        (volume().Labels ??= {})[k] = val;
        break;
      }
      case 'tmpfs-size':
        try {
          tmpfs().SizeBytes = ramInBytes(v!);
        } catch {
          throw new Error(`invalid value for ${key}: ${v}`);
        }
        break;
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(v!)) throw new Error(`invalid value for ${key}: ${v}`);
        tmpfs().Mode = parseInt(v!, 8);
        break;
      }
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw new Error('target is required');
  if (m.VolumeOptions && m.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.BindOptions && m.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  return m;
}

/** A -v value: a bind or named volume goes to Binds (a ./relative host path made absolute), a lone path to Volumes. */
function addVolumeFlag(v: string, host: HostConfig, req: ContainerCreateRequest): void {
  const colon = v.indexOf(':');
  if (colon < 0) {
    (req.Volumes ??= {})[v] = {};
    return;
  }
  let hostPart = v.slice(0, colon);
  if (hostPart.startsWith('.')) hostPart = path.resolve(hostPart);
  (host.Binds ??= []).push(hostPart + v.slice(colon));
}

/** Puts the mount flags into the create request. */
export function applyMountFlags(o: MountFlags, host: HostConfig, req: ContainerCreateRequest): void {
  for (const v of o.volume ?? []) addVolumeFlag(v, host, req);
  for (const value of o.mount ?? []) {
    try {
      (host.Mounts ??= []).push(parseMountFlag(value));
    } catch (e) {
      throw new StatusError(125, `invalid argument "${value}" for "--mount" flag: ${(e as Error).message}`);
    }
  }
  if (o.tmpfs?.length) {
    host.Tmpfs = {};
    for (const t of o.tmpfs) {
      const i = t.indexOf(':');
      host.Tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
    }
  }
  if (o.volumesFrom?.length) host.VolumesFrom = [...o.volumesFrom];
}
