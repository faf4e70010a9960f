// Which committed layers are in use, and the removal of those that are not: after an rmi or a
// failed creation, and at start-up with what interrupted work left. The rules that keep a record
// from naming a removed layer are in docs/architecture.md (Faults).
import type { Snapshotter, SnapshotInfo } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import { logger } from '../../util/logger.js';
import type { Image } from './image-types.js';

export interface LayerSweepDeps {
  snapshots: Snapshotter;
  content: ContentStore;
  /** The images in memory, by id (the image service's own map: read, never written here). */
  images: ReadonlyMap<string, Image>;
}

export class LayerSweep {
  /** Image creations under way (see creating()). */
  private readonly inflight = new Set<{ since: number }>();

  constructor(private readonly deps: LayerSweepDeps) {}

  /**
   * Runs `fn` (which creates layers and then the image that uses them) with its layers safe from
   * removeUnused: a layer made, looked up or built on since it began is kept until it ends.
   */
  async creating<T>(fn: () => Promise<T>): Promise<T> {
    const token = { since: Date.now() };
    this.inflight.add(token);
    try {
      return await fn();
    } finally {
      this.inflight.delete(token);
    }
  }

  /**
   * Committed layers no image and no container stands on are removed from disk, and with them
   * their layer tars in the content store once no remaining layer has the same diff id
   * (the same tar can sit on different parents). Each layer is judged on the state of the moment
   * it is removed (Snapshotter.remove forgets it in the same tick), never on a list made before
   * an await: images recorded, layers pinned or used meanwhile are seen.
   */
  async removeUnused(): Promise<void> {
    for (let s = this.nextUnused(); s !== undefined; s = this.nextUnused()) {
      await this.deps.snapshots.remove(s.key);
      if (s.diffId && !this.deps.snapshots.list().some((o) => o.diffId === s.diffId)) await this.deps.content.delete(s.diffId);
    }
  }

  /** Whether an image, a writable snapshot or a write in progress stands on the layer now. */
  inUse(key: string): boolean {
    return this.used().has(key);
  }

  /**
   * At start-up, after the containers are loaded: what interrupted work left — writable snapshots
   * of no container (a create cut short), committed layers of no image (a pull, load or commit cut
   * short before its image was recorded, or above a gap: ImageService.init) and blobs that are
   * neither an image's config nor a layer's tar — is removed.
   */
  async removeOrphans(containerIds: Set<string>): Promise<void> {
    const snaps = this.deps.snapshots;
    for (const s of snaps.list()) {
      if (s.kind !== 'active' || containerIds.has(s.key)) continue;
      logger.info(`removing orphan snapshot ${s.key}`);
      await snaps.remove(s.key);
    }
    await this.removeUnused();
    const keep = new Set<string>([...this.deps.images.keys(), ...snaps.list().flatMap((s) => (s.diffId ? [s.diffId] : []))]);
    for await (const digest of this.deps.content.walk()) {
      if (keep.has(digest)) continue;
      logger.info(`removing orphan blob ${digest}`);
      await this.deps.content.delete(digest);
    }
  }

  /** A committed layer nothing uses and no layer stands on (removal goes top-down), if any. */
  private nextUnused(): SnapshotInfo | undefined {
    const snaps = this.deps.snapshots;
    const used = this.used();
    const cutoff = Math.min(...[...this.inflight].map((t) => t.since));
    const parents = new Set(snaps.list().flatMap((s) => (s.parent === undefined ? [] : [s.parent])));
    // Made, looked up or built on since a creation under way began: that creation may stand on it.
    return snaps.list().find((s) => s.kind === 'committed' && !used.has(s.key) && !parents.has(s.key) && snaps.lastUsed(s) < cutoff);
  }

  private used(): Set<string> {
    const snaps = this.deps.snapshots;
    const used = new Set<string>();
    // Chains as far as they go: a broken one (see ImageService.init) must not stop the sweep of the rest.
    const use = (key: string | undefined): void => {
      for (const k of snaps.chainOrMissing(key).keys) used.add(k);
    };
    for (const image of this.deps.images.values()) use(image.topLayer);
    for (const s of snaps.list()) if (s.kind === 'active') use(s.parent);
    for (const k of snaps.pinned()) use(k);
    return used;
  }
}
