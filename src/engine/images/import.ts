// `docker import`: one tar (plain or gzip) becomes a single-layer image. The layer goes through the
// content store (verified, content-addressed) and is unpacked into a committed snapshot in one pass.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { applyLayer } from '../../archive/apply.js';
import { TarSplitRecorder } from '../../archive/tar-split.js';
import { openMaybeCompressed } from '../../archive/stream.js';
import { InvalidParameterError } from '../../errors.js';
import type { ContentStore, ContentWriter } from '../../store/content.js';
import type { DetachedLayer, Snapshotter, SnapshotInfo } from '../../snapshot/overlay.js';
import type { ImageConfig, ImageRunConfig } from './image-types.js';

/** Bytes the store may lag behind the unpacker before the stream waits for it. */
const STORE_BACKLOG = 16 * 1024 * 1024;

/**
 * Feeds every chunk to the content writer (which hashes and stores it) on its way to the
 * unpacker. The store's writes run behind the unpacker (in order, a bounded backlog) so that
 * neither waits for the other's disk writes; the stream ends only once all of them are done.
 */
class StoreTee extends Transform {
  private pending: Promise<void> = Promise.resolve();
  private backlog = 0;
  private failed: Error | undefined;

  constructor(private readonly writer: ContentWriter) {
    super();
    // Its errors reach the unpacker reading it; one after the unpacker gave up must not crash.
    this.on('error', () => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.failed) return cb(this.failed);
    this.backlog += chunk.length;
    this.pending = this.pending.then(async () => {
      if (this.failed) return;
      try {
        await this.writer.write(chunk);
      } catch (err) {
        this.failed = err as Error;
      }
      this.backlog -= chunk.length;
    });
    if (this.backlog < STORE_BACKLOG) return cb(null, chunk);
    this.pending.then(() => cb(this.failed ?? null, this.failed ? undefined : chunk), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.pending.then(() => cb(this.failed ?? null), cb);
  }
}

/**
 * Stores a layer tar (uncompressed, so its digest is its diff id) and unpacks it on top of `parent`.
 * On any failure nothing is left: the blob is aborted and the snapshot directory removed.
 */
export async function ingestLayer(
  content: ContentStore,
  snapshots: Snapshotter,
  input: Readable,
  parent: string | undefined,
  /** The diff id the layer must have (load): a mismatch stores nothing. */
  expectedDiffId?: string,
): Promise<SnapshotInfo> {
  const layer = await ingestLayerDetached(content, snapshots, input, expectedDiffId);
  return snapshots.commitDetached(parent, layer);
}

/** ingestLayer without a parent yet: the caller commits (or discards) the result in layer order. */
export async function ingestLayerDetached(content: ContentStore, snapshots: Snapshotter, input: Readable, expectedDiffId?: string): Promise<DetachedLayer> {
  // Docker accepts compressed imports and layers; the store keeps the uncompressed tar so its digest is the diff id.
  // The compressed bytes' digest is not needed here: a pulled blob is verified as it downloads.
  const opened = await openMaybeCompressed(input, { hashRaw: false });
  const tar = Readable.from({ [Symbol.asyncIterator]: () => opened.chunks });
  const writer = await content.writer();
  try {
    return await snapshots.unpackDetached(async (dir) => {
      const tee = new StoreTee(writer);
      // The content writer hashes the tar: the diff id is its digest.
      const applying = applyLayer(tee, dir, { digest: false, ids: snapshots.ids });
      await Promise.all([pipeline(tar, tee).catch((err: Error) => { tee.destroy(err); throw err; }), applying]);
      const blob = await writer.commit({ digest: expectedDiffId });
      const { size } = await applying;
      return { diffId: blob.digest, size };
    });
  } catch (err) {
    opened.destroy();
    await writer.abort();
    if (err instanceof InvalidParameterError) throw err;
    throw new InvalidParameterError(`invalid tar archive: ${(err as Error).message}`);
  }
}

/**
 * Unpacks a layer whose tar Berth has as `diffId` (read through `input`, verified on its way in:
 * not hashed a second time) on top of `parent`. `split`: the tar is not in the content store
 * (regenerated from another layer directory), so this layer keeps its own tar-split.
 */
export async function unpackStoredLayer(snapshots: Snapshotter, input: Readable, diffId: string, parent: string | undefined, split = false): Promise<SnapshotInfo> {
  try {
    return await snapshots.createLayer(parent, async (dir) => {
      const recorder = split ? new TarSplitRecorder(path.dirname(dir)) : undefined;
      const { size, tarSize } = await applyLayer(input, dir, { digest: false, ids: snapshots.ids, split: recorder });
      return { diffId, size, ...(recorder ? { tarSize, tarSplit: true } : {}) };
    });
  } catch (err) {
    if (err instanceof InvalidParameterError) throw err;
    throw new InvalidParameterError(`invalid tar archive: ${(err as Error).message}`);
  }
}

export interface ImportOptions {
  message?: string;
  config?: ImageRunConfig;
  created?: string;
  /** history comment, Docker's "Imported from -" */
  source: string;
}

export function importConfig(diffId: string, opts: ImportOptions): ImageConfig {
  const created = opts.created ?? new Date().toISOString();
  return {
    architecture: hostArchitecture(),
    os: 'linux',
    created,
    comment: opts.message || `Imported from ${opts.source}`,
    config: opts.config ?? {},
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: '', comment: opts.message || `Imported from ${opts.source}` }],
  };
}

/** Node's arch names → Go's (the names images carry). */
export function hostArchitecture(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}
