// The image records the engine keeps. The config itself is the OCI image config blob.
import type { ImageConfig } from '../../oci/image-spec.js';

export type { ImageConfig, ImageRunConfig, HistoryEntry } from '../../oci/image-spec.js';

/** What the engine stores per image besides the config blob (metadata/images/<hex>.json). */
export interface ImageRecord {
  /** sha256 of the config blob: the image id. */
  id: string;
  /** Image this one was committed or built from, for `docker images -a` and history ids. */
  parent?: string;
  lastTagTime?: string;
  /** Registry digests this image is known by (repo@sha256:…), for RepoDigests. */
  repoDigests?: string[];
}

export interface Image {
  record: ImageRecord;
  config: ImageConfig;
  /** Snapshot key of the top layer (undefined for an image without layers). */
  topLayer: string | undefined;
}
