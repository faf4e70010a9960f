// packDirectory: a deterministic tar of a directory tree (docker export, commit, layer diffs).

import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, padding, type WriteHeader } from './tar.js';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './apply.js';
import { dumpXattrs } from './xattr.js';
import { SystemError } from '../errors.js';

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
}

const READ_CHUNK = 1024 * 1024;
const BATCH = 64 * 1024;
const O_READ = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function devParts(rdev: bigint): [number, number] {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return [major, minor];
}

function isENOENT(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
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
 */
export function packDirectory(dir: string, opts: PackOptions = {}): Readable {
  return Readable.from(generate(dir, opts), { objectMode: false, highWaterMark: BATCH * 4 });
}

async function* generate(dir: string, opts: PackOptions): AsyncGenerator<Buffer> {
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

  const base = (st: fs.Stats): Omit<WriteHeader, 'name' | 'type'> => ({
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
  });

  if (opts.includeRoot) {
    if (push(encodeHeader({ ...base(rootSt), name: './', type: 'dir', xattrs: attrsOf(root) }))) yield flush()!;
  }
  if (opts.overlayUpper && isOpaque(root)) {
    if (push(encodeHeader({ ...base(rootSt), mode: rootSt.mode & 0o777, mtime: 0, name: WHITEOUT_OPAQUE, type: 'file' }))) {
      yield flush()!;
    }
  }

  // Explicit stack for a depth-first walk in sorted order.
  const stack: string[][] = [];
  const prefixes: string[] = [];
  const readSorted = (rel: string): string[] | null => {
    try {
      return fs.readdirSync(absOf(rel)).sort((a, b) => byteCompare(b, a)); // reversed: pop() = smallest
    } catch (e) {
      if (isENOENT(e)) return null;
      throw e;
    }
  };
  stack.push(readSorted('') ?? []);
  prefixes.push('');
  const buf = Buffer.allocUnsafe(READ_CHUNK);

  while (stack.length > 0) {
    const names = stack[stack.length - 1]!;
    const name = names.pop();
    if (name === undefined) {
      stack.pop();
      prefixes.pop();
      continue;
    }
    const rel = prefixes[prefixes.length - 1]! + name;
    const abs = absOf(rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
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
      const children = readSorted(rel);
      if (children) {
        stack.push(children);
        prefixes.push(`${rel}/`);
      }
      continue;
    }

    if (st.isCharacterDevice()) {
      const [major, minor] = devParts(fs.lstatSync(abs, { bigint: true }).rdev);
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
        target = fs.readlinkSync(abs);
      } catch (e) {
        if (isENOENT(e)) continue;
        throw e;
      }
      if (push(encodeHeader({ ...hdr, type: 'symlink', linkname: target }))) yield flush()!;
      continue;
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const [major, minor] = devParts(fs.lstatSync(abs, { bigint: true }).rdev);
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
    let fd: number;
    try {
      fd = fs.openSync(abs, O_READ);
    } catch (e) {
      if (isENOENT(e)) continue;
      throw e;
    }
    try {
      const size = st.size;
      push(encodeHeader({ ...hdr, size }));
      let left = size;
      while (left > 0) {
        const n = fs.readSync(fd, buf, 0, Math.min(READ_CHUNK, left), null);
        if (n === 0) {
          // File shrank since lstat: pad with zeros to the size we promised.
          const zeros = Buffer.alloc(Math.min(READ_CHUNK, left));
          left -= zeros.length;
          if (push(zeros)) yield flush()!;
          continue;
        }
        left -= n;
        const chunk = Buffer.from(buf.subarray(0, n)); // copy: buf is reused
        if (n >= BATCH) {
          const f = flush();
          if (f) yield f;
          yield chunk;
        } else if (push(chunk)) {
          yield flush()!;
        }
      }
      const p = padding(size);
      if (p.length && push(p)) yield flush()!;
    } finally {
      fs.closeSync(fd);
    }
  }
  push(END_OF_ARCHIVE);
  yield flush()!;
}

export { BLOCK };
