// `docker save`: the named images, their tags, configs and layer blobs, streamed as one archive
// straight from the content store (layers are stored uncompressed under their diff ids, so
// nothing is packed or copied on the way) or, for the layers Berth committed, packed from their
// directories as their diff ids were taken (layer-tars.ts).
import { Readable } from 'node:stream';
import { saveLayout, writeArchive, type SaveImage } from '../../archive/image-archive/index.js';
import { InvalidParameterError, NotFoundError, NotImplementedError, noSuchImage, SystemError } from '../../errors.js';
import { parseReference, type Reference } from '../../reference/index.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import type { ReferenceStore } from '../../store/references.js';
import { sha256 } from '../../util/ids.js';
import type { EventService } from '../events.js';
import type { ImageService } from './image-service.js';
import { LayerTars } from './layer-tars.js';

export interface SaveDeps {
  images: ImageService;
  references: ReferenceStore;
  content: ContentStore;
  snapshots: Snapshotter;
  events: EventService;
}

/** Image id → the tags to write for it, in the order the names were given. */
type Selection = Map<string, string[]>;

function parseName(name: string): Reference {
  try {
    return parseReference(name);
  } catch (err) {
    throw new InvalidParameterError((err as Error).message);
  }
}

/**
 * Docker's rules: an id (full or a prefix) or a digest reference saves the image without tags;
 * a repository without a tag saves all of its tags; a tagged reference saves that tag.
 */
export function selectImages(deps: SaveDeps, names: string[]): Selection {
  const sel: Selection = new Map();
  const add = (id: string, tag?: string): void => {
    const tags = sel.get(id) ?? [];
    if (tag && !tags.includes(tag)) tags.push(tag);
    sel.set(id, tags);
  };
  for (const name of names) {
    if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) {
      const id = name.startsWith('sha256:') ? name : `sha256:${name}`;
      if (!deps.images.get(id)) throw noSuchImage(name);
      add(id);
      continue;
    }
    const ref = parseName(name);
    if (ref.digest !== undefined) {
      add((deps.images.lookup(name) ?? throwNoSuch(name)).record.id);
      continue;
    }
    if (ref.tag === undefined) {
      const tagged = deps.references
        .all()
        .filter(([r, id]) => {
          const other = safeParse(r);
          return other !== undefined && other.name === ref.name && other.tag !== undefined && other.digest === undefined && !!deps.images.get(id);
        })
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (tagged.length > 0) for (const [r, id] of tagged) add(id, r);
      else add((deps.images.lookup(name) ?? throwNoSuch(name)).record.id);
      continue;
    }
    const canonical = ref.toString();
    const id = deps.references.get(canonical);
    if (!id || !deps.images.get(id)) throw new NotFoundError('reference does not exist');
    add(id, canonical);
  }
  return sel;
}

function throwNoSuch(name: string): never {
  throw noSuchImage(name);
}

function safeParse(r: string): Reference | undefined {
  try {
    return parseReference(r);
  } catch {
    return undefined;
  }
}

/** Everything an image contributes to the archive; fails before any byte is sent if a blob is missing. */
async function describe(deps: SaveDeps, id: string, tags: string[]): Promise<SaveImage> {
  const image = deps.images.get(id);
  if (!image) throw noSuchImage(id);
  const config = await deps.content.read(id);
  if (sha256(config) !== id) throw new SystemError(`the config blob of image ${id} is corrupt (its digest is ${sha256(config)})`);
  // As in Docker: an image without layers (possible from an OCI layout) cannot be saved.
  if (image.config.rootfs.diff_ids.length === 0) throw new NotImplementedError('empty export - not implemented');
  const tars = new LayerTars(deps.content, deps.snapshots);
  const layers = [];
  for (const diffId of image.config.rootfs.diff_ids) {
    const size = await tars.size(diffId);
    if (size === undefined) throw new SystemError(`layer ${diffId} of image ${id} is missing from the content store`);
    layers.push({ diffId, size });
  }
  return { id, config, layers, tags, parent: image.record.parent };
}

/** The archive as a byte stream. Names are resolved and blobs checked before it starts. */
export async function saveImages(deps: SaveDeps, names: string[]): Promise<Readable> {
  const selection = selectImages(deps, names);
  const images: SaveImage[] = [];
  for (const [id, tags] of selection) images.push(await describe(deps, id, tags));
  const entries = saveLayout(images);
  for (const image of images) deps.events.emit('image', 'save', image.id, { name: image.id });
  const tars = new LayerTars(deps.content, deps.snapshots);
  async function* open(digest: string): AsyncIterable<Buffer> {
    yield* (await tars.open(digest)) as AsyncIterable<Buffer>;
  }
  return Readable.from(writeArchive(entries, open), { objectMode: false, highWaterMark: 1 << 20 });
}
