// The layer graph: every image as its chain of read-only layers, every container as a writable
// layer on its image's top layer; a layer several images stand on appears once.
import type { Snapshotter } from '../../snapshot/overlay.js';
import type { GraphContainer, GraphHistoryEntry, GraphImage, LayerGraph, LayerNode, ViewLayer } from '../../types/berth.js';
import type { ContainerRecord } from '../containers/container.js';
import type { Image } from '../images/image-types.js';

export interface GraphDeps {
  snapshots: Snapshotter;
  images: () => Image[];
  repoTags: (id: string) => string[];
  containers: () => ContainerRecord[];
  /** Bytes in a container's writable layer (cached by the caller). */
  writableSize: (c: ContainerRecord) => Promise<number>;
}

/** The image's history with each layer-making entry tied to its chain id (as `docker history` pairs them). */
export function imageHistory(snapshots: Snapshotter, image: Image): GraphHistoryEntry[] {
  const keys = snapshots.chain(image.topLayer).reverse();
  let next = 0;
  return (image.config.history ?? []).map((h) => ({
    // An imported layer has no instruction, only its comment ("Imported from -").
    CreatedBy: h.created_by || h.comment || '',
    Created: h.created ?? '',
    Layer: h.empty_layer ? '' : (keys[next++] ?? ''),
  }));
}

/** The read-only layers of an image, top first, with the instruction that made each. */
export function imageStack(snapshots: Snapshotter, image: Image): ViewLayer[] {
  const by = new Map(imageHistory(snapshots, image).map((h) => [h.Layer, h.CreatedBy]));
  return snapshots.chain(image.topLayer).map((key) => layerOf(snapshots, key, by.get(key) ?? ''));
}

/** The layers below and including chain id `key`, top first (one image's history may not name them). */
export function chainStack(snapshots: Snapshotter, key: string, createdBy: Map<string, string>): ViewLayer[] {
  return snapshots.chain(key).map((k) => layerOf(snapshots, k, createdBy.get(k) ?? ''));
}

function layerOf(snapshots: Snapshotter, key: string, createdBy: string): ViewLayer {
  const info = snapshots.get(key);
  return { Id: key, DiffId: info?.diffId ?? '', Size: info?.size ?? 0, CreatedBy: createdBy, Writable: false };
}

export async function layerGraph(deps: GraphDeps): Promise<LayerGraph> {
  const layers = new Map<string, LayerNode>();
  const images: GraphImage[] = [];
  const topOf = new Map<string, string>();
  for (const image of deps.images()) {
    topOf.set(image.record.id, image.topLayer ?? '');
    const history = imageHistory(deps.snapshots, image);
    const chain = deps.snapshots.chain(image.topLayer).reverse();
    let size = 0;
    for (const key of chain) {
      const info = deps.snapshots.get(key);
      size += info?.size ?? 0;
      if (layers.has(key) || !info) continue;
      const h = history.find((e) => e.Layer === key);
      layers.set(key, { Id: key, DiffId: info.diffId ?? '', Parent: info.parent ?? '', Size: info.size ?? 0, CreatedBy: h?.CreatedBy ?? '', Created: h?.Created || info.created });
    }
    images.push({
      Id: image.record.id,
      RepoTags: deps.repoTags(image.record.id),
      Parent: image.record.parent ?? '',
      Created: image.config.created ?? '',
      Layers: chain,
      History: history,
      Size: size,
      Container: image.config.container ?? '',
    });
  }
  // A container's writable layer goes before its record does (rm): while it is being removed it
  // still stands on its image's top layer, where it was prepared.
  const containers: GraphContainer[] = await Promise.all(
    deps.containers().map(async (c) => ({
      Id: c.id,
      Name: c.name,
      Image: c.image,
      ImageId: c.imageId,
      State: c.state.status,
      Parent: deps.snapshots.get(c.id)?.parent ?? topOf.get(c.imageId) ?? '',
      WritableSize: await deps.writableSize(c),
    })),
  );
  return { Layers: [...layers.values()], Images: images, Containers: containers };
}
