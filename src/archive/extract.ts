// extractArchive: docker cp's extraction (moby's Untar). Unlike applyLayer, `.wh.` entries are
// plain files, the destination directory's own metadata is left alone, and the options of the
// copy API (noOverwriteDirNonDir, copyUIDGID) apply. Confinement is the same: see unpack.ts.

import type { Readable } from 'node:stream';
import type { Dir, Root } from './root.js';
import { ByteReader, openMaybeCompressed } from './stream.js';
import { TarReader } from './tar-reader.js';
import { extractionError, Unpacker } from './unpack.js';
import type { IdMapping } from '../util/idmap.js';

export interface ExtractOptions {
  /** Refuse to replace an existing directory by a non-directory and the reverse. */
  noOverwriteDirNonDir?: boolean;
  /** Own every entry by these ids (cp --archive into a container with a User). */
  chown?: { uid: number; gid: number };
  /** The daemon's user namespace mapping: entries are owned by the host ids of their ids. */
  ids?: IdMapping;
  /** Permission bits for every file and directory (COPY --chmod). */
  mode?: number;
  /** Leave everything owned by the caller (the CLI extracting on the host). */
  noChown?: boolean;
  /** Ignore extended attributes the destination refuses. */
  bestEffortXattrs?: boolean;
  signal?: AbortSignal;
}

/**
 * Extracts a tar stream (plain, gzip, bzip2, xz or zstd) into directory `dest` of `root`.
 * Bad archives are InvalidParameterError, overwrite conflicts ConflictError. What was
 * extracted before an error stays, as with Docker; a file cut short is removed.
 */
export async function extractArchive(input: Readable, root: Root, dest: Dir, opts: ExtractOptions = {}): Promise<{ size: number }> {
  const ex = new Unpacker(root, dest, {
    whiteouts: 'none',
    noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
    chown: opts.chown,
    ids: opts.ids,
    mode: opts.mode,
    noChown: opts.noChown,
    bestEffortXattrs: opts.bestEffortXattrs,
    signal: opts.signal,
  });
  let opened: Awaited<ReturnType<typeof openMaybeCompressed>> | undefined;
  try {
    opened = await openMaybeCompressed(input);
    const reader = new ByteReader(opened.chunks);
    await ex.run(new TarReader(reader));
    await ex.finish();
    // Whatever follows the end-of-archive marker is read, so that the sender is not left hanging.
    await reader.drain();
    return { size: ex.size };
  } catch (e) {
    opened?.destroy();
    if (!opened) input.destroy();
    throw extractionError(e, 'failed to extract archive');
  }
}
