// The objects of Berth's read-only extension endpoints (/berth/…, docs/layers-api.md): the layer
// graph, union views, efficiency and image comparison. A leaf module, like api.ts.

/** One committed (read-only) layer, drawn once however many images and containers stand on it. */
export interface LayerNode {
  /** The snapshot key: the layer's chain id (hex). */
  Id: string;
  DiffId: string;
  /** The layer below ('' for a base layer). */
  Parent: string;
  /** Bytes of this layer alone. */
  Size: number;
  /** The instruction that made it (the first image's history entry that names it). */
  CreatedBy: string;
  Created: string;
}

export interface GraphHistoryEntry {
  CreatedBy: string;
  Created: string;
  /** The layer this instruction made, or '' for a metadata-only one (empty_layer). */
  Layer: string;
}

export interface GraphImage {
  Id: string;
  RepoTags: string[];
  Parent: string;
  Created: string;
  /** Chain ids, base first. */
  Layers: string[];
  History: GraphHistoryEntry[];
  Size: number;
  /** The container it was committed from (`docker commit`, a build's RUN step), or ''. */
  Container: string;
}

export interface GraphContainer {
  Id: string;
  Name: string;
  Image: string;
  ImageId: string;
  State: string;
  /** The read-only layer its writable layer sits on ('' for an image without layers). */
  Parent: string;
  /** Bytes in its writable layer. */
  WritableSize: number;
}

/** GET /berth/layers */
export interface LayerGraph {
  Layers: LayerNode[];
  Images: GraphImage[];
  Containers: GraphContainer[];
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** A copy of a path in a lower layer that a higher layer hides (overwrites, deletes, or an opaque dir). */
export interface HiddenCopy {
  /** Index into the view's Layers (0 = top). */
  Layer: number;
  Type: EntryType;
  Size: number;
}

export interface UnionEntry {
  Path: string;
  Name: string;
  Type: EntryType;
  Size: number;
  Mode: number;
  Uid: number;
  Gid: number;
  /** Modification time, nanoseconds since the epoch (as a string: it exceeds 2^53). */
  MtimeNs: string;
  LinkTarget?: string;
  /** Layer (index into Layers, 0 = top) the visible entry comes from, or the whiteout is in. */
  Layer: number;
  /** A whiteout: the path is deleted in `Layer`; it is not in the merged view. */
  Whiteout?: boolean;
  /** A directory made opaque in `Layer`: nothing below it shows from lower layers. */
  Opaque?: boolean;
  /** Lower copies this entry (or whiteout) hides, top first. */
  Hidden?: HiddenCopy[];
  /** For a container: its `docker diff` kind (A, C or D). */
  Change?: 'A' | 'C' | 'D';
  /** Entries below (with ?recursive=1 and directories). */
  Children?: UnionEntry[];
}

export interface ViewLayer {
  /** Chain id, or the container id for a container's writable layer. */
  Id: string;
  DiffId: string;
  Size: number;
  CreatedBy: string;
  Writable: boolean;
}

/** GET /berth/images/{name}/files, /berth/containers/{id}/files, /berth/layers/{id}/files */
export interface UnionView {
  /** Top first. */
  Layers: ViewLayer[];
  Path: string;
  Entries: UnionEntry[];
}

export interface Inefficiency {
  Path: string;
  /** Copies of it across the layers (whiteouts included). */
  Count: number;
  WastedBytes: number;
}

/** GET /berth/images/{name}/efficiency */
export interface Efficiency {
  Image: string;
  /** Bytes of all files in all layers. */
  TotalBytes: number;
  /** Bytes of files overwritten or deleted by a higher layer: present in the image, never visible. */
  WastedBytes: number;
  /** (TotalBytes - WastedBytes) / TotalBytes; 1 for an image without files. */
  Score: number;
  /** The worst paths, most wasted first. */
  Inefficiencies: Inefficiency[];
}

export interface FileDifference {
  Path: string;
  Kind: 'A' | 'C' | 'D';
  Type: EntryType;
  /** Size in B (0 for a deletion). */
  Size: number;
  /** Size in A (0 for an addition). */
  OldSize: number;
}

/** GET /berth/images/compare?a=&b= */
export interface ImageComparison {
  A: string;
  B: string;
  /** Chain ids both images stand on, base first. */
  SharedLayers: string[];
  OnlyA: string[];
  OnlyB: string[];
  Changes: FileDifference[];
  Summary: { Added: number; Changed: number; Deleted: number; AddedBytes: number; ChangedBytes: number; DeletedBytes: number };
}

/**
 * GET /berth/system/df: where every byte under the data root goes. `Docker` is what
 * GET /system/df's four categories count; `Other` is what they cannot hold, by kind; the two add
 * up to `Total`, which is what `du -sbx` says of the data root (docs/architecture.md, "On disk").
 */
export interface DataRootUsage {
  DataRoot: string;
  Total: number;
  Docker: { Images: number; Containers: number; Volumes: number; BuildCache: number };
  Other: DataRootPart[];
}

export interface DataRootPart {
  /** One of the kinds listed in docs/architecture.md ("Metadata", "Container logs", "Partial downloads", …). */
  Type: string;
  /** Files (or directories, for "Directories") of that kind. */
  Count: number;
  Size: number;
  /** Nothing a user made: a daemon restart discards it (partial downloads, unreferenced blobs). */
  Reclaimable: boolean;
}
