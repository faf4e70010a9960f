// A container's mount points, decided at create as Docker's registerMountPoints decides them:
// the mounts of --volumes-from containers, then Binds and Mounts (which replace those), then an
// anonymous volume for each Config.Volumes path (the image's VOLUME, `-v /path`) still free.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { ContainerConfig, HostConfig, MountPoint, VolumeCreateRequest } from '../../types/api.js';
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import type { ContainerRecord } from './container.js';
import { type MountPointRecord, type ParsedMount, cleanDest, parseApiMount, parseBind, parseTmpfs } from './mount-spec.js';
import { ANONYMOUS_LABEL } from '../volumes/volume-service.js';

/** What planning needs of the volumes service. */
export interface VolumeCatalog {
  validate(req: VolumeCreateRequest): void;
  /** The data directory a (possibly not yet created) volume has. */
  path(name: string): string;
}

export interface MountPlan {
  points: MountPointRecord[];
  /** Volumes to create (or reuse) for the container, anonymous ones named already. */
  volumes: (VolumeCreateRequest & { Name: string })[];
}

/** "<container>[:ro|rw]" entries of HostConfig.VolumesFrom, their mounts copied. */
function volumesFrom(specs: readonly string[], find: (idOrName: string) => ContainerRecord): MountPointRecord[] {
  const out: MountPointRecord[] = [];
  for (const spec of specs) {
    const [id, mode = '', ...rest] = spec.split(':');
    if (rest.length || !['', 'ro', 'rw'].includes(mode)) throw new InvalidParameterError(`invalid mode for volumes-from: ${mode}`);
    let source: ContainerRecord;
    try {
      source = find(id!);
    } catch (err) {
      // Docker answers 400 here: the create request is what is wrong.
      if (err instanceof NotFoundError) throw new InvalidParameterError(err.message);
      throw err;
    }
    for (const mp of source.mountPoints ?? []) {
      const copy: MountPointRecord = { ...mp, CopyData: false };
      if (mode) copy.RW = mode === 'rw';
      out.push(copy);
    }
  }
  return out;
}

/**
 * Parses and checks every mount of a create request; nothing is created. Throws Docker's
 * errors for bad specs, duplicate destinations, unknown --volumes-from containers and bad
 * volume names or options.
 */
export function planMountPoints(
  config: ContainerConfig,
  hc: HostConfig,
  volumes: VolumeCatalog,
  find: (idOrName: string) => ContainerRecord,
): MountPlan {
  const byDest = new Map<string, MountPointRecord>();
  for (const mp of volumesFrom(hc.VolumesFrom ?? [], find)) byDest.set(mp.Destination, mp);
  const requested: ParsedMount[] = [...(hc.Binds ?? []).map(parseBind), ...(hc.Mounts ?? []).map(parseApiMount)];
  const taken = new Set<string>();
  for (const dest of Object.keys(hc.Tmpfs ?? {})) {
    const t = parseTmpfs(dest, hc.Tmpfs![dest]!);
    if (taken.has(t.Destination)) throw new InvalidParameterError(`Duplicate mount point: ${t.Destination}`);
    taken.add(t.Destination);
  }
  const wanted: MountPlan['volumes'] = [];
  for (const { point, volume } of requested) {
    if (taken.has(point.Destination)) throw new InvalidParameterError(`Duplicate mount point: ${point.Destination}`);
    taken.add(point.Destination);
    if (volume) wanted.push(nameVolume(point, volume, volumes));
    // --mount binds must exist at create (a -v source is made at start instead).
    if (point.Type === 'bind' && !point.CreateSource && !existsSync(point.Source)) {
      throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${point.Source}`);
    }
    byDest.set(point.Destination, point);
  }
  for (const raw of Object.keys(config.Volumes ?? {})) {
    const dest = cleanDest(raw);
    if (!raw.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "volume": invalid mount path: '${raw}' mount path must be absolute`);
    if (byDest.has(dest) || taken.has(dest)) continue;
    const point: MountPointRecord = { Type: 'volume', Name: '', Source: '', Destination: dest, Driver: 'local', Mode: '', RW: true, Propagation: '', CopyData: true };
    wanted.push(nameVolume(point, { Name: '' }, volumes));
    byDest.set(dest, point);
  }
  return { points: [...byDest.values()], volumes: wanted };
}

/** Names an anonymous volume, checks the request, and points the mount at the volume's data. */
function nameVolume(point: MountPointRecord, req: VolumeCreateRequest, volumes: VolumeCatalog): MountPlan['volumes'][number] {
  const named = { ...req, Name: req.Name || randomBytes(32).toString('hex') };
  if (!req.Name) {
    point.Anonymous = true;
    named.Labels = { ...(req.Labels ?? {}), [ANONYMOUS_LABEL]: '' };
  }
  volumes.validate(named);
  point.Name = named.Name;
  point.Source = volumes.path(named.Name);
  return named;
}

/** inspect's `Mounts`: the API fields of each mount point, binds without Name and Driver. */
export function mountPointsView(c: ContainerRecord): MountPoint[] {
  return (c.mountPoints ?? []).map((mp) => {
    const view: MountPoint = { Type: mp.Type, Source: mp.Source, Destination: mp.Destination, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation };
    if (mp.Type === 'volume') return { Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination, Driver: mp.Driver, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation };
    return view;
  });
}

/** Names of the volumes a container's mount points use. */
export function volumeNames(c: ContainerRecord): string[] {
  return (c.mountPoints ?? []).filter((mp) => mp.Type === 'volume' && mp.Name).map((mp) => mp.Name!);
}
