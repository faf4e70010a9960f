// Which registry blobs a local layer is known as (Docker's "v2 metadata"): the compressed digest,
// size and media type per repository it was pulled from or pushed to. Pull records it, push uses
// it to skip blobs the registry has, mount them from a sibling repository, and re-push identically.
import path from 'node:path';
import { MetadataStore } from '../../store/metadata.js';
import { digestHex } from '../../util/ids.js';

export interface LayerBlob {
  /** Compressed digest as the registry knows it. */
  digest: string;
  size: number;
  mediaType: string;
  /** Full repository name: "127.0.0.1:5000/team/app", "docker.io/library/busybox". */
  repository: string;
}

interface Entry {
  diffId: string;
  blobs: LayerBlob[];
}

/** Enough history per layer; the oldest entries go first. */
const MAX_BLOBS = 50;

export class DistributionMetadata {
  private readonly store: MetadataStore<Entry>;
  private readonly locks = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.store = new MetadataStore(path.join(root, 'metadata', 'distribution'));
  }

  init(): Promise<void> {
    return this.store.init();
  }

  async blobsFor(diffId: string): Promise<LayerBlob[]> {
    return (await this.store.get(digestHex(diffId)))?.blobs ?? [];
  }

  async add(diffId: string, blob: LayerBlob): Promise<void> {
    const key = digestHex(diffId);
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(async () => {
      const entry = (await this.store.get(key)) ?? { diffId, blobs: [] };
      const blobs = entry.blobs.filter((b) => !(b.digest === blob.digest && b.repository === blob.repository));
      blobs.push(blob);
      await this.store.put(key, { diffId, blobs: blobs.slice(-MAX_BLOBS) });
    });
    this.locks.set(key, next.catch(() => undefined));
    await next;
  }
}
