// Reading an image archive someone sent us (docker load), without ever writing a path taken from
// it: every regular file is copied into a private directory under a sequence number and hashed on
// the way; the archive's own names, symlinks and hard links are resolved in memory, confined to
// the archive. Whatever the format, manifests and blobs are then read back from there by name.
import { createReadStream, promises as fsp, type ReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameterError } from '../../errors.js';
import { cleanPath } from '../apply.js';
import { ByteReader, Digester, openMaybeCompressed } from '../stream.js';
import { BatchedWriter } from '../../util/batched-writer.js';
import { BLOCK, decodeRawHeader, finishHeader, isZeroBlock, parsePax } from '../tar.js';

export interface SpooledFile {
  /** The entry's name in the archive (cleaned). */
  name: string;
  /** Where its bytes are on disk. */
  path: string;
  size: number;
  /** sha256 of its bytes. */
  digest: string;
  /** Its bytes went to a tee that took them (a layer unpacked as it arrived): nothing at `path`. */
  taken?: boolean;
}

export interface SpoolLimits {
  /** Entries of any kind. */
  maxEntries: number;
  /** Bytes of a PAX or GNU long-name header. */
  maxHeader: number;
}

const DEFAULT_LIMITS: SpoolLimits = { maxEntries: 200_000, maxHeader: 1 << 20 };
const MAX_SYMLINK_HOPS = 40;
const MAX_JSON_DEPTH = 100;

/** The deepest nesting of arrays and objects in JSON text (a scan of the bytes, no parsing). */
function nestingDepth(json: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function bad(msg: string): InvalidParameterError {
  return new InvalidParameterError(`invalid archive: ${msg}`);
}

function pad(n: number): number {
  const r = n % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function cstr(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}

/** An entry name inside the archive: relative, cleaned, never above the archive's root. */
function entryName(raw: string): string {
  if (raw.startsWith('/')) throw bad(`entry ${JSON.stringify(raw)} has an absolute path`);
  const cleaned = cleanPath(raw);
  if (cleaned === '..' || cleaned.startsWith('../')) throw bad(`entry ${JSON.stringify(raw)} points outside the archive`);
  return cleaned;
}

/** A file a tee took is a layer tar (unpacked as it came): it cannot be read as anything else. */
function notTaken(file: SpooledFile, what: string): void {
  if (file.taken) throw bad(`${what} ${JSON.stringify(file.name)} is a layer tar`);
}

export class SpooledArchive {
  readonly files = new Map<string, SpooledFile>();
  /** Symlinks: name → target as a cleaned name inside the archive. */
  readonly symlinks = new Map<string, string>();

  constructor(readonly dir: string) {}

  /** Follows symlinks (in memory, inside the archive) and returns the file a name refers to. */
  resolve(name: string): SpooledFile | undefined {
    let comps = entryName(name).split('/');
    for (let hops = 0; ; ) {
      let redirected = false;
      for (let i = 0; i < comps.length; i++) {
        const target = this.symlinks.get(comps.slice(0, i + 1).join('/'));
        if (target === undefined) continue;
        if (++hops > MAX_SYMLINK_HOPS) throw bad(`too many levels of symbolic links resolving ${JSON.stringify(name)}`);
        comps = entryName([target, ...comps.slice(i + 1)].join('/')).split('/');
        redirected = true;
        break;
      }
      if (!redirected) return this.files.get(comps.join('/'));
    }
  }

  /** The file a name refers to; a clear error when it is not in the archive. */
  mustResolve(name: string, what: string): SpooledFile {
    if (typeof name !== 'string' || name === '') throw bad(`${what}: no path given`);
    const f = this.resolve(name);
    if (!f) throw bad(`${what} ${JSON.stringify(name)} is not in the archive`);
    return f;
  }

  async readBytes(file: SpooledFile, what: string, max: number): Promise<Buffer> {
    notTaken(file, what);
    if (file.size > max) throw bad(`${what} ${JSON.stringify(file.name)} is too large (${file.size} bytes; at most ${max} are accepted)`);
    return fsp.readFile(file.path);
  }

  async readJson<T>(file: SpooledFile, what: string, max: number): Promise<{ value: T; bytes: Buffer }> {
    const bytes = await this.readBytes(file, what, max);
    // Parsing copes with any depth but serialising does not: a deeply nested value would crash whatever prints it later.
    if (nestingDepth(bytes) > MAX_JSON_DEPTH) throw bad(`${what} ${JSON.stringify(file.name)} is nested more than ${MAX_JSON_DEPTH} levels deep`);
    try {
      return { value: JSON.parse(bytes.toString('utf8')) as T, bytes };
    } catch (err) {
      throw bad(`${what} ${JSON.stringify(file.name)} is not valid JSON: ${(err as Error).message}`);
    }
  }

  open(file: SpooledFile): ReadStream {
    notTaken(file, 'blob');
    return createReadStream(file.path, { highWaterMark: 1 << 20 });
  }
}

/**
 * Where a file's bytes also go while they are spooled (a load unpacks a layer as it arrives). It
 * sees the bytes in order and is told when they end; it may give up at any time (its `write`
 * then returns at once), which never fails the spool.
 */
export interface SpoolTee {
  write(chunk: Buffer): Promise<void>;
  end(): void;
  /** The spool failed: whatever the tee made from a partial file is not wanted. */
  abort(): void;
  /** The bytes go to the tee only: the spool does not write them (the file is then `taken`). */
  readonly takes?: boolean;
  /**
   * The digest the file has by its name, which the tee vouches for: a blob whose bytes nothing
   * will read (a layer the store has already), so the spool does not hash them either.
   */
  readonly digest?: string;
}

/** A file's first bytes, a whole block where it has one (null when the archive ends first). */
async function firstChunk(r: ByteReader, size: number): Promise<Buffer | null> {
  try {
    return await r.exact(Math.min(size, BLOCK), 'file data');
  } catch (err) {
    if (err instanceof InvalidParameterError && /unexpected end of stream/.test(err.message)) return null;
    throw err;
  }
}

type TeeFor = (first: Buffer) => SpoolTee | undefined | Promise<SpoolTee | undefined>;

/** Spools one file's bytes to `dest` (unless a tee takes them), hashing them on the way. */
async function spoolFile(r: ByteReader, size: number, dest: string, tee?: TeeFor): Promise<{ digest: string; taken: boolean }> {
  const d = new Digester();
  let fh: fsp.FileHandle | undefined;
  let out: BatchedWriter | undefined;
  let sink: SpoolTee | undefined;
  let ok = false;
  try {
    let left = size;
    if (size === 0) fh = await fsp.open(dest, 'wx', 0o600);
    while (left > 0) {
      // The first chunk holds the tar header a tee looks at, wherever the input's chunks end.
      const c = left === size ? await firstChunk(r, size) : await r.chunk(Math.min(left, 1 << 20));
      if (!c) throw bad('unexpected end of archive (truncated?)');
      if (!sink?.digest) d.update(c);
      if (left === size) {
        sink = await tee?.(c);
        if (!sink?.takes) {
          fh = await fsp.open(dest, 'wx', 0o600);
          out = new BatchedWriter(fh);
        }
      }
      await Promise.all([out?.write(c), sink?.write(c)]);
      left -= c.length;
    }
    await out?.flush();
    ok = true;
  } finally {
    if (ok) sink?.end();
    else sink?.abort();
    await out?.settle();
    await fh?.close();
  }
  return { digest: sink?.digest ?? d.digest(), taken: !!sink?.takes };
}

/**
 * Reads a (possibly compressed) tar stream into `dir`, which must exist and be private to the
 * caller. Stops at the end-of-archive marker. Hostile names, links out of the archive and
 * truncated or corrupt input fail with InvalidParameterError; the caller removes `dir`.
 */
export async function spoolArchive(
  input: Readable,
  dir: string,
  limits: Partial<SpoolLimits> = {},
  /** Told of each file once it is complete on disk (a load starts unpacking layers early). */
  onFile?: (file: SpooledFile) => void,
  /** Given a file's name, size and first bytes, may ask for all of its bytes as they are spooled (or instead). */
  tee?: (name: string, size: number, first: Buffer) => SpoolTee | undefined | Promise<SpoolTee | undefined>,
): Promise<SpooledArchive> {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const archive = new SpooledArchive(dir);
  // Each file is hashed as it is spooled; the archive as a whole needs no digest.
  const opened = await openMaybeCompressed(input, { hashRaw: false });
  const r = new ByteReader(opened.chunks);
  r.digest.countOnly();
  let pax: Map<string, Buffer> | null = null;
  let longName: Buffer | null = null;
  let longLink: Buffer | null = null;
  let entries = 0;
  let seq = 0;
  try {
    for (;;) {
      const block = await r.exact(BLOCK, 'header');
      if (!block) {
        if (entries === 0) throw bad('the archive is empty');
        break;
      }
      if (isZeroBlock(block)) break;
      if (++entries > lim.maxEntries) throw bad(`more than ${lim.maxEntries} entries`);
      const raw = decodeRawHeader(block);
      const flag = String.fromCharCode(raw.typeflag);
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (raw.size > lim.maxHeader) throw bad('extended header too large');
        const data = await r.exact(raw.size, 'extended header');
        if (!data && raw.size > 0) throw bad('unexpected end of archive (truncated?)');
        await r.skip(pad(raw.size), 'extended header');
        if (flag === 'x') pax = parsePax(data ?? Buffer.alloc(0));
        else if (flag === 'L') longName = cstr(data ?? Buffer.alloc(0));
        else if (flag === 'K') longLink = cstr(data ?? Buffer.alloc(0));
        continue;
      }
      const hdr = finishHeader(raw, pax, longName, longLink);
      pax = longName = longLink = null;
      const name = entryName(hdr.name);
      if (hdr.type === 'file') {
        const file = path.join(dir, String(seq++));
        const { digest, taken } = await spoolFile(r, hdr.size, file, tee && ((first) => tee(name, hdr.size, first)));
        // As Go's reader: an archive may end right after a file's data, without padding.
        await r.exact(pad(hdr.size), 'file padding');
        if (name !== '.') {
          archive.symlinks.delete(name);
          const spooled: SpooledFile = { name, path: file, size: hdr.size, digest, ...(taken ? { taken } : {}) };
          archive.files.set(name, spooled);
          onFile?.(spooled);
        }
        continue;
      }
      if (hdr.type === 'symlink') {
        if (hdr.linkname.startsWith('/')) throw bad(`symlink ${JSON.stringify(name)} points outside the archive (${JSON.stringify(hdr.linkname)})`);
        const target = cleanPath(path.posix.join(path.posix.dirname(name), hdr.linkname));
        if (target === '..' || target.startsWith('../')) throw bad(`symlink ${JSON.stringify(name)} points outside the archive (${JSON.stringify(hdr.linkname)})`);
        archive.files.delete(name);
        archive.symlinks.set(name, target);
        continue;
      }
      if (hdr.type === 'link') {
        const target = archive.resolve(entryName(hdr.linkname));
        if (!target) throw bad(`hard link ${JSON.stringify(name)} refers to ${JSON.stringify(hdr.linkname)}, which is not a file earlier in the archive`);
        archive.symlinks.delete(name);
        archive.files.set(name, { ...target, name });
        continue;
      }
      // Directories need no record; devices and fifos have no place in an image archive and are ignored.
    }
    // Whatever follows the end marker (tar's record padding) is not read.
    opened.destroy();
    return archive;
  } catch (err) {
    opened.destroy();
    throw err;
  }
}
