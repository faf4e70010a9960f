// packDirectory: a deterministic tar of a directory tree (docker export, commit, layer diffs).

import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, padding, type WriteHeader } from './tar.js';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './apply.js';
import { dumpXattrs } from './xattr.js';
import { SystemError } from '../errors.js';
import type { IdMapping } from '../util/idmap.js';

export interface PackOptions {
  /**
   * The directory is an overlayfs upper dir: whiteout char devices 0/0 become `.wh.<name>`
   * entries and opaque directories get a `<dir>/.wh..wh..opq` entry (an OCI layer diff).
   * Otherwise (export) whiteout devices are left out.
   */
  overlayUpper?: boolean;
  /** Include extended attributes (default true). trusted.overlay.* and security.selinux never are. */
  xattrs?: boolean;
  /** Emit an entry for the root directory itself as "./" (default false, like docker export). */
  includeRoot?: boolean;
  /** Relative paths ("etc/hosts") left out, with everything below them. */
  exclude?: (rel: string) => boolean;
  /**
   * Only the headers, no file contents (not a valid tar): what two trees' tars would differ in
   * when their files' bytes are known to be equal (a copy checked against its source).
   */
  headersOnly?: boolean;
  /** The daemon's user namespace mapping: host ids on disk are archived as the container's ids. */
  ids?: IdMapping;
}

const READ_CHUNK = 1024 * 1024;
const BATCH = 64 * 1024;
/** Files at least this large are read ahead on libuv's threads while the consumer takes the last chunk. */
const BIG_FILE = 256 * 1024;
const O_READ = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function devParts(rdev: bigint): [number, number] {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return [major, minor];
}

/** open(O_NOFOLLOW) met a symlink, or O_DIRECTORY a non-directory: the entry was swapped. */
function isSwapped(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ELOOP' || c === 'ENOTDIR';
}

function isENOENT(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
}

/**
 * `size` bytes of an open file in chunks of their own (no copy), the next one read (pread, on
 * libuv's thread pool) while the consumer takes the current one: reading and hashing or
 * compressing overlap. A file that shrank since it was measured is padded with zeros.
 */
async function* readAhead(fd: number, size: number): AsyncGenerator<Buffer> {
  const read = (at: number): Promise<Buffer> => {
    const len = Math.min(READ_CHUNK, size - at);
    const b = Buffer.allocUnsafeSlow(len);
    return new Promise((resolve, reject) =>
      fs.read(fd, b, 0, len, at, (err, n) => (err ? reject(err) : resolve(n === len ? b : Buffer.concat([b.subarray(0, n), Buffer.alloc(len - n)])))),
    );
  };
  let next: Promise<Buffer> | undefined = read(0);
  try {
    for (let at = 0; at < size; ) {
      const chunk: Buffer = await next!;
      at += chunk.length;
      next = at < size ? read(at) : undefined;
      yield chunk;
    }
  } finally {
    // The caller closes fd: no read of it may still be in flight.
    await next?.catch(() => undefined);
  }
}

function keepXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && name !== 'security.selinux';
}

/**
 * A tar stream of `dir`: entries in sorted (byte-wise, depth-first) order, names relative
 * without a leading "./", directories with a trailing "/". Ownership, permission bits incl.
 * setuid/setgid/sticky, mtimes (whole seconds), symlinks (as-is, never followed), hardlinks
 * (second and later names as link entries), devices, fifos and xattrs (PAX SCHILY.xattr.*)
 * are kept; sockets are skipped (as Docker does). PAX headers carry long names and large ids.
 *
 * The tree may belong to a running container that swaps a directory for a symlink while it is
 * packed: every name is looked up relative to an open descriptor of its parent directory
 * (through /proc/self/fd, openat's semantics) and directories and files are opened with
 * O_NOFOLLOW, so no symlink is ever followed and nothing outside `dir` can be read.
 */
export function packDirectory(dir: string, opts: PackOptions = {}): Readable {
  return Readable.from(packChunks(dir, opts), { objectMode: false, highWaterMark: BATCH * 4 });
}

/** packDirectory's bytes without a stream around them (a caller that only hashes them). */
export async function* packChunks(dir: string, opts: PackOptions): AsyncGenerator<Buffer> {
  const root = dir.replace(/\/+$/, '') || '/';
  const rootSt = fs.lstatSync(root);
  if (!rootSt.isDirectory()) throw new SystemError(`packDirectory: ${root} is not a directory`);
  const wantX = opts.xattrs !== false;
  const xattrs = wantX || opts.overlayUpper
    ? await dumpXattrs(root, wantX ? '-' : `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`)
    : new Map<string, Map<string, Buffer>>();
  const links = new Map<string, string>();

  let pending: Buffer[] = [];
  let pendingLen = 0;
  const flush = (): Buffer | null => {
    if (pendingLen === 0) return null;
    const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    return b;
  };
  const push = (b: Buffer): boolean => {
    pending.push(b);
    pendingLen += b.length;
    return pendingLen >= BATCH;
  };

  const absOf = (rel: string) => (rel === '' ? root : `${root}/${rel}`);
  const attrsOf = (abs: string): Map<string, Buffer> | undefined => {
    const m = xattrs.get(abs);
    if (!m) return undefined;
    const out = new Map<string, Buffer>();
    if (wantX) for (const [k, v] of m) if (keepXattr(k)) out.set(k, v);
    return out;
  };
  const isOpaque = (abs: string): boolean => {
    const v = xattrs.get(abs)?.get(OVERLAY_OPAQUE_XATTR);
    return v !== undefined && v.length === 1 && v[0] === 0x79;
  };

  const base = (st: fs.Stats): Omit<WriteHeader, 'name' | 'type'> => {
    const own = opts.ids ? opts.ids.toContainer(st) : st;
    return { mode: st.mode & 0o7777, uid: own.uid, gid: own.gid, size: 0, mtime: Math.floor(st.mtimeMs / 1000) };
  };

  if (opts.includeRoot) {
    if (push(encodeHeader({ ...base(rootSt), name: './', type: 'dir', xattrs: attrsOf(root) }))) yield flush()!;
  }
  if (opts.overlayUpper && isOpaque(root)) {
    if (push(encodeHeader({ ...base(rootSt), mode: rootSt.mode & 0o777, mtime: 0, name: WHITEOUT_OPAQUE, type: 'file' }))) {
      yield flush()!;
    }
  }

  // Explicit stack for a depth-first walk in sorted order; each level holds its directory open.
  interface Level {
    fd: number;
    names: string[];
    prefix: string;
  }
  const stack: Level[] = [];
  const via = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;
  const openDir = (p: string): number | null => {
    try {
      return fs.openSync(p, O_DIR);
    } catch (e) {
      if (isENOENT(e) || isSwapped(e)) return null; // gone, or no longer a directory
      throw e;
    }
  };
  const pushLevel = (fd: number, prefix: string): void => {
    const names = fs.readdirSync(`/proc/self/fd/${fd}`).sort((a, b) => byteCompare(b, a)); // reversed: pop() = smallest
    stack.push({ fd, names, prefix });
  };
  const rootFd = openDir(root);
  if (rootFd === null) throw new SystemError(`packDirectory: ${root} is not a directory`);
  pushLevel(rootFd, '');
  const buf = Buffer.allocUnsafe(READ_CHUNK);

  try {
    while (stack.length > 0) {
      const level = stack[stack.length - 1]!;
      const name = level.names.pop();
      if (name === undefined) {
        stack.pop();
        fs.closeSync(level.fd);
        continue;
      }
      const rel = level.prefix + name;
      if (opts.exclude?.(rel)) continue;
      const abs = absOf(rel);
      const at = via(level.fd, name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(at);
      } catch (e) {
        if (isENOENT(e)) continue; // vanished while we walked (running container)
        throw e;
      }

      if (st.isDirectory()) {
        if (push(encodeHeader({ ...base(st), name: `${rel}/`, type: 'dir', xattrs: attrsOf(abs) }))) yield flush()!;
        if (opts.overlayUpper && isOpaque(abs)) {
          // moby: a regular file inheriting the directory's permissions and owner, mtime zero.
          const wo = { ...base(st), mode: st.mode & 0o777, mtime: 0, name: `${rel}/${WHITEOUT_OPAQUE}`, type: 'file' as const };
          if (push(encodeHeader(wo))) yield flush()!;
        }
        const fd = openDir(at);
        if (fd !== null) {
          try {
            pushLevel(fd, `${rel}/`);
          } catch (e) {
            fs.closeSync(fd);
            if (!isENOENT(e)) throw e;
          }
        }
        continue;
      }

      if (st.isCharacterDevice()) {
        const [major, minor] = devParts(fs.lstatSync(at, { bigint: true }).rdev);
        if (major === 0 && minor === 0) {
          // An overlay whiteout.
          if (opts.overlayUpper) {
            const slash = rel.lastIndexOf('/');
            const wname = slash < 0 ? `${WHITEOUT_PREFIX}${rel}` : `${rel.slice(0, slash + 1)}${WHITEOUT_PREFIX}${rel.slice(slash + 1)}`;
            if (push(encodeHeader({ ...base(st), mode: 0o600, name: wname, type: 'file' }))) yield flush()!;
          }
          continue;
        }
      }
      if (st.isSocket()) continue;

      const hdr: WriteHeader = { ...base(st), name: rel, type: 'file', xattrs: attrsOf(abs) };
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          if (push(encodeHeader({ ...hdr, type: 'link', linkname: first }))) yield flush()!;
          continue;
        }
        links.set(key, rel);
      }

      if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = fs.readlinkSync(at);
        } catch (e) {
          if (isENOENT(e)) continue;
          throw e;
        }
        if (push(encodeHeader({ ...hdr, type: 'symlink', linkname: target }))) yield flush()!;
        continue;
      }
      if (st.isCharacterDevice() || st.isBlockDevice()) {
        const [major, minor] = devParts(fs.lstatSync(at, { bigint: true }).rdev);
        const type = st.isCharacterDevice() ? 'char' : 'block';
        if (push(encodeHeader({ ...hdr, type, devmajor: major, devminor: minor }))) yield flush()!;
        continue;
      }
      if (st.isFIFO()) {
        if (push(encodeHeader({ ...hdr, type: 'fifo' }))) yield flush()!;
        continue;
      }
      if (!st.isFile()) continue;

      // Regular file.
      if (opts.headersOnly) {
        if (push(encodeHeader({ ...hdr, size: st.size }))) yield flush()!;
        continue;
      }
      let fd: number;
      try {
        fd = fs.openSync(at, O_READ);
      } catch (e) {
        if (isENOENT(e) || isSwapped(e)) continue;
        throw e;
      }
      try {
        // Swapped for something else since the lstat: its bytes are not this entry's.
        const now = fs.fstatSync(fd);
        const same = now.isFile() && now.ino === st.ino && now.dev === st.dev;
        const size = st.size;
        push(encodeHeader({ ...hdr, size }));
        if (same && size >= BIG_FILE) {
          for await (const chunk of readAhead(fd, size)) {
            const f = flush();
            if (f) yield f;
            yield chunk;
          }
        } else {
          let left = size;
          while (left > 0) {
            const n = same ? fs.readSync(fd, buf, 0, Math.min(READ_CHUNK, left), null) : 0;
            // File shrank since lstat: pad with zeros to the size we promised.
            const chunk = n === 0 ? Buffer.alloc(Math.min(READ_CHUNK, left)) : Buffer.from(buf.subarray(0, n)); // copy: buf is reused
            left -= chunk.length;
            if (push(chunk)) yield flush()!;
          }
        }
        const p = padding(size);
        if (p.length && push(p)) yield flush()!;
      } finally {
        fs.closeSync(fd);
      }
    }
  } finally {
    // An abandoned stream (client gone) or an error must not leak the directory descriptors.
    for (const level of stack) fs.closeSync(level.fd);
  }
  push(END_OF_ARCHIVE);
  yield flush()!;
}

export { BLOCK };
