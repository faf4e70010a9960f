// A layer's uncompressed tar, as save and push read it. Pulled and imported layers (and loaded
// ones that came compressed or small) keep their tar in the content store byte for byte as it
// came (its digest is the diff id). Layers Berth made itself (commit, build steps) store none:
// their diff id was taken by packing the committed layer directory (`packLayer`), so the same
// packing of the same unchanged directory gives the same bytes again. A large plain layer a load
// unpacked as it arrived stores none either: its tar is its files plus the bytes between them
// (`tar-split` beside the layer's directory, archive/tar-split.ts), as dockerd keeps every layer.
// Either way the bytes are verified against the diff id as they stream.
import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { packChunks, packDirectory, type PackOptions } from '../../archive/pack.js';
import { assembleTarSplit } from '../../archive/tar-split.js';
import { SystemError } from '../../errors.js';
import type { Snapshotter, SnapshotInfo } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import type { IdMapping } from '../../util/idmap.js';

/**
 * The tar of a committed layer directory in overlay form (with --userns-remap, the host ids on
 * disk archived as the container's): what a commit hashes for the diff id and what save/push
 * regenerate. One function for both, so the two cannot differ.
 */
export function packLayer(dir: string, ids: IdMapping | undefined): Readable {
  return packDirectory(dir, { ...LAYER, ids });
}

const LAYER: PackOptions = { overlayUpper: true };

/**
 * The diff id and tar size of a layer directory, hashed without storing the tar. `exclude`: paths
 * ("etc/hosts") left out, as they will be from the layer's own directory.
 */
export function hashLayer(dir: string, ids: IdMapping | undefined, exclude?: (rel: string) => boolean): Promise<{ diffId: string; tarSize: number }> {
  return digestOf(packChunks(dir, { ...LAYER, ids, exclude }));
}

/** A digest of the layer tar's headers alone: equal for two trees whose tars differ at most in file contents. */
export async function hashLayerHeaders(dir: string, ids: IdMapping | undefined, exclude?: (rel: string) => boolean): Promise<string> {
  return (await digestOf(packChunks(dir, { ...LAYER, ids, exclude, headersOnly: true }))).diffId;
}

async function digestOf(chunks: AsyncIterable<Buffer>): Promise<{ diffId: string; tarSize: number }> {
  const hash = createHash('sha256');
  let tarSize = 0;
  for await (const chunk of chunks) {
    hash.update(chunk);
    tarSize += chunk.length;
  }
  return { diffId: `sha256:${hash.digest('hex')}`, tarSize };
}

/** Fails the stream at its end when the bytes are not the layer's (a layer directory changed on disk). */
class Verify extends Transform {
  private readonly hash = createHash('sha256');
  private n = 0;

  constructor(
    private readonly diffId: string,
    private readonly size: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.n += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const got = `sha256:${this.hash.digest('hex')}`;
    if (got === this.diffId && this.n === this.size) return cb();
    cb(new SystemError(`layer ${this.diffId} changed on disk: its tar regenerates as ${got} (${this.n} bytes, expected ${this.size})`));
  }
}

export class LayerTars {
  constructor(
    private readonly content: ContentStore,
    private readonly snapshots: Snapshotter,
  ) {}

  /** A committed layer with this diff id whose tar is regenerated rather than stored. */
  private packed(diffId: string): SnapshotInfo | undefined {
    return this.snapshots.list().find((s) => s.kind === 'committed' && s.diffId === diffId && s.tarSize !== undefined);
  }

  /** The tar's size, or undefined when neither the store nor a layer directory has it. */
  async size(diffId: string): Promise<number | undefined> {
    const info = await this.content.info(diffId);
    return info ? info.size : this.packed(diffId)?.tarSize;
  }

  async has(diffId: string): Promise<boolean> {
    return (await this.size(diffId)) !== undefined;
  }

  /** The tar's bytes (any blob: read from the store when it is there). */
  async open(diffId: string): Promise<Readable> {
    if (await this.content.info(diffId)) return this.content.createReadStream(diffId);
    const layer = this.packed(diffId);
    if (!layer) throw new SystemError(`layer ${diffId} is missing from the content store`);
    const verify = new Verify(diffId, layer.tarSize!);
    const tar = layer.tarSplit ? Readable.from(assembleTarSplit(this.snapshots.layerDir(layer.key))) : packLayer(this.snapshots.fsDir(layer.key), this.snapshots.ids);
    // pipeline: a failure to read the directory fails the verified stream too.
    pipeline(tar, verify, () => undefined);
    return verify;
  }
}
