// applyLayer: extract an OCI/Docker layer tar onto a directory in overlayfs form.
//
// Safety model (what moby gets from chroot, done here by hand): dest is opened as a Root
// (root.ts) and unpacked by the Unpacker (unpack.ts) that docker cp shares: entries are resolved
// from directory descriptors, symlinks only *inside* dest (absolute targets restart at dest,
// `..` stops at dest), so nothing is ever created, opened, linked or removed outside dest. The
// final component is never followed: whatever is there is removed first and the new file is
// created with O_EXCL|O_NOFOLLOW.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { SystemError } from '../errors.js';
import { Root } from './root.js';
import { ByteReader, openMaybeCompressed, type Compression } from './stream.js';
import { TarReader } from './tar-reader.js';
import { extractionError, Unpacker } from './unpack.js';
import type { TarSplitRecorder } from './tar-split.js';
import type { IdMapping } from '../util/idmap.js';

export {
  cleanPath,
  OVERLAY_OPAQUE_XATTR,
  WHITEOUT_META_PREFIX,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
} from './unpack.js';

export interface ApplyOptions {
  /** Don't chown entries (keep them owned by the caller). Default false: ownership as in the tar. */
  noChown?: boolean;
  /** The daemon's user namespace mapping: the layer's ids are written shifted to host ids (chown-on-unpack). */
  ids?: IdMapping;
  /** Abort: stops extraction (destroying the input) and rejects with SystemError. */
  signal?: AbortSignal;
  /** false: the caller hashes the same bytes itself (ingestLayer's content writer); diffId/digest are then ''. */
  digest?: boolean;
  /** Records the tar's split (tar-split.ts) and saves it once the layer is unpacked: no other copy of the tar is kept. */
  split?: TarSplitRecorder;
}

export interface ApplyResult {
  /** Sum of the entries' content sizes — what Docker's ApplyDiff reports as the layer size. */
  size: number;
  /** Uncompressed tar stream length in bytes. */
  tarSize: number;
  /** sha256 of the uncompressed stream: the layer's diff_id. */
  diffId: string;
  /** sha256 of the bytes as given (compressed blob digest when compressed). */
  digest: string;
  /** Length of the bytes as given. */
  compressedSize: number;
  compression: Compression;
}

/**
 * Applies a layer tar (gzip/zstd/xz/bzip2 or plain, detected by magic) onto `dest`, producing
 * overlayfs form: `.wh.<name>` → whiteout char device 0/0 (and any existing <name> removed),
 * `.wh..wh..opq` → xattr trusted.overlay.opaque=y on the directory (and its pre-existing
 * content removed). Returns sizes and digests. Throws InvalidParameterError for bad archives.
 */
export async function applyLayer(input: Readable, dest: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const dir = path.resolve(dest);
  let isDir = false;
  try {
    isDir = fs.lstatSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) {
    input.destroy();
    throw new SystemError(`applyLayer: ${dir} is not a directory`);
  }
  const root = Root.open(dir, { owner: opts.ids?.root });
  const ex = new Unpacker(root, root.root, { whiteouts: 'overlay', noChown: opts.noChown, ids: opts.ids, signal: opts.signal, split: opts.split });
  let opened: Awaited<ReturnType<typeof openMaybeCompressed>> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    opened = await openMaybeCompressed(input);
    const o = opened;
    // Abort also interrupts a read that is waiting on a stalled input.
    onAbort = () => o.destroy(new SystemError('layer extraction aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const reader = new ByteReader(opened.chunks);
    const split = opts.split;
    if (split) reader.observe((b, data) => split.consume(b, data));
    const hashing = opts.digest !== false;
    if (!hashing) {
      reader.digest.countOnly();
      opened.raw.countOnly();
    }
    await ex.run(new TarReader(reader));
    await reader.drain();
    await ex.finish();
    await split?.save();
    const diffId = hashing ? reader.digest.digest() : '';
    return {
      size: ex.size,
      tarSize: reader.received,
      diffId,
      digest: opened.compression === 'none' || !hashing ? diffId : opened.raw.digest(),
      compressedSize: opened.raw.size,
      compression: opened.compression,
    };
  } catch (e) {
    opened?.destroy();
    if (!opened) input.destroy();
    ex.cleanupQuietly();
    throw extractionError(e, 'failed to apply layer');
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    root.close();
  }
}
