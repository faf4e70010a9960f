// Overlay snapshotter, shaped like containerd's: committed snapshots are read-only layer
// directories keyed by chain id and shared by every image and container that uses them;
// an active snapshot is one writable upper dir on top of such a chain.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ConflictError, NotFoundError } from '../errors.js';
import { MetadataStore } from '../store/metadata.js';
import { directorySize } from '../util/fs.js';
import type { IdMapping } from '../util/idmap.js';
import { KeyedLock } from '../util/lock.js';
import { isMountPoint, mount, unmount } from '../util/mount.js';

export type SnapshotKind = 'committed' | 'active';

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  /** Key of the committed snapshot below this one; absent for a base layer. */
  parent?: string;
  created: string;
  /** For committed layers: sha256 of the layer's uncompressed tar. */
  diffId?: string;
  /** Bytes of this snapshot alone (not its parents). */
  size?: number;
  /**
   * Set when the layer's tar is not kept in the content store: it is regenerated from the
   * directory (commit and build layers), `tarSize` bytes whose digest is `diffId`.
   */
  tarSize?: number;
  /** The tar is regenerated from the directory and the `tar-split` beside it (loaded layers; archive/tar-split.ts). */
  tarSplit?: boolean;
}

/** What a layer's unpacking (or commit) tells the snapshotter about it. */
export interface LayerContent {
  diffId: string;
  size: number;
  tarSize?: number;
  tarSplit?: boolean;
}

export interface OverlayMount {
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  target: string;
}

/** A layer unpacked by unpackDetached, waiting for its parent to be committed. */
export interface DetachedLayer extends Readonly<LayerContent> {
  readonly tmpDir: string;
}

export class Snapshotter {
  readonly dir: string;
  private readonly meta: MetadataStore<SnapshotInfo>;
  private readonly infos = new Map<string, SnapshotInfo>();
  private readonly committing = new KeyedLock();
  /** Keys a write in progress stands on (a parent being built on, a layer an image is being recorded on). */
  private readonly pins = new Map<string, number>();
  /** When each committed layer was last looked up or built on (ms; in memory): see lastUsed(). */
  private readonly touched = new Map<string, number>();

  constructor(
    root: string,
    /** berthd --userns-remap: layers hold the mapped (host) ids, and a container's writable layer is the mapped root's. */
    readonly ids?: IdMapping,
  ) {
    this.dir = path.join(root, 'snapshots');
    this.meta = new MetadataStore(path.join(root, 'metadata', 'snapshots'));
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    await fsp.mkdir(path.join(this.dir, 'empty'), { recursive: true });
    await this.meta.init();
    for (const info of await this.meta.list()) this.infos.set(info.key, info);
    await this.removeIncomplete();
  }

  /** Directories without metadata are layers whose extraction was interrupted: never valid. */
  private async removeIncomplete(): Promise<void> {
    for (const name of await fsp.readdir(this.dir)) {
      if (name === 'empty' || this.infos.has(name)) continue;
      await fsp.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  get(key: string): SnapshotInfo | undefined {
    const info = this.infos.get(key);
    if (info) this.touched.set(key, Date.now());
    return info;
  }

  /**
   * When the layer was made, or last looked up or built on since: an image creation under way
   * since then may have found it present and be about to record an image on it (a pull or a
   * load skipping a layer it has, a commit identical to an earlier one), so removeUnusedLayers
   * keeps it until that creation ends.
   */
  lastUsed(info: SnapshotInfo): number {
    return Math.max(Date.parse(info.created) || 0, this.touched.get(info.key) ?? 0);
  }

  /** Holds `key` (and so the chain below it) until the returned function is called. */
  pin(key: string | undefined): () => void {
    if (key === undefined) return () => undefined;
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(key) ?? 1) - 1;
      if (n > 0) this.pins.set(key, n);
      else this.pins.delete(key);
    };
  }

  /** Keys pinned now: with the chains below them, not to be removed. */
  pinned(): string[] {
    return [...this.pins.keys()];
  }

  list(): SnapshotInfo[] {
    return [...this.infos.values()];
  }

  /** The snapshot's own directory: `fs` and, for a loaded layer, its `tar-split`. */
  layerDir(key: string): string {
    return path.join(this.dir, key);
  }

  fsDir(key: string): string {
    return path.join(this.dir, key, 'fs');
  }

  workDir(key: string): string {
    return path.join(this.dir, key, 'work');
  }

  mergedDir(key: string): string {
    return path.join(this.dir, key, 'merged');
  }

  /**
   * Unpacks a new committed layer on top of `parent`: `fill` writes the layer's content into the
   * given directory and returns its diff id; the snapshot's key is the resulting chain id. Until
   * it is complete the snapshot has no metadata, so a crash leaves nothing that looks valid, and
   * a layer that is already present is kept as it is (layers are shared, never copied).
   */
  async createLayer(parent: string | undefined, fill: (dir: string) => Promise<LayerContent>): Promise<SnapshotInfo> {
    if (parent !== undefined) this.mustGet(parent);
    const layer = await this.unpackDetached(fill);
    return this.commitDetached(parent, layer);
  }

  /**
   * The first half of createLayer, for a layer unpacked before its parent exists (a pull
   * unpacks each layer as it downloads): a layer's files do not depend on the layers below,
   * only its key does. The result is nothing until commitDetached (or discardDetached).
   */
  async unpackDetached(fill: (dir: string) => Promise<LayerContent>): Promise<DetachedLayer> {
    const tmpDir = path.join(this.dir, `tmp-${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(path.join(tmpDir, 'fs'), { recursive: true, mode: 0o755 });
    try {
      return { tmpDir, ...(await fill(path.join(tmpDir, 'fs'))) };
    } catch (err) {
      await fsp.rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Makes a detached layer the committed snapshot over `parent` (or drops it when that exists). */
  async commitDetached(parent: string | undefined, layer: DetachedLayer): Promise<SnapshotInfo> {
    const { tmpDir, diffId, size, tarSize, tarSplit } = layer;
    // The parent may not go while its child is being recorded (the child's metadata would name a
    // layer that is gone, and every chain through it would be broken).
    let unpin = (): void => undefined;
    try {
      if (parent !== undefined) this.mustGet(parent);
      unpin = this.pin(parent);
      const key = chainId(parent, diffId);
      // Two unpacks of the same layer (a pull racing an import or a load) commit one after the
      // other, and after a removal of the same key has finished with its directory.
      return await this.committing.run(key, async () => {
        const existing = this.get(key);
        if (existing) {
          await fsp.rm(tmpDir, { recursive: true, force: true });
          return existing;
        }
        await fsp.rename(tmpDir, path.join(this.dir, key));
        const info: SnapshotInfo = { key, kind: 'committed', parent, created: new Date().toISOString(), diffId, size, ...(tarSize !== undefined ? { tarSize } : {}), ...(tarSplit ? { tarSplit } : {}) };
        await this.meta.put(key, info);
        this.infos.set(key, info);
        return info;
      });
    } catch (err) {
      await fsp.rm(tmpDir, { recursive: true, force: true });
      throw err;
    } finally {
      unpin();
    }
  }

  /**
   * Takes an active snapshot's upper dir (unmounted, with nothing running on it) as a detached
   * layer, to be committed in place rather than copied (containerd commits an active snapshot
   * the same way); the snapshot is left with an empty upper dir.
   */
  async detachUpper(key: string, sealed: LayerContent): Promise<DetachedLayer> {
    const info = this.mustGet(key);
    if (info.kind !== 'active') throw new ConflictError(`snapshot ${key} is not active`);
    const tmpDir = path.join(this.dir, `tmp-${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(tmpDir, { mode: 0o755 });
    await fsp.rename(this.fsDir(key), path.join(tmpDir, 'fs'));
    await fsp.mkdir(this.fsDir(key), { mode: 0o755 });
    return { tmpDir, ...sealed };
  }

  async discardDetached(layer: DetachedLayer): Promise<void> {
    await fsp.rm(layer.tmpDir, { recursive: true, force: true });
  }

  /** A writable snapshot over `parent` (a committed chain); nothing below is copied. */
  async prepare(key: string, parent: string | undefined): Promise<SnapshotInfo> {
    if (this.infos.has(key)) throw new ConflictError(`snapshot ${key} already exists`);
    if (parent !== undefined) this.mustGet(parent);
    // Until the record is in, nothing else says the parent chain is in use (a `rmi -f` racing a create).
    const unpin = this.pin(parent);
    try {
      const base = path.join(this.dir, key);
      await fsp.mkdir(path.join(base, 'fs'), { recursive: true, mode: 0o755 });
      await fsp.mkdir(path.join(base, 'work'), { recursive: true, mode: 0o700 });
      await fsp.mkdir(path.join(base, 'merged'), { recursive: true, mode: 0o755 });
      // The upper dir is the union's root directory: container root owns "/", as without remapping.
      if (this.ids) await fsp.chown(path.join(base, 'fs'), this.ids.root.uid, this.ids.root.gid);
      const info: SnapshotInfo = { key, kind: 'active', parent, created: new Date().toISOString() };
      await this.meta.put(key, info);
      this.infos.set(key, info);
      return info;
    } finally {
      unpin();
    }
  }

  /**
   * The chain below and including `key`, top first, as far as it goes: `missing` names the first
   * key that has no snapshot (a chain a crash or a bug broke), which `chain` would throw for.
   */
  chainOrMissing(key: string | undefined): { keys: string[]; missing?: string } {
    const keys: string[] = [];
    const seen = new Set<string>();
    for (let k = key; k !== undefined && !seen.has(k); k = this.infos.get(k)?.parent) {
      if (!this.infos.has(k)) return { keys, missing: k };
      seen.add(k);
      keys.push(k);
    }
    return { keys };
  }

  /**
   * Keys of the committed chain below and including `key`, top first. A link missing below
   * `key` (see chainOrMissing) is a conflict, not a 404: what stands on it exists, it just
   * cannot be used (only removed).
   */
  chain(key: string | undefined): string[] {
    const { keys, missing } = this.chainOrMissing(key);
    if (missing === undefined) return keys;
    if (missing === key) throw new NotFoundError(`snapshot ${key} does not exist`);
    throw new ConflictError(`layer ${missing} below snapshot ${key} does not exist: it cannot be used, only removed`);
  }

  /**
   * Keys of the committed chain a snapshot stands on, top first. A layer missing from it (see
   * chainOrMissing) is a conflict naming that layer: the snapshot exists but cannot be used.
   */
  below(key: string): string[] {
    const info = this.mustGet(key);
    const { keys, missing } = this.chainOrMissing(info.parent);
    if (missing !== undefined) throw new ConflictError(`layer ${missing} below snapshot ${key} does not exist: it cannot be used, only removed`);
    return keys;
  }

  mounts(key: string): OverlayMount {
    const info = this.mustGet(key);
    if (info.kind !== 'active') throw new ConflictError(`snapshot ${key} is not active`);
    const lowers = this.below(key).map((k) => this.fsDir(k));
    return {
      lowerdirs: lowers.length > 0 ? lowers : [path.join(this.dir, 'empty')],
      upperdir: this.fsDir(key),
      workdir: this.workDir(key),
      target: this.mergedDir(key),
    };
  }

  /** Mounts the union view of an active snapshot at its merged dir and returns that path. */
  async mount(key: string): Promise<string> {
    const m = this.mounts(key);
    if (await isMountPoint(m.target)) return m.target;
    // Relative lower paths (resolved against cwd by the kernel) keep the option string short,
    // which is what bounds the number of layers a mount can stack.
    const rel = (p: string): string => path.relative(this.dir, p);
    const opts = `lowerdir=${m.lowerdirs.map(rel).join(':')},upperdir=${rel(m.upperdir)},workdir=${rel(m.workdir)}`;
    mount(m.target, { source: 'overlay', fstype: 'overlay', data: opts, cwd: this.dir });
    return m.target;
  }

  async unmount(key: string): Promise<void> {
    await this.unmountPath(this.mergedDir(key));
  }

  /**
   * Mounts a private read-only union of an active snapshot (its upper dir and the layers below)
   * at `target`, apart from the container's own mount: what `export` packs. The upper dir may be
   * in use by a running container's mount; with index=off the kernel allows that (it warns).
   */
  async mountView(key: string, target: string): Promise<void> {
    const m = this.mounts(key);
    const rel = (p: string): string => path.relative(this.dir, p);
    const opts = `ro,index=off,lowerdir=${[m.upperdir, ...m.lowerdirs].map(rel).join(':')}`;
    mount(target, { source: 'overlay', fstype: 'overlay', data: opts, cwd: this.dir });
  }

  /** Unmounts `target` if it is a mount point; a busy mount (a process still holding a file) is detached lazily rather than left behind. */
  async unmountPath(target: string): Promise<void> {
    if (await isMountPoint(target)) unmount(target);
  }

  async usage(key: string): Promise<number> {
    const info = this.mustGet(key);
    if (info.kind === 'committed' && info.size !== undefined) return info.size;
    return directorySize(this.fsDir(key));
  }

  async remove(key: string): Promise<void> {
    const info = this.infos.get(key);
    if (!info) return;
    for (const other of this.infos.values()) {
      if (other.parent === key) throw new ConflictError(`snapshot ${key} has children`);
    }
    if (info.kind === 'active') await this.unmount(key);
    if (this.infos.get(key) !== info) return;
    this.touched.delete(key);
    // Gone from memory at once, before any await: from here no lookup finds it to build on (a
    // caller that decided it was unused decided in the same tick).
    this.infos.delete(key);
    await this.committing.run(key, async () => {
      // Drop metadata first: a crash midway leaves a directory that init() removes, never a record without data.
      try {
        await this.meta.delete(key);
      } catch (err) {
        this.infos.set(key, info);
        throw err;
      }
      await fsp.rm(path.join(this.dir, key), { recursive: true, force: true });
    });
  }

  private mustGet(key: string): SnapshotInfo {
    const info = this.infos.get(key);
    if (!info) throw new NotFoundError(`snapshot ${key} does not exist`);
    return info;
  }
}

/** OCI chain id (as a snapshot key, hex only): the base layer's diff id, then sha256("parent diffid"). */
export function chainId(parentKey: string | undefined, diffId: string): string {
  if (parentKey === undefined) return diffId.replace(/^sha256:/, '');
  return createHash('sha256').update(`sha256:${parentKey} ${diffId}`).digest('hex');
}

/** Snapshot key of the top layer for a list of diff ids, or undefined for an image with no layers. */
export function chainKeyOf(diffIds: string[]): string | undefined {
  let key: string | undefined;
  for (const d of diffIds) key = chainId(key, d);
  return key;
}
