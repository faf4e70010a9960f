// `docker load`: an archive from Docker, skopeo, umoci or Berth becomes images. The archive is
// spooled to a private directory and validated whole before anything is stored; a large plain
// layer is unpacked as it arrives instead of spooled (its tar kept as its files plus a
// tar-split), other layers go through the content store; every layer is checked against its
// diff id and becomes a snapshot by chain id, skipping those already present. A failure removes
// what this load added, so the stores are as they were.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { readImageArchive, spoolArchive, type LoadImage, type SpooledArchive, type SpooledFile, type SpoolTee } from '../../archive/image-archive/index.js';
import { detectCompression, openMaybeCompressed } from '../../archive/stream.js';
import type { JSONMessage } from '../../types/api.js';
import { BerthError, InvalidParameterError, SystemError } from '../../errors.js';
import { applyLayer } from '../../archive/apply.js';
import { TarSplitRecorder } from '../../archive/tar-split.js';
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
    const archive = await spoolArchive(input, dir, {}, (file) => early.consider(file), (name, size, first) => early.tee(name, size, first));
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

/** Smaller blobs are not worth unpacking ahead (configs, tiny layers): they are spooled and stored. */
const EARLY_MIN_SIZE = 1024 * 1024;
/** How far the spool (reading and hashing the archive) may run ahead of the unpacker's writes. */
const EARLY_BACKLOG = 16 << 20;

/** An unpack that ran while the archive spooled: the layer directory, or why it failed. */
type Early = { layer: DetachedLayer } | { error: unknown };

/**
 * A tee for a blob whose layer tar is here already: its bytes are neither kept nor hashed (its
 * name is its digest; nothing reads them: the layer comes from the store), as dockerd does not
 * read a layer whose chain it has.
 */
function discard(digest: string): SpoolTee {
  return { takes: true, digest, write: async () => undefined, end: () => undefined, abort: () => undefined };
}

/**
 * Unpacks plain tar blobs as they spool, instead of spooling them: which blobs are layers is
 * known only from the manifest, often the archive's last entry. Each goes into a detached
 * snapshot directory (confined like any layer, never a snapshot by itself) with its tar-split,
 * so the layer's bytes are written once, as its files, and its tar is regenerated from them for
 * save and push (archive/tar-split.ts); a layer whose bytes are its diff id takes the directory
 * over, anything else is discarded. A blob named by its digest (Docker 25+, OCI layouts) whose
 * layer tar Berth has already is neither stored, hashed nor unpacked again.
 */
class EarlyUnpacker {
  private readonly started = new Map<string, Promise<Early>>();
  private readonly all: Promise<Early>[] = [];
  private readonly taken = new Set<string>();
  /** The unpack of the file being spooled, until `consider` names its digest. */
  private current: Promise<Early> | undefined;
  private stopped = false;

  constructor(private readonly deps: LoadDeps) {}

  /** The spool's tee for a file: a large plain tar is unpacked from its bytes as they arrive. */
  async tee(name: string, size: number, first: Buffer): Promise<SpoolTee | undefined> {
    this.current = undefined;
    if (this.stopped || size < EARLY_MIN_SIZE || first.length < 262 || first.toString('latin1', 257, 262) !== 'ustar') return undefined;
    const named = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (named && (await new LayerTars(this.deps.content, this.deps.snapshots).has(`sha256:${named[1]}`))) return discard(`sha256:${named[1]}`);
    // The spool waits for the unpacker (back-pressure) but never fails because of it.
    // Chunks pass as they are (object mode on the reading side): a byte-mode reader would
    // concatenate everything buffered into one new buffer at each read.
    const input = new PassThrough({ writableHighWaterMark: EARLY_BACKLOG, readableObjectMode: true, readableHighWaterMark: 64 });
    // Its errors (an aborted spool: a full disk, say) reach the unpacker through its reads; one
    // after the unpacker gave up must not be an unhandled 'error' event, which ends the daemon.
    input.on('error', () => undefined);
    let gaveUp = false;
    const snapshots = this.deps.snapshots;
    const unpacking: Promise<Early> = snapshots
      .unpackDetached(async (dir) => {
        const split = new TarSplitRecorder(path.dirname(dir));
        const { size, tarSize } = await applyLayer(input, dir, { digest: false, ids: snapshots.ids, split });
        return { diffId: '', size, tarSize, tarSplit: true };
      })
      .then((layer) => ({ layer }), (error: unknown) => ({ error }))
      .finally(() => (gaveUp = true));
    this.current = unpacking;
    this.all.push(unpacking);
    return {
      takes: true,
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
      p.then((e) => ('layer' in e ? { layer: { ...e.layer, diffId: file.digest } } : e)),
    );
  }

  /** The unpack of the blob with this digest, once; the caller commits or discards its directory. */
  async take(digest: string): Promise<Early | undefined> {
    const p = this.started.get(digest);
    if (!p) return undefined;
    this.started.delete(digest);
    const e = await p;
    if ('layer' in e) this.taken.add(e.layer.tmpDir);
    return e;
  }

  async discardAll(): Promise<void> {
    this.stopped = true;
    for (const p of this.all) {
      const e = await p;
      if ('layer' in e && !this.taken.has(e.layer.tmpDir)) await this.deps.snapshots.discardDetached(e.layer).catch(() => undefined);
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
      try {
        if (layer.file.taken) {
          await ingestTaken(deps, early, layer.file, layer.diffId, parent, opts);
        } else if (layer.file.digest === layer.diffId) {
          // An uncompressed layer the spool already hashed: the spooled file becomes the blob (a
          // hard link, no copy) and is unpacked from there.
          if (!(await deps.content.has(layer.diffId))) {
            await deps.content.adopt(layer.file.path, layer.diffId);
            added.blobs.push(layer.diffId);
          }
          const input = progress(deps.content.createReadStream(layer.diffId), layer.file.size, short(layer.diffId), opts);
          await unpackStoredLayer(deps.snapshots, input, layer.diffId, parent);
        } else {
          const hadBlob = await deps.content.has(layer.diffId);
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
      if (layer.file.taken) throw new SystemError(`layer ${layer.diffId} is present but its tar is missing: remove the images that use it, then load again`);
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

/**
 * A layer a tee took (a plain tar unpacked as it spooled, or one whose tar Berth has): its
 * directory becomes the snapshot; failing that, the tar Berth has is unpacked again, keeping a
 * tar-split of its own (it is in no content store).
 */
async function ingestTaken(deps: LoadDeps, early: EarlyUnpacker, file: SpooledFile, diffId: string, parent: string | undefined, opts: LoadOptions): Promise<void> {
  const unpacked = await early.take(diffId);
  if (unpacked && 'error' in unpacked) {
    const err = unpacked.error;
    throw err instanceof BerthError ? err : new InvalidParameterError(`invalid tar archive: ${(err as Error).message}`);
  }
  if (unpacked) {
    await deps.snapshots.commitDetached(parent, unpacked.layer);
    reportDone(file.size, short(diffId), opts);
    return;
  }
  // Unpacked for another parent in this load already, or here before it.
  const tars = new LayerTars(deps.content, deps.snapshots);
  if (!(await tars.has(diffId))) throw new SystemError(`layer ${diffId} was removed while it was loaded`);
  const input = progress(await tars.open(diffId), file.size, short(diffId), opts);
  await unpackStoredLayer(deps.snapshots, input, diffId, parent, !(await deps.content.has(diffId)));
}

/** An uncompressed layer whose bytes are not its diff id is refused before anything is unpacked. */
async function checkPlainLayer(file: SpooledFile, diffId: string, what: string): Promise<void> {
  if (file.digest === diffId) return;
  // A taken file is a plain tar (that is why it was taken).
  if (file.taken) throw new InvalidParameterError(`invalid archive: ${what} does not match its diff id ${diffId} (its content is ${file.digest})`);
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

/**
 * Undoes an interrupted load: its new snapshots (top first) and blobs, unless something else uses
 * them — judged just before each removal, as a concurrent pull or load may have recorded an image
 * on one meanwhile.
 */
async function rollback(deps: LoadDeps, added: Added): Promise<void> {
  for (const key of [...added.snapshots].reverse()) {
    if (!deps.images.layerInUse(key)) await deps.snapshots.remove(key).catch(() => undefined);
  }
  for (const digest of added.blobs) {
    if (deps.images.get(digest) || deps.snapshots.list().some((s) => s.diffId === digest)) continue;
    await deps.content.delete(digest);
  }
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
