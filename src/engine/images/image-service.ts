// Images: a config blob plus a chain of committed layer snapshots, named by references.
import { logger } from '../../util/logger.js';
import path from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, noSuchImage } from '../../errors.js';
import type { ImageDeleteResponseItem, ImageInspect, ImageSummary, ImageHistoryEntry } from '../../types/api.js';
import type { ContentStore } from '../../store/content.js';
import { MetadataStore } from '../../store/metadata.js';
import type { ReferenceStore } from '../../store/references.js';
import { chainKeyOf, type Snapshotter } from '../../snapshot/overlay.js';
import { digestHex, isDigest, sha256 } from '../../util/ids.js';
import { KeyedLock } from '../../util/lock.js';
import { shortId } from '../../reference/index.js';
import type { EventService } from '../events.js';
import type { Image, ImageConfig, ImageRecord } from './image-types.js';
import { LayerSweep } from './layer-sweep.js';
import { familiarString, parseImageName, type ImageName } from './names.js';
import { type Filters, filterValues, matchesLabels, parseTime } from '../filters.js';

export interface ImageServiceDeps {
  root: string;
  content: ContentStore;
  references: ReferenceStore;
  snapshots: Snapshotter;
  events: EventService;
  /** Ids of containers created from an image (the engine's container service answers). */
  containersUsing: (imageId: string) => { id: string; running: boolean }[];
}

export class ImageService {
  private readonly records: MetadataStore<ImageRecord>;
  private readonly images = new Map<string, Image>();
  private readonly sweep: LayerSweep;
  /** Per image id: its record and config blob written or deleted by one operation at a time. */
  private readonly writing = new KeyedLock();
  /** Images dropped at start-up because a layer of theirs was gone, by id and by their former names: why. */
  private readonly lost = new Map<string, string>();

  constructor(private readonly deps: ImageServiceDeps) {
    this.records = new MetadataStore(path.join(deps.root, 'metadata', 'images'));
    this.sweep = new LayerSweep({ snapshots: deps.snapshots, content: deps.content, images: this.images });
  }

  async init(): Promise<void> {
    await this.records.init();
    for (const record of await this.records.list()) {
      // One image that cannot be loaded does not keep the daemon down (dockerd logs and skips it too).
      await this.load(record).catch((err: Error) => logger.error(`image ${String(record.id)}: ${err.message}; skipped`));
    }
  }

  private async load(record: ImageRecord): Promise<void> {
    let config: ImageConfig;
    try {
      config = await this.deps.content.readJson<ImageConfig>(record.id);
    } catch {
      // A record whose config blob is gone is unusable; drop it rather than serve a broken image.
      await this.records.delete(digestHex(record.id));
      return;
    }
    const topLayer = chainKeyOf(config.rootfs.diff_ids);
    const { missing } = this.deps.snapshots.chainOrMissing(topLayer);
    if (missing !== undefined) await this.dropBroken(record, missing);
    else this.images.set(record.id, { record, config, topLayer });
  }

  /**
   * An image one of whose layers is gone (no path of Berth's leaves one: this is the net under
   * them) cannot run, save or push. As dockerd skips such an image at start-up, it is dropped —
   * logged, its record and names removed, so its remaining layers and blobs are swept as orphans
   * — and a later lookup of it says why it is gone; the daemon starts either way.
   */
  private async dropBroken(record: ImageRecord, missing: string): Promise<void> {
    const names = this.deps.references.referencesTo(record.id);
    const why = `its layer ${missing} was missing at start-up, so the image was removed; pull, load or build it again`;
    logger.error(`image ${record.id}${names.length ? ` (${names.map(familiarString).join(', ')})` : ''}: layer ${missing} does not exist; removing the image`);
    this.lost.set(record.id, why);
    for (const name of names) {
      this.lost.set(name, why);
      await this.deps.references.delete(name);
    }
    await this.records.delete(digestHex(record.id));
  }

  all(): Image[] {
    return [...this.images.values()];
  }

  get(id: string): Image | undefined {
    return this.images.get(id);
  }

  /** Stores a new image from its config (its layers must already be snapshots). Idempotent. */
  create(config: ImageConfig, parent?: string): Promise<Image> {
    const configJson = JSON.stringify(config);
    return this.writeImage(sha256(configJson), config, parent, () => this.deps.content.put(configJson));
  }

  /**
   * Records an image whose config blob is already in the content store byte for byte (load keeps
   * a config's exact bytes, so the id survives a round trip). Idempotent; a known image keeps its record.
   */
  register(id: string, config: ImageConfig, parent?: string): Promise<Image> {
    return this.writeImage(id, config, parent);
  }

  /**
   * Stores an image from config bytes exactly as a registry served them, so the image id is the
   * registry's config digest (re-serialising would change it). Its layers must be snapshots.
   */
  createFromConfigBlob(raw: Buffer, config: ImageConfig): Promise<Image> {
    return this.writeImage(sha256(raw), config, undefined, () => this.deps.content.put(raw));
  }

  /**
   * Writes one image: its config blob (unless it is stored already), then its record. Its layers
   * are pinned from the check until the image is in memory, where removeUnusedLayers sees it (a
   * record written for layers removed meanwhile would name layers that are gone), and the write
   * holds the id's lock, which an rmi of the same id takes too (its config blob deleted after ours
   * was stored would leave a record without its config).
   */
  private async writeImage(id: string, config: ImageConfig, parent: string | undefined, putConfig?: () => Promise<unknown>): Promise<Image> {
    const topLayer = chainKeyOf(config.rootfs.diff_ids);
    if (topLayer !== undefined && !this.deps.snapshots.get(topLayer)) {
      throw new InvalidParameterError(`image config refers to a layer that is not present`);
    }
    const unpin = this.deps.snapshots.pin(topLayer);
    try {
      return await this.writing.run(id, async () => {
        const existing = this.images.get(id);
        if (existing) return existing;
        await putConfig?.();
        const record: ImageRecord = parent === undefined ? { id } : { id, parent };
        try {
          await this.records.put(digestHex(id), record);
        } catch (err) {
          // No image, no config blob: a failed creation leaves nothing behind.
          await this.deps.content.delete(id).catch(() => undefined);
          throw err;
        }
        const image: Image = { record, config, topLayer };
        this.images.set(id, image);
        this.lost.delete(id);
        return image;
      });
    } finally {
      unpin();
    }
  }

  /**
   * Finds an image by full or short id, or by reference; Docker's lookup order: a reference
   * that exists wins over an id prefix.
   */
  resolve(ref: string): Image {
    const found = this.lookup(ref);
    if (!found) throw this.lostError(ref) ?? noSuchImage(ref);
    return found;
  }

  /** A "No such image" that says why, for an image dropped at start-up (see dropBroken). */
  private lostError(ref: string): NotFoundError | undefined {
    if (this.lost.size === 0) return undefined;
    let why = this.lost.get(ref.startsWith('sha256:') ? ref : `sha256:${ref}`);
    if (why === undefined) {
      try {
        why = this.lost.get(parseImageName(ref).canonical);
      } catch {
        return undefined;
      }
    }
    return why === undefined ? undefined : new NotFoundError(`No such image: ${ref} (${why})`);
  }

  lookup(ref: string): Image | undefined {
    if (!ref) return undefined;
    const asId = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
    if (isDigest(asId) && this.images.has(asId)) return this.images.get(asId);
    let name: ImageName | undefined;
    let parseError: unknown;
    try {
      name = parseImageName(ref);
    } catch (err) {
      name = undefined;
      parseError = err;
    }
    if (name) {
      const id = this.deps.references.get(name.canonical);
      if (id && this.images.has(id)) return this.images.get(id);
    }
    if (/^(sha256:)?[a-f0-9]{1,64}$/.test(ref)) {
      const hex = ref.replace(/^sha256:/, '');
      const matches = [...this.images.keys()].filter((id) => digestHex(id).startsWith(hex));
      if (matches.length === 1) return this.images.get(matches[0]);
    }
    if (!name && !/^(sha256:)?[a-f0-9]+$/.test(ref)) {
      throw parseError instanceof InvalidParameterError ? parseError : new InvalidParameterError(`invalid reference format`);
    }
    return undefined;
  }

  repoTags(id: string): string[] {
    return this.deps.references
      .referencesTo(id)
      .filter((r) => !r.includes('@'))
      .map(familiarString);
  }

  repoDigests(id: string): string[] {
    const fromRefs = this.deps.references
      .referencesTo(id)
      .filter((r) => r.includes('@'))
      .map(familiarString);
    return [...new Set([...(this.images.get(id)?.record.repoDigests ?? []), ...fromRefs])].sort();
  }

  async tag(source: string, target: string): Promise<void> {
    const image = this.resolve(source);
    const name = parseImageName(target);
    if (name.digest) throw new InvalidParameterError('refusing to create a tag with a digest reference');
    await this.deps.references.set(name.canonical, image.record.id);
    image.record.lastTagTime = new Date().toISOString();
    // An rmi during the await above deleted the record: writing it again would bring back an
    // image whose layers are being removed.
    if (this.images.get(image.record.id) === image) await this.records.put(digestHex(image.record.id), image.record);
    this.deps.events.emit('image', 'tag', image.record.id, { name: familiarString(name.canonical) });
  }

  /**
   * What an image takes on disk, as dockerd with the containerd image store counts it: its
   * unpacked layers plus the blobs the content store keeps for it (its config and the layer tars
   * kept for save and push; layers made here by commit or build keep none).
   */
  async size(image: Image): Promise<number> {
    let total = 0;
    for (const key of this.deps.snapshots.chain(image.topLayer)) total += await this.deps.snapshots.usage(key);
    for (const bytes of (await this.blobs(image)).values()) total += bytes;
    return total;
  }

  /** The blobs present for an image, by digest: its config and its layers' tars. */
  async blobs(image: Image): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const digests = [image.record.id, ...this.deps.snapshots.chain(image.topLayer).flatMap((k) => this.deps.snapshots.get(k)?.diffId ?? [])];
    for (const d of digests) {
      if (out.has(d)) continue;
      const info = await this.deps.content.info(d);
      if (info) out.set(d, info.size);
    }
    return out;
  }

  /** `system df`: the part of each image's layers and blobs that other images use too (Docker's SharedSize). */
  async fillSharedSizes(list: ImageSummary[]): Promise<void> {
    const users = new Map<string, number>();
    const parts = new Map<string, { chain: string[]; blobs: Map<string, number> }>();
    for (const image of this.images.values()) {
      const chain = this.deps.snapshots.chain(image.topLayer);
      const blobs = await this.blobs(image);
      parts.set(image.record.id, { chain, blobs });
      for (const k of [...chain, ...blobs.keys()]) users.set(k, (users.get(k) ?? 0) + 1);
    }
    for (const s of list) {
      let shared = 0;
      const p = parts.get(s.Id);
      for (const k of p?.chain ?? []) if ((users.get(k) ?? 0) > 1) shared += await this.deps.snapshots.usage(k);
      for (const [d, bytes] of p?.blobs ?? []) if ((users.get(d) ?? 0) > 1) shared += bytes;
      s.SharedSize = shared;
    }
  }

  /**
   * `system df`'s LayersSize: every committed layer and every blob an image or a layer owns, each
   * once (what removing every image would free).
   */
  async layersSize(): Promise<number> {
    let total = 0;
    for (const s of this.deps.snapshots.list()) if (s.kind === 'committed') total += await this.deps.snapshots.usage(s.key);
    for (const d of this.layerBlobs()) total += (await this.deps.content.info(d))?.size ?? 0;
    return total;
  }

  /** Digests of the blobs LayersSize counts: every image's config and every committed layer's tar. */
  layerBlobs(): Set<string> {
    const out = new Set<string>(this.images.keys());
    for (const s of this.deps.snapshots.list()) if (s.kind === 'committed' && s.diffId) out.add(s.diffId);
    return out;
  }

  async summaries(opts: { all: boolean; digests: boolean; filters: Filters }): Promise<ImageSummary[]> {
    const f = opts.filters;
    const childOf = new Set([...this.images.values()].map((i) => i.record.parent).filter((p): p is string => !!p));
    const beforeImages = filterValues(f, 'before').map((r) => this.resolve(r));
    const sinceImages = filterValues(f, 'since').map((r) => this.resolve(r));
    const out: ImageSummary[] = [];
    for (const image of this.images.values()) {
      const id = image.record.id;
      const tags = this.repoTags(id);
      const digests = this.repoDigests(id);
      const dangling = tags.length === 0;
      // Untagged parents of other images are intermediate layers; `-a` shows them.
      if (!opts.all && dangling && childOf.has(id) && !filterValues(f, 'dangling').includes('true')) continue;
      if (!this.matchesFilters(image, tags, dangling, f)) continue;
      const created = Date.parse(image.config.created ?? '') || 0;
      if (beforeImages.some((b) => created >= (Date.parse(b.config.created ?? '') || 0))) continue;
      if (sinceImages.some((s) => created <= (Date.parse(s.config.created ?? '') || 0))) continue;
      const size = await this.size(image);
      // As Docker does, a reference filter also narrows the tags listed to the matching ones.
      const refFilter = filterValues(f, 'reference');
      out.push({
        Id: id,
        ParentId: image.record.parent ?? '',
        RepoTags: refFilter.length > 0 ? tags.filter((t) => refFilter.some((p) => matchReference(p, t))) : tags,
        RepoDigests: digests,
        Created: Math.floor(created / 1000),
        Size: size,
        SharedSize: -1,
        VirtualSize: size,
        Labels: image.config.config?.Labels ?? {},
        Containers: -1,
      });
    }
    return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  private matchesFilters(image: Image, tags: string[], dangling: boolean, f: Filters): boolean {
    for (const d of filterValues(f, 'dangling')) {
      if (d !== 'true' && d !== 'false' && d !== '1' && d !== '0') throw new InvalidParameterError(`invalid filter 'dangling=${d}'`);
      if ((d === 'true' || d === '1') !== dangling) return false;
    }
    const refs = filterValues(f, 'reference');
    if (refs.length > 0 && !refs.some((pattern) => tags.some((t) => matchReference(pattern, t)))) return false;
    return matchesLabels(image.config.config?.Labels ?? {}, f);
  }

  async inspect(ref: string): Promise<ImageInspect> {
    const image = this.resolve(ref);
    const c = image.config;
    const id = image.record.id;
    const chain = this.deps.snapshots.chain(image.topLayer);
    const dirs = chain.map((k) => this.deps.snapshots.fsDir(k));
    const size = await this.size(image);
    return {
      Id: id,
      RepoTags: this.repoTags(id),
      RepoDigests: this.repoDigests(id),
      Parent: image.record.parent ?? '',
      // moby: an image without its own comment (a commit) shows its newest history entry's.
      Comment: c.comment || (c.history?.length ? (c.history[c.history.length - 1].comment ?? '') : ''),
      Created: c.created ?? '0001-01-01T00:00:00Z',
      Container: c.container ?? '',
      ContainerConfig: { ...emptyImageContainerConfig(), ...(c.container_config ?? {}) },
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: { ...emptyImageContainerConfig(), ...(c.config ?? {}) },
      Architecture: c.architecture,
      Variant: c.variant,
      Os: c.os,
      Size: size,
      VirtualSize: size,
      GraphDriver: {
        Name: 'overlay2',
        Data:
          dirs.length === 0
            ? {}
            : dirs.length === 1
              ? { MergedDir: path.join(path.dirname(dirs[0]), 'merged'), UpperDir: dirs[0], WorkDir: path.join(path.dirname(dirs[0]), 'work') }
              : {
                  LowerDir: dirs.slice(1).join(':'),
                  MergedDir: path.join(path.dirname(dirs[0]), 'merged'),
                  UpperDir: dirs[0],
                  WorkDir: path.join(path.dirname(dirs[0]), 'work'),
                },
      },
      RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
      Metadata: { LastTagTime: image.record.lastTagTime ?? '0001-01-01T00:00:00Z' },
    };
  }

  /**
   * `docker history`, as moby answers it: one entry per history record, newest first, layer
   * sizes for the records that made a layer (0 for metadata-only ones); then, walking the
   * parent records from the image, the first entry gets the image's id and tags, the next its
   * parent's, and so on while parents are known; the rest stay `<missing>`.
   */
  history(ref: string): ImageHistoryEntry[] {
    const image = this.resolve(ref);
    const layerKeys = this.deps.snapshots.chain(image.topLayer).reverse();
    let layerIndex = 0;
    const out: ImageHistoryEntry[] = [];
    for (const h of image.config.history ?? []) {
      const key = h.empty_layer ? undefined : layerKeys[layerIndex++];
      out.unshift({
        Id: '<missing>',
        Created: Math.floor((Date.parse(h.created ?? '') || 0) / 1000),
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: key ? (this.deps.snapshots.get(key)?.size ?? 0) : 0,
        Comment: h.comment ?? '',
      });
    }
    let cur: Image | undefined = image;
    for (const entry of out) {
      if (!cur) break;
      entry.Id = cur.record.id;
      const tags = this.repoTags(cur.record.id);
      entry.Tags = tags.length ? tags : null;
      cur = cur.record.parent ? this.images.get(cur.record.parent) : undefined;
    }
    return out;
  }

  /**
   * `docker rmi`, with Docker's rules: a name is untagged first and the image goes only when no
   * name is left; an id deletes the image with its names. Conflicts are hard (child images, a
   * running container: never forced) or soft (other names, a stopped container: `-f` overrides).
   */
  async remove(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteResponseItem[]> {
    const image = this.resolve(ref);
    const id = image.record.id;
    const out: ImageDeleteResponseItem[] = [];
    let untaggedByName = false;
    if (!isIdPrefix(id, ref)) {
      const name = parseImageName(ref);
      const users = this.deps.containersUsing(id);
      if (!opts.force && isSingleReference(this.deps.references.referencesTo(id)) && users.length > 0) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${familiarString(name.canonical)}" (must force) - container ${shortId(users[0].id)} is using its referenced image ${shortId(id)}`,
        );
      }
      await this.untag(name.canonical, id, out);
      if (!name.digest) {
        // The last tag of a repository takes that repository's digest references with it.
        const remaining = this.deps.references.referencesTo(id).filter((r) => repositoryOf(r) === repositoryOf(name.canonical));
        if (!remaining.some((r) => !r.includes('@'))) for (const r of remaining) await this.untag(r, id, out);
      }
      if (this.deps.references.referencesTo(id).length > 0) return out;
      untaggedByName = true;
    } else if (isSingleReference(this.deps.references.referencesTo(id))) {
      const conflict = this.deleteConflict(id, { children: true, running: true, stopped: !opts.force, references: false });
      if (conflict) throw conflict.error;
      for (const r of this.deps.references.referencesTo(id)) await this.untag(r, id, out);
    }
    await this.deleteImage(image, out, { force: opts.force, prune: !opts.noPrune, quiet: untaggedByName });
    return out;
  }

  /** The first reason the image can't be deleted among those asked about, in Docker's order. */
  private deleteConflict(id: string, check: { children: boolean; running: boolean; references: boolean; stopped: boolean }): { error: ConflictError; used: boolean } | undefined {
    const conflict = (hard: boolean, used: boolean, why: string) => ({
      error: new ConflictError(`conflict: unable to delete ${shortId(id)} (${hard ? 'cannot' : 'must'} be forced) - ${why}`),
      used,
    });
    const users = this.deps.containersUsing(id);
    if (check.children && this.hasChildren(id)) return conflict(true, false, 'image has dependent child images');
    const running = users.find((u) => u.running);
    if (check.running && running) return conflict(true, true, `image is being used by running container ${shortId(running.id)}`);
    if (check.references && this.deps.references.referencesTo(id).length > 0) return conflict(false, false, 'image is referenced in multiple repositories');
    const stopped = users.find((u) => !u.running);
    if (check.stopped && stopped) return conflict(false, true, `image is being used by stopped container ${shortId(stopped.id)}`);
    return undefined;
  }

  private async untag(canonical: string, id: string, out: ImageDeleteResponseItem[]): Promise<void> {
    await this.deps.references.delete(canonical);
    out.push({ Untagged: familiarString(canonical) });
    this.deps.events.emit('image', 'untag', id, { name: familiarString(canonical) });
  }

  /**
   * Deletes an image and its remaining names; with `prune`, untagged parents follow. `quiet`
   * (after the last name was untagged, or for parents) skips an image still in use instead of failing.
   */
  private async deleteImage(image: Image, out: ImageDeleteResponseItem[], opts: { force: boolean; prune: boolean; quiet: boolean }): Promise<void> {
    const id = image.record.id;
    const conflict = this.deleteConflict(id, { children: true, running: true, references: !opts.force, stopped: !opts.force });
    if (conflict) {
      const dangling = this.deps.references.referencesTo(id).length === 0 && !this.hasChildren(id);
      if (opts.quiet && (!dangling || conflict.used)) return;
      throw conflict.error;
    }
    for (const r of this.deps.references.referencesTo(id)) await this.untag(r, id, out);
    this.images.delete(id);
    await this.writing.run(id, async () => {
      await this.records.delete(digestHex(id));
      await this.deps.content.delete(id);
    });
    out.push({ Deleted: id });
    this.deps.events.emit('image', 'delete', id, { name: id });
    await this.removeUnusedLayers();
    const parent = image.record.parent ? this.images.get(image.record.parent) : undefined;
    if (opts.prune && parent) await this.deleteImage(parent, out, { force: false, prune: true, quiet: true });
  }

  private hasChildren(id: string): boolean {
    return [...this.images.values()].some((i) => i.record.parent === id);
  }

  /**
   * Runs `fn` (which creates layers and then the image that uses them) with its layers safe from
   * removeUnusedLayers: until the image exists they look unused (LayerSweep.creating).
   */
  creating<T>(fn: () => Promise<T>): Promise<T> {
    return this.sweep.creating(fn);
  }

  /** Removes the committed layers nothing uses (LayerSweep.removeUnused). */
  removeUnusedLayers(): Promise<void> {
    return this.sweep.removeUnused();
  }

  /** Whether an image, a writable snapshot or a write in progress stands on the layer now. */
  layerInUse(key: string): boolean {
    return this.sweep.inUse(key);
  }

  /** At start-up, after the containers are loaded: what interrupted work left (LayerSweep.removeOrphans). */
  removeOrphans(containerIds: Set<string>): Promise<void> {
    return this.sweep.removeOrphans(containerIds);
  }

  async prune(opts: { all: boolean; filters: Filters }): Promise<{ deleted: ImageDeleteResponseItem[]; reclaimed: number }> {
    const deleted: ImageDeleteResponseItem[] = [];
    let reclaimed = 0;
    const until = filterValues(opts.filters, 'until');
    // Children first: a parent becomes removable once the images on top of it are gone.
    for (let progress = true; progress; ) {
      progress = false;
      for (const image of [...this.images.values()]) {
        const id = image.record.id;
        if (!this.images.has(id)) continue;
        if (this.deps.containersUsing(id).length > 0) continue;
        if (!opts.all && this.repoTags(id).length > 0) continue;
        if (this.hasChildren(id)) continue;
        if (!matchesLabels(image.config.config?.Labels ?? {}, opts.filters)) continue;
        if (until.length && !until.every((u) => (Date.parse(image.config.created ?? '') || 0) < parseTime(u))) continue;
        const before = await this.size(image);
        const items = await this.remove(id, { force: true, noPrune: false });
        deleted.push(...items);
        reclaimed += before;
        progress = true;
      }
    }
    return { deleted, reclaimed };
  }
}

/** Whether `ref` names the image by (a prefix of) its id rather than by a name. */
function isIdPrefix(id: string, ref: string): boolean {
  return id.startsWith(ref) || digestHex(id).startsWith(ref);
}

/** repo of a canonical `repo:tag` or `repo@digest`. */
function repositoryOf(canonical: string): string {
  const at = canonical.indexOf('@');
  if (at >= 0) return canonical.slice(0, at);
  const colon = canonical.lastIndexOf(':');
  return colon > canonical.lastIndexOf('/') ? canonical.slice(0, colon) : canonical;
}

/** At most one tag, and digest references only in that tag's repository (Docker's rule for untagging by id). */
function isSingleReference(refs: string[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => !r.includes('@'));
  if (tags.length > 1) return false;
  const digestRepos = new Set(refs.filter((r) => r.includes('@')).map(repositoryOf));
  return digestRepos.size === 1 && digestRepos.has(repositoryOf(tags[0] ?? refs[0]));
}


/** `reference=` filter: a glob on the familiar name, with or without tag. */
function matchReference(pattern: string, familiar: string): boolean {
  const glob = (p: string): RegExp => new RegExp('^' + p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  // The tag starts at the last ':' after the last '/' (a registry may carry a port).
  const tagAt = familiar.lastIndexOf(':');
  const repo = tagAt > familiar.lastIndexOf('/') ? familiar.slice(0, tagAt) : familiar;
  return glob(pattern).test(familiar) || glob(pattern).test(repo);
}

function emptyImageContainerConfig(): Record<string, unknown> {
  return {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: '',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  };
}

