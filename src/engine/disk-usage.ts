// Disk usage: GET /system/df in dockerd's shape, and Berth's account of everything else under the
// data root (GET /berth/system/df), so that the two add up to what `du -sbx` says of it.
import { constants, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import type { SnapshotInfo } from '../snapshot/overlay.js';
import type { BuildCacheRecord, ContainerSummary, ImageSummary, SystemDataUsageResponse, Volume } from '../types/api.js';
import type { DataRootPart, DataRootUsage } from '../types/berth.js';
import { isNotFound, lstatAll } from '../util/fs.js';

export interface DiskUsageSources {
  dataRoot: string;
  /** Images as dockerd lists them for df (intermediate build images left out), with SharedSize and Containers. */
  images(): Promise<ImageSummary[]>;
  layersSize(): Promise<number>;
  containers(): Promise<ContainerSummary[]>;
  volumes(): Promise<Volume[]>;
  buildCache(): Promise<BuildCacheRecord[]>;
  snapshots(): SnapshotInfo[];
  /** Digests of the blobs LayersSize counts (image configs and layer tars). */
  layerBlobs(): Set<string>;
}

export async function systemDiskUsage(src: DiskUsageSources): Promise<SystemDataUsageResponse> {
  const [Images, LayersSize, Containers, Volumes, cache] = await Promise.all([src.images(), src.layersSize(), src.containers(), src.volumes(), src.buildCache()]);
  // dockerd 20.10: BuildCache is BuildKit's list (null when it has none), BuilderSize its sum.
  const BuildCache = cache.length > 0 ? cache : null;
  return { LayersSize, Images, Containers, Volumes, BuildCache, BuilderSize: cache.reduce((a, b) => a + b.Size, 0) };
}

/** The kinds of `Other`, in the order they are listed; docs/architecture.md says what each holds. */
const KINDS = [
  'Metadata',
  'Container files',
  'Container logs',
  'Partial downloads',
  'Work in progress',
  'Unreferenced blobs',
  'Symbolic links in layers',
  'Tar-splits of loaded layers',
  'Directories',
  'Other',
] as const;
type Kind = (typeof KINDS)[number];
const RECLAIMABLE = new Set<Kind>(['Partial downloads', 'Unreferenced blobs']);

/** What holds a file (or counts it): one of Docker's categories, or a kind of `Other`. */
type Owner = 'docker' | Kind;

export async function dataRootUsage(src: DiskUsageSources): Promise<DataRootUsage> {
  const du = await systemDiskUsage(src);
  const docker = {
    Images: du.LayersSize,
    Containers: du.Containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0),
    Volumes: du.Volumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0),
    BuildCache: (du.BuildCache ?? []).filter((b) => !b.Shared).reduce((a, b) => a + b.Size, 0),
  };
  const snaps = new Map(src.snapshots().map((s) => [s.key, s.kind]));
  const blobs = new Set([...src.layerBlobs()].map((d) => d.replace(/^sha256:/, '')));
  const owner = (rel: string[], st: Stats): Owner => (st.isDirectory() ? 'Directories' : ownerOf(rel, st, snaps, blobs));
  const { total, parts, counted } = await walk(src.dataRoot, owner);
  const other: DataRootPart[] = KINDS.filter((k) => parts.has(k)).map((k) => ({ Type: k, ...parts.get(k)!, Reclaimable: RECLAIMABLE.has(k) }));
  // Docker's figures and the files they stand for differ when a layer's recorded size (its tar's)
  // is not what its files take, or a container wrote meanwhile: say so rather than hide it.
  const dockerSum = docker.Images + docker.Containers + docker.Volumes + docker.BuildCache;
  if (counted !== dockerSum) other.push({ Type: 'Not as Docker counts it', Count: 0, Size: counted - dockerSum, Reclaimable: false });
  return { DataRoot: src.dataRoot, Total: total, Docker: docker, Other: other };
}

/** Who owns a file, by where it is under the data root (docs/architecture.md, "On disk"). */
function ownerOf(rel: string[], st: Stats, snaps: Map<string, string>, blobs: Set<string>): Owner {
  const [top, a, b, c] = rel;
  switch (top) {
    case 'engine-id':
    case 'metadata':
      return 'Metadata';
    case 'content':
      if (a === 'blobs') return blobs.has(c ?? '') ? 'docker' : 'Unreferenced blobs';
      if (a === 'ingest') return b === 'partial' ? 'Partial downloads' : 'Work in progress';
      return 'Other';
    case 'snapshots': {
      if (a?.startsWith('tmp-')) return 'Work in progress';
      const kind = snaps.get(a ?? '');
      // A loaded layer's tar around its files (archive/tar-split.ts): what its tar blob would have been.
      if (kind === 'committed' && (b === 'tar-split' || b === 'kept')) return 'Tar-splits of loaded layers';
      if (!kind || b !== 'fs') return 'Other';
      // A layer's size is its tar's content, where a symbolic link has none; a container's counts it.
      return kind === 'committed' && st.isSymbolicLink() ? 'Symbolic links in layers' : 'docker';
    }
    case 'volumes':
      return b === '_data' ? 'docker' : b === 'opts.json' ? 'Metadata' : 'Other';
    case 'builder':
      if (a === 'cache-mounts') return /\.new-\d+-\d+$/.test(b ?? '') ? 'Work in progress' : 'docker';
      return a === 'contexts' ? 'Work in progress' : 'Other';
    case 'containers':
      return b?.startsWith('container.log') ? 'Container logs' : 'Container files';
    default:
      return 'Other';
  }
}

/**
 * Walks the data root as `du -sbx` does: apparent sizes, every directory's own size too, a file
 * with several links once, nothing below a mount point (a running container's rootfs, a mounted
 * volume) nor the mount point itself. Confined as the layer views are: each directory is opened
 * O_NOFOLLOW and its entries looked up through its descriptor, so a container swapping a
 * directory of its writable layer for a link cannot lead the walk outside.
 */
async function walk(root: string, owner: (rel: string[], st: Stats) => Owner): Promise<{ total: number; counted: number; parts: Map<Kind, { Count: number; Size: number }> }> {
  const rootStat = await fsp.lstat(root);
  const seen = new Set<string>();
  const parts = new Map<Kind, { Count: number; Size: number }>();
  let total = 0;
  let counted = 0;
  const add = (rel: string[], st: Stats): void => {
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += st.size;
    const who = owner(rel, st);
    if (who === 'docker') {
      counted += st.size;
      return;
    }
    const p = parts.get(who) ?? { Count: 0, Size: 0 };
    p.Count++;
    p.Size += st.size;
    parts.set(who, p);
  };
  /** `dir`: a path that names the directory (its parent's descriptor and its name, below the root). */
  const inside = async (dir: string, rel: string[]): Promise<void> => {
    const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      if (isNotFound(err) || err.code === 'ELOOP' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!fh) return;
    try {
      const self = `/proc/self/fd/${fh.fd}`;
      const names = await fsp.readdir(self);
      const stats = await lstatAll(names.map((n) => path.join(self, n)));
      for (let i = 0; i < names.length; i++) {
        const st = stats[i];
        if (!st || st.dev !== rootStat.dev) continue;
        add([...rel, names[i]!], st);
        if (st.isDirectory()) await inside(path.join(self, names[i]!), [...rel, names[i]!]);
      }
    } finally {
      await fh.close();
    }
  };
  add([], rootStat);
  await inside(root, []);
  return { total, counted, parts };
}
