// Images: a config blob plus a chain of committed layer snapshots, named by references.
import path from 'node:path';
import { ConflictError, InvalidParameterError, noSuchImage } from '../../errors.js';
import type { ImageDeleteResponseItem, ImageInspect, ImageSummary, ImageHistoryEntry } from '../../api/types.js';
import type { ContentStore } from '../../store/content.js';
import { MetadataStore } from '../../store/metadata.js';
import type { ReferenceStore } from '../../store/references.js';
import { chainKeyOf, type Snapshotter } from '../../snapshot/overlay.js';
import { digestHex, isDigest } from '../../util/ids.js';
import { shortId } from '../../reference/index.js';
import type { EventService } from '../events.js';
import type { Image, ImageConfig, ImageRecord } from './image-types.js';
import { familiarString, parseImageName, type ImageName } from './names.js';
import { type Filters, filterValues, parseTime } from '../filters.js';

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

  constructor(private readonly deps: ImageServiceDeps) {
    this.records = new MetadataStore(path.join(deps.root, 'metadata', 'images'));
  }

  async init(): Promise<void> {
    await this.records.init();
    for (const record of await this.records.list()) {
      try {
        const config = await this.deps.content.readJson<ImageConfig>(record.id);
        this.images.set(record.id, { record, config, topLayer: chainKeyOf(config.rootfs.diff_ids) });
      } catch {
        // A record whose config blob is gone is unusable; drop it rather than serve a broken image.
        await this.records.delete(digestHex(record.id));
      }
    }
  }

  all(): Image[] {
    return [...this.images.values()];
  }

  get(id: string): Image | undefined {
    return this.images.get(id);
  }

  /** Stores a new image from its config (its layers must already be snapshots). Idempotent. */
  async create(config: ImageConfig, parent?: string): Promise<Image> {
    const configJson = JSON.stringify(config);
    const blob = await this.deps.content.put(configJson);
    const existing = this.images.get(blob.digest);
    if (existing) return existing;
    const topLayer = chainKeyOf(config.rootfs.diff_ids);
    if (topLayer !== undefined && !this.deps.snapshots.get(topLayer)) {
      throw new InvalidParameterError(`image ${blob.digest} refers to a layer that is not present`);
    }
    const record: ImageRecord = { id: blob.digest, parent };
    await this.records.put(digestHex(blob.digest), record);
    const image: Image = { record, config, topLayer };
    this.images.set(blob.digest, image);
    return image;
  }

  /**
   * Stores an image from config bytes exactly as a registry served them, so the image id is the
   * registry's config digest (re-serialising would change it). Its layers must be snapshots.
   */
  async createFromConfigBlob(raw: Buffer, config: ImageConfig): Promise<Image> {
    const topLayer = chainKeyOf(config.rootfs.diff_ids);
    if (topLayer !== undefined && !this.deps.snapshots.get(topLayer)) {
      throw new InvalidParameterError('image config refers to a layer that is not present');
    }
    const blob = await this.deps.content.put(raw);
    const existing = this.images.get(blob.digest);
    if (existing) return existing;
    const record: ImageRecord = { id: blob.digest };
    await this.records.put(digestHex(blob.digest), record);
    const image: Image = { record, config, topLayer };
    this.images.set(blob.digest, image);
    return image;
  }

  /**
   * Finds an image by full or short id, or by reference; Docker's lookup order: a reference
   * that exists wins over an id prefix.
   */
  resolve(ref: string): Image {
    const found = this.lookup(ref);
    if (!found) throw noSuchImage(ref);
    return found;
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
    await this.records.put(digestHex(image.record.id), image.record);
    this.deps.events.emit('image', 'tag', image.record.id, { name: familiarString(name.canonical) });
  }

  /** Layer sizes of an image: its own total and the part it shares with other images. */
  async size(image: Image): Promise<number> {
    let total = 0;
    for (const key of this.deps.snapshots.chain(image.topLayer)) total += await this.deps.snapshots.usage(key);
    return total;
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
    const labels = filterValues(f, 'label');
    const have = image.config.config?.Labels ?? {};
    for (const l of labels) {
      const [k, v] = splitOnce(l, '=');
      if (!(k in have) || (v !== undefined && have[k] !== v)) return false;
    }
    return true;
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
      Comment: c.comment ?? '',
      Created: c.created ?? '0001-01-01T00:00:00Z',
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

  history(ref: string): ImageHistoryEntry[] {
    const image = this.resolve(ref);
    const entries = image.config.history ?? [];
    const out: ImageHistoryEntry[] = [];
    const layerKeys = this.deps.snapshots.chain(image.topLayer).reverse();
    let layerIndex = 0;
    for (const h of entries) {
      const key = h.empty_layer ? undefined : layerKeys[layerIndex++];
      out.push({
        Id: '<missing>',
        Created: Math.floor((Date.parse(h.created ?? '') || 0) / 1000),
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: key ? (this.deps.snapshots.get(key)?.size ?? 0) : 0,
        Comment: h.comment ?? '',
      });
    }
    out.reverse();
    // The newest entry is the image itself; ancestors known as images get their ids too.
    let cur: Image | undefined = image;
    let i = 0;
    while (cur && i < out.length) {
      out[i].Id = cur.record.id;
      const tags = this.repoTags(cur.record.id);
      out[i].Tags = tags.length ? tags : null;
      const ownEntries = cur.record.parent ? (cur.config.history?.length ?? 0) - (this.images.get(cur.record.parent)?.config.history?.length ?? 0) : out.length;
      i += Math.max(1, ownEntries);
      cur = cur.record.parent ? this.images.get(cur.record.parent) : undefined;
    }
    return out;
  }

  /** `docker rmi`: untag first; delete when no tag is left; 409 when a container uses it. */
  async remove(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteResponseItem[]> {
    const image = this.resolve(ref);
    const id = image.record.id;
    const out: ImageDeleteResponseItem[] = [];
    const refs = this.deps.references.referencesTo(id);
    let byName: ImageName | undefined;
    if (!/^(sha256:)?[a-f0-9]{1,64}$/.test(ref) || this.deps.references.get(safeCanonical(ref) ?? '') === id) {
      byName = parseImageName(ref);
    }
    const users = this.deps.containersUsing(id);
    if (byName && refs.length > 1 && refs.includes(byName.canonical)) {
      // Removing one of several names only untags; as in Docker, the repository's digest
      // references (from pulls and pushes) go with its last tag.
      const others = refs.filter((r) => r !== byName!.canonical);
      const repo = byName.repository;
      const sameRepoTagLeft = others.some((r) => !r.includes('@') && r.slice(0, r.lastIndexOf(':')) === repo);
      const digestRefs = byName.digest || sameRepoTagLeft ? [] : others.filter((r) => r.startsWith(`${repo}@`));
      if (others.length > digestRefs.length) {
        await this.untag(byName.canonical, id, out);
        for (const r of digestRefs) await this.untag(r, id, out);
        return out;
      }
    }
    if (users.length > 0) {
      const running = users.find((u) => u.running);
      if (running && (opts.force || !byName)) {
        throw new ConflictError(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
      }
      if (!opts.force && byName) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${familiarString(byName.canonical)}" (must force) - container ${shortId(users[0].id)} is using its referenced image ${shortId(id)}`,
        );
      }
      // By id, Docker's order: running container, then several repositories, then a stopped container.
      if (!opts.force && refs.length <= 1) {
        throw new ConflictError(`conflict: unable to delete ${shortId(id)} (must be forced) - image is being used by stopped container ${shortId(users[0].id)}`);
      }
    }
    if (!byName && refs.length > 1 && !opts.force) {
      throw new ConflictError(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    for (const r of refs) await this.untag(r, id, out);
    if (users.length > 0) return out; // forced: untagged only, the image stays for its containers
    await this.delete(image, out, opts.noPrune);
    return out;
  }

  private async untag(canonical: string, id: string, out: ImageDeleteResponseItem[]): Promise<void> {
    await this.deps.references.delete(canonical);
    out.push({ Untagged: familiarString(canonical) });
    this.deps.events.emit('image', 'untag', id, { name: familiarString(canonical) });
  }

  private async delete(image: Image, out: ImageDeleteResponseItem[], noPrune: boolean): Promise<void> {
    const id = image.record.id;
    this.images.delete(id);
    await this.records.delete(digestHex(id));
    await this.deps.content.delete(id);
    out.push({ Deleted: id });
    this.deps.events.emit('image', 'delete', id, { name: id });
    await this.removeUnusedLayers();
    // Untagged parents left without children go too, as Docker prunes them.
    const parent = image.record.parent ? this.images.get(image.record.parent) : undefined;
    if (!noPrune && parent && this.repoTags(parent.record.id).length === 0 && !this.hasChildren(parent.record.id) && this.deps.containersUsing(parent.record.id).length === 0) {
      await this.delete(parent, out, noPrune);
    }
  }

  private hasChildren(id: string): boolean {
    return [...this.images.values()].some((i) => i.record.parent === id);
  }

  /** Committed layers no image and no container stands on are removed from disk. */
  async removeUnusedLayers(): Promise<void> {
    const used = new Set<string>();
    const snaps = this.deps.snapshots;
    for (const image of this.images.values()) for (const k of snaps.chain(image.topLayer)) used.add(k);
    for (const s of snaps.list()) if (s.kind === 'active') for (const k of snaps.chain(s.parent)) used.add(k);
    // Remove top-down so a layer's children are gone before it.
    let removed = true;
    while (removed) {
      removed = false;
      for (const s of snaps.list()) {
        if (s.kind !== 'committed' || used.has(s.key)) continue;
        if (snaps.list().some((o) => o.parent === s.key)) continue;
        await snaps.remove(s.key);
        removed = true;
      }
    }
  }

  async prune(opts: { all: boolean; filters: Filters }): Promise<{ deleted: ImageDeleteResponseItem[]; reclaimed: number }> {
    const deleted: ImageDeleteResponseItem[] = [];
    let reclaimed = 0;
    const labels = filterValues(opts.filters, 'label');
    const until = filterValues(opts.filters, 'until');
    for (const image of [...this.images.values()]) {
      const id = image.record.id;
      if (!this.images.has(id)) continue;
      if (this.deps.containersUsing(id).length > 0) continue;
      if (!opts.all && this.repoTags(id).length > 0) continue;
      if (!opts.all && this.hasChildren(id)) continue;
      const have = image.config.config?.Labels ?? {};
      if (!labels.every((l) => { const [k, v] = splitOnce(l, '='); return k in have && (v === undefined || have[k] === v); })) continue;
      if (until.length && !until.every((u) => (Date.parse(image.config.created ?? '') || 0) < parseTime(u))) continue;
      const before = await this.size(image);
      const items = await this.remove(id, { force: true, noPrune: false });
      deleted.push(...items);
      reclaimed += before;
    }
    return { deleted, reclaimed };
  }
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function safeCanonical(ref: string): string | undefined {
  try {
    return parseImageName(ref).canonical;
  } catch {
    return undefined;
  }
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

