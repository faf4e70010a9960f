// `docker load`: an archive from Docker, skopeo, umoci or Berth becomes images. The archive is
// spooled to a private directory and validated whole before anything is stored; layers go
// through the content store (checked against their diff ids) and are unpacked into snapshots by
// chain id, skipping those already present. A failure removes what this load added, so the
// stores are as they were.
import { promises as fsp } from 'node:fs';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { readImageArchive, spoolArchive, type LoadImage, type SpooledArchive, type SpooledFile, type SpoolTee } from '../../archive/image-archive/index.js';
import { detectCompression, openMaybeCompressed } from '../../archive/stream.js';
import type { JSONMessage } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { applyLayer } from '../../archive/apply.js';
import { chainId, type DetachedLayer, type Snapshotter } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import type { ReferenceStore } from '../../store/references.js';
import type { EventService } from '../events.js';
import type { ImageService } from './image-service.js';
import { ingestLayer, unpackStoredLayer } from './import.js';
import { LayerTars } from './layer-tars.js';
import { familiarString } from './names.js';
import { progressBar } from '../../distribution/progress.js';

export interface LoadDeps {
  images: ImageService;
  references: ReferenceStore;
  content: ContentStore;
  snapshots: Snapshotter;
  events: EventService;
}

export interface LoadOptions {
  /** No per-layer progress, only the "Loaded image" lines. */
  quiet: boolean;
  /** Receives Docker's JSON messages as they happen. */
  emit: (m: JSONMessage) => void;
}

/** What this load added, to be taken back if it fails. */
interface Added {
  snapshots: string[];
  blobs: string[];
}

export async function loadImages(deps: LoadDeps, input: Readable, opts: LoadOptions): Promise<string[]> {
  const dir = await deps.content.tempDir('load');
  const early = new EarlyUnpacker(deps);
  try {
    const archive = await spoolArchive(input, dir, {}, (file) => early.consider(file), (size, first) => early.tee(size, first));
    const { images } = await readImageArchive(archive);
    const added: Added = { snapshots: [], blobs: [] };
    try {
      for (const image of images) await ingestImage(deps, archive, image, added, opts, early);
    } catch (err) {
      await rollback(deps, added);
      throw err;
    }
    for (const image of images) await register(deps, image, images, opts);
    return images.map((i) => i.id);
  } finally {
    // Unpacked early but not a layer of these images (or the load failed): never a snapshot.
    await early.discardAll();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Smaller blobs are not worth unpacking ahead (configs, tiny layers). */
const EARLY_MIN_SIZE = 1024 * 1024;

/**
 * Unpacks plain tar blobs as they spool (one pass over the archive: each chunk goes to the spool
 * file, which becomes the blob, and to the unpacker): which blobs are layers is known only from
 * the manifest, often the archive's last entry. Each goes into a detached snapshot directory
 * (confined like any layer, never a snapshot by itself); a layer whose spooled bytes are its diff
 * id takes it over, anything else is discarded.
 */
class EarlyUnpacker {
  private readonly started = new Map<string, Promise<DetachedLayer | null>>();
  private readonly all: Promise<DetachedLayer | null>[] = [];
  private readonly taken = new Set<Promise<DetachedLayer | null>>();
  /** The unpack of the file being spooled, until `consider` names its digest. */
  private current: Promise<DetachedLayer | null> | undefined;
  private stopped = false;

  constructor(private readonly deps: LoadDeps) {}

  /** The spool's tee for a file: a large plain tar is unpacked from its bytes as they arrive. */
  tee(size: number, first: Buffer): SpoolTee | undefined {
    this.current = undefined;
    if (this.stopped || size < EARLY_MIN_SIZE || first.length < 262 || first.toString('latin1', 257, 262) !== 'ustar') return undefined;
    // The spool waits for the unpacker (back-pressure) but never fails because of it.
    const input = new PassThrough({ highWaterMark: 4 << 20 });
    // Its errors (an aborted spool: a full disk, say) reach the unpacker through its reads; one
    // after the unpacker gave up must not be an unhandled 'error' event, which ends the daemon.
    input.on('error', () => undefined);
    let gaveUp = false;
    const unpacking = this.deps.snapshots
      .unpackDetached(async (dir) => ({ diffId: '', size: (await applyLayer(input, dir, { digest: false })).size }))
      .catch(() => null) // not a layer after all, or a bad one: the regular path reports it in context
      .finally(() => (gaveUp = true));
    this.current = unpacking;
    this.all.push(unpacking);
    return {
      write: async (chunk) => {
        if (gaveUp || input.destroyed || input.write(chunk)) return;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            input.off('drain', done).off('close', done);
            resolve();
          };
          input.on('drain', done).on('close', done);
        });
      },
      end: () => input.end(),
      abort: () => input.destroy(new Error('spool failed')),
    };
  }

  /** A file is spooled: its unpack, if one ran, is known by the file's digest from now on. */
  consider(file: SpooledFile): void {
    const p = this.current;
    this.current = undefined;
    if (!p || this.started.has(file.digest)) return;
    this.started.set(
      file.digest,
      p.then((layer) => (layer ? { ...layer, diffId: file.digest } : null)),
    );
  }

  /** The directory unpacked from the blob with this digest, if any; the caller commits or discards it. */
  async take(digest: string): Promise<DetachedLayer | null> {
    const p = this.started.get(digest);
    if (!p) return null;
    this.started.delete(digest);
    const layer = await p;
    if (layer) this.taken.add(p);
    return layer;
  }

  async discardAll(): Promise<void> {
    this.stopped = true;
    const keep = new Set<string>();
    for (const p of this.taken) {
      const layer = await p;
      if (layer) keep.add(layer.tmpDir);
    }
    for (const p of this.all) {
      const layer = await p;
      if (layer && !keep.has(layer.tmpDir)) await this.deps.snapshots.discardDetached(layer).catch(() => undefined);
    }
  }
}

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

async function ingestImage(deps: LoadDeps, archive: SpooledArchive, image: LoadImage, added: Added, opts: LoadOptions, early: EarlyUnpacker): Promise<void> {
  let parent: string | undefined;
  for (const [n, layer] of image.layers.entries()) {
    const key = chainId(parent, layer.diffId);
    const what = `layer ${n + 1} (${layer.file.name}) of image ${short(image.id)}`;
    if (!deps.snapshots.get(key)) {
      await checkPlainLayer(layer.file, layer.diffId, what);
      const hadBlob = await deps.content.has(layer.diffId);
      try {
        if (layer.file.digest === layer.diffId) {
          // An uncompressed layer the spool already hashed: the spooled file becomes the blob (a
          // hard link, no copy) and is unpacked from there.
          if (!hadBlob) {
            await deps.content.adopt(layer.file.path, layer.diffId);
            added.blobs.push(layer.diffId);
          }
          const unpacked = await early.take(layer.diffId);
          if (unpacked) {
            // Unpacked from these very bytes while the archive spooled: only its key was missing.
            await deps.snapshots.commitDetached(parent, unpacked);
            reportDone(layer.file.size, short(layer.diffId), opts);
          } else {
            const input = progress(deps.content.createReadStream(layer.diffId), layer.file.size, short(layer.diffId), opts);
            await unpackStoredLayer(deps.snapshots, input, layer.diffId, parent);
          }
        } else {
          const input = progress(archive.open(layer.file), layer.file.size, short(layer.diffId), opts);
          await ingestLayer(deps.content, deps.snapshots, input, parent, layer.diffId);
          if (!hadBlob) added.blobs.push(layer.diffId);
        }
      } catch (err) {
        throw layerError(err, what, layer.diffId);
      }
      added.snapshots.push(key);
    } else if (!(await new LayerTars(deps.content, deps.snapshots).has(layer.diffId))) {
      // The layer is unpacked but its tar is gone: store the blob, so save keeps working.
      await storeBlob(deps.content, archive, layer.file, layer.diffId, what);
      added.blobs.push(layer.diffId);
    }
    parent = key;
  }
  if (!(await deps.content.has(image.id))) {
    await deps.content.put(image.config, image.id);
    added.blobs.push(image.id);
  }
}

/** An uncompressed layer whose bytes are not its diff id is refused before anything is unpacked. */
async function checkPlainLayer(file: SpooledFile, diffId: string, what: string): Promise<void> {
  if (file.digest === diffId) return;
  const fh = await fsp.open(file.path, 'r');
  const head = Buffer.alloc(6);
  try {
    await fh.read(head, 0, 6, 0);
  } finally {
    await fh.close();
  }
  if (detectCompression(head) === 'none') {
    throw new InvalidParameterError(`invalid archive: ${what} does not match its diff id ${diffId} (its content is ${file.digest})`);
  }
}

/** Names the layer in a layer's error; anything but bad input stays what it was. */
function layerError(err: unknown, what: string, diffId: string): Error {
  if (!(err instanceof InvalidParameterError)) return err as Error;
  if (/^digest mismatch/.test(err.message)) return new InvalidParameterError(`invalid archive: ${what} does not match its diff id ${diffId} (${err.message})`);
  return new InvalidParameterError(`invalid archive: ${what}: ${err.message}`);
}

async function storeBlob(content: ContentStore, archive: SpooledArchive, file: SpooledFile, diffId: string, what: string): Promise<void> {
  const opened = await openMaybeCompressed(archive.open(file));
  const writer = await content.writer();
  try {
    for (let r = await opened.chunks.next(); !r.done; r = await opened.chunks.next()) await writer.write(r.value);
    await writer.commit({ digest: diffId });
  } catch (err) {
    opened.destroy();
    await writer.abort();
    throw layerError(err, what, diffId);
  }
}

/** Undoes an interrupted load: its new snapshots (top first) and blobs, unless something else uses them meanwhile. */
async function rollback(deps: LoadDeps, added: Added): Promise<void> {
  const usedKeys = new Set<string>();
  const usedBlobs = new Set<string>();
  for (const image of deps.images.all()) {
    for (const k of deps.snapshots.chain(image.topLayer)) usedKeys.add(k);
    usedBlobs.add(image.record.id);
    for (const d of image.config.rootfs.diff_ids) usedBlobs.add(d);
  }
  for (const key of [...added.snapshots].reverse()) {
    if (!usedKeys.has(key)) await deps.snapshots.remove(key).catch(() => undefined);
  }
  for (const digest of added.blobs) if (!usedBlobs.has(digest)) await deps.content.delete(digest);
}

/** Docker's checkValidParent: the parent's layers and history are where the child's begin. */
function validParent(image: LoadImage, all: LoadImage[]): string | undefined {
  const parent = image.parent ? all.find((i) => i.id === image.parent && i.id !== image.id) : undefined;
  if (!parent) return undefined;
  const pl = parent.parsed.rootfs.diff_ids;
  const cl = image.parsed.rootfs.diff_ids;
  if (pl.length > cl.length || pl.some((d, i) => d !== cl[i])) return undefined;
  const ph = parent.parsed.history ?? [];
  const ch = image.parsed.history ?? [];
  if (ph.length >= ch.length && ch.length > 0) return undefined;
  if (ph.some((h, i) => JSON.stringify(h) !== JSON.stringify(ch[i]))) return undefined;
  return parent.id;
}

async function register(deps: LoadDeps, image: LoadImage, all: LoadImage[], opts: LoadOptions): Promise<void> {
  const id = image.id;
  await deps.images.register(id, image.parsed, validParent(image, all));
  deps.events.emit('image', 'load', id, { name: id });
  for (const tag of image.tags) {
    const prev = deps.references.get(tag);
    const name = familiarString(tag);
    if (prev && prev !== id) opts.emit({ stream: `The image ${name} already exists, renaming the old one with ID ${prev} to empty string\n` });
    await deps.images.tag(id, tag);
    opts.emit({ stream: `Loaded image: ${name}\n` });
  }
  if (image.tags.length === 0) opts.emit({ stream: `Loaded image ID: ${id}\n` });
}

// ---- progress ----

const PROGRESS_EVERY = 512 * 1024;

/** The final "Loading layer" message of a layer that was unpacked ahead. */
function reportDone(total: number, id: string, opts: LoadOptions): void {
  if (opts.quiet) return;
  opts.emit({ status: 'Loading layer', progressDetail: { current: total, total }, progress: progressBar(total, Math.max(total, 1)), id });
}

/** Passes a layer through, reporting "Loading layer" progress as Docker does (every 512 KiB and at the end). */
function progress(input: Readable, total: number, id: string, opts: LoadOptions): Readable {
  if (opts.quiet) return input;
  let current = 0;
  let last = 0;
  const report = (): void => {
    last = current;
    opts.emit({ status: 'Loading layer', progressDetail: { current, total }, progress: progressBar(current, Math.max(total, 1)), id });
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      current += chunk.length;
      if (current - last >= PROGRESS_EVERY) report();
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      report();
      cb();
    },
  });
  input.on('error', (e) => t.destroy(e));
  // The consumer may give up early (a bad layer): the spool file must not stay open.
  t.on('close', () => input.destroy());
  return input.pipe(t);
}
