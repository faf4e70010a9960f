// Berth's read-only layer views (the /berth/… extension endpoints): the layer graph, union views
// of images, containers and single layers, wasted space, and image comparison. Everything is read
// from the snapshot directories without mounting; committed layers never change, so an image's
// merged tree is cached by its top layer.
import { posix } from 'node:path';
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import type { FilesystemChange } from '../../types/api.js';
import type { Efficiency, ImageComparison, LayerGraph, UnionEntry, UnionView, ViewLayer } from '../../types/berth.js';
import { isRunning, type ContainerRecord } from '../containers/container.js';
import { containerLayers, runtimeMountPoints } from '../containers/rootfs-layers.js';
import type { EventService } from '../events.js';
import type { Image } from '../images/image-types.js';
import { compareStacks, type ComparedStack } from './compare.js';
import { chainStack, imageHistory, imageStack, layerGraph } from './graph.js';
import { UnionTree } from './union.js';

export interface LayerServiceDeps {
  snapshots: Snapshotter;
  events: EventService;
  images: () => Image[];
  resolveImage: (ref: string) => Image;
  repoTags: (id: string) => string[];
  containers: () => ContainerRecord[];
  findContainer: (idOrName: string) => ContainerRecord;
  /** `docker diff` of a container. */
  changes: (id: string) => Promise<FilesystemChange[]>;
}

const TREE_CACHE = 8;
/** A running container's writable layer is re-measured at most this often. */
const RUNNING_SIZE_TTL_MS = 2000;
const KIND = { 0: 'C', 1: 'A', 2: 'D' } as const;

/** "/etc/../x" and relative paths are refused: views are addressed by clean absolute paths. */
function cleanPath(p: string | undefined): string {
  const v = p && p !== '' ? p : '/';
  if (!v.startsWith('/') || v.includes('\0')) throw new InvalidParameterError(`path must be absolute: ${v}`);
  const n = posix.normalize(v).replace(/\/+$/, '') || '/';
  if (v.split('/').includes('..')) throw new InvalidParameterError(`path must not contain "..": ${v}`);
  return n;
}

export class LayerService {
  private readonly trees = new Map<string, Promise<UnionTree>>();
  private readonly sizes = new Map<string, { size: number; at: number }>();

  constructor(private readonly deps: LayerServiceDeps) {
    deps.events.subscribe((e) => {
      if (e.Type === 'container') this.sizes.delete(e.Actor.ID);
    });
  }

  graph(): Promise<LayerGraph> {
    return layerGraph({
      snapshots: this.deps.snapshots,
      images: this.deps.images,
      repoTags: this.deps.repoTags,
      containers: this.deps.containers,
      writableSize: (c) => this.writableSize(c),
    });
  }

  private async writableSize(c: ContainerRecord): Promise<number> {
    const hit = this.sizes.get(c.id);
    if (hit && (!isRunning(c) || Date.now() - hit.at < RUNNING_SIZE_TTL_MS)) return hit.size;
    const size = await this.deps.snapshots.usage(c.id).catch(() => 0);
    this.sizes.set(c.id, { size, at: Date.now() });
    return size;
  }

  /** The merged tree of the chain ending at `key` (cached: committed layers never change). */
  private chainTree(key: string | undefined): Promise<UnionTree> {
    const k = key ?? '';
    let t = this.trees.get(k);
    if (!t) {
      const dirs = key === undefined ? [] : this.deps.snapshots.chain(key).map((s) => ({ dir: this.deps.snapshots.fsDir(s) }));
      t = UnionTree.build(dirs, this.deps.snapshots.ids);
      t.catch(() => this.trees.delete(k));
      if (this.trees.size >= TREE_CACHE) this.trees.delete(this.trees.keys().next().value!);
      this.trees.set(k, t);
    }
    return t;
  }

  async imageView(ref: string, path: string | undefined, recursive: boolean): Promise<UnionView> {
    const image = this.deps.resolveImage(ref);
    const tree = await this.chainTree(image.topLayer);
    return view(imageStack(this.deps.snapshots, image), tree, cleanPath(path), recursive);
  }

  /** One committed layer on its own: its files, whiteouts and opaque directories. */
  async layerView(key: string, path: string | undefined, recursive: boolean): Promise<UnionView> {
    const info = this.deps.snapshots.get(key);
    if (!info || info.kind !== 'committed') throw new NotFoundError(`No such layer: ${key}`);
    const tree = await UnionTree.build([{ dir: this.deps.snapshots.fsDir(key) }], this.deps.snapshots.ids);
    const [layer] = chainStack(this.deps.snapshots, key, this.createdBy());
    return view([layer], tree, cleanPath(path), recursive);
  }

  /** A container's writable layer over its image's layers, with its `docker diff` marked. */
  async containerView(idOrName: string, path: string | undefined, recursive: boolean): Promise<UnionView> {
    const c = this.deps.findContainer(idOrName);
    const layers = containerLayers(this.deps.snapshots, c.id);
    if (!layers) throw new NotFoundError(`container ${c.id} has no filesystem`);
    const hide = await runtimeMountPoints(layers);
    const tree = await UnionTree.build([{ dir: layers.upper, hide }, ...layers.lowers.map((dir) => ({ dir }))], this.deps.snapshots.ids);
    const below = layers.parent === undefined ? [] : chainStack(this.deps.snapshots, layers.parent, this.createdBy());
    const writable: ViewLayer = { Id: c.id, DiffId: '', Size: await this.writableSize(c), CreatedBy: `${c.path} ${c.args.join(' ')}`.trim(), Writable: true };
    const v = view([writable, ...below], tree, cleanPath(path), recursive);
    const kinds = new Map((await this.deps.changes(c.id)).map((ch) => [ch.Path, KIND[ch.Kind]]));
    const mark = (entries: UnionEntry[]): void => {
      for (const e of entries) {
        const k = kinds.get(e.Path);
        if (k) e.Change = k;
        if (e.Children) mark(e.Children);
      }
    };
    mark(v.Entries);
    return v;
  }

  /** dive's measure: bytes in the layers that the merged image never shows. */
  async efficiency(ref: string): Promise<Efficiency> {
    const image = this.deps.resolveImage(ref);
    const tree = await this.chainTree(image.topLayer);
    const total = tree.totalBytes;
    const wasted = tree.wastedBytes;
    return { Image: image.record.id, TotalBytes: total, WastedBytes: wasted, Score: total === 0 ? 1 : (total - wasted) / total, Inefficiencies: tree.inefficiencies(50) };
  }

  /** `a` and `b` name images, or `layer:<chain id>` for the stack up to one layer. */
  async compare(a: string, b: string): Promise<ImageComparison> {
    const [sa, sb] = await Promise.all([this.stackOf(a), this.stackOf(b)]);
    return compareStacks(sa, sb);
  }

  private async stackOf(ref: string): Promise<ComparedStack> {
    if (ref.startsWith('layer:')) {
      const key = ref.slice('layer:'.length);
      const info = this.deps.snapshots.get(key);
      if (!info || info.kind !== 'committed') throw new NotFoundError(`No such layer: ${key}`);
      return { name: ref, tree: await this.chainTree(key), keys: this.deps.snapshots.chain(key) };
    }
    const image = this.deps.resolveImage(ref);
    return { name: image.record.id, tree: await this.chainTree(image.topLayer), keys: this.deps.snapshots.chain(image.topLayer) };
  }

  /** Chain id → the instruction that made it, from every image's history. */
  private createdBy(): Map<string, string> {
    const out = new Map<string, string>();
    for (const image of this.deps.images()) {
      for (const h of imageHistory(this.deps.snapshots, image)) if (h.Layer && !out.has(h.Layer)) out.set(h.Layer, h.CreatedBy);
    }
    return out;
  }
}

function view(layers: ViewLayer[], tree: UnionTree, path: string, recursive: boolean): UnionView {
  const at = tree.get(path);
  if (!at) throw new NotFoundError(`no such file or directory: ${path}`);
  const entries = at.Type === 'dir' && !at.Whiteout ? tree.list(path, recursive) : [at];
  return { Layers: layers, Path: path, Entries: entries };
}
