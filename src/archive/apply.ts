// applyLayer: extract an OCI/Docker layer tar onto a directory in overlayfs form.
//
// Safety model (what moby gets from chroot, done here by hand): every entry's parent path is
// resolved component by component with lstat, starting at dest; symlinks met on the way are
// resolved *inside* dest (absolute targets restart at dest, `..` stops at dest), so nothing is
// ever created, opened, linked or removed outside dest. The final component is never followed:
// whatever is there is removed first and the new file is created with O_EXCL|O_NOFOLLOW.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BerthError, InvalidParameterError, SystemError } from '../errors.js';
import { BLOCK, decodeRawHeader, finishHeader, isZeroBlock, parsePax, type TarHeader } from './tar.js';
import { ByteReader, openMaybeCompressed, type Compression } from './stream.js';
import { mkfifo, mknod, setXattrs } from './xattr.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface ApplyOptions {
  /** Don't chown entries (keep them owned by the caller). Default false: ownership as in the tar. */
  noChown?: boolean;
  /** Abort: stops extraction (destroying the input) and rejects with SystemError. */
  signal?: AbortSignal;
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

const O_CREATE_FILE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const MAX_SYMLINKS = 40;
const MAX_LONG_HEADER = 1 << 20;

/** Go's path.Clean for slash-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(c);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

function bad(msg: string): InvalidParameterError {
  return new InvalidParameterError(msg);
}

function isENOENT(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (isENOENT(e)) return null;
    throw e;
  }
}

/**
 * Applies a layer tar (gzip/zstd/xz/bzip2 or plain, detected by magic) onto `dest`, producing
 * overlayfs form: `.wh.<name>` → whiteout char device 0/0 (and any existing <name> removed),
 * `.wh..wh..opq` → xattr trusted.overlay.opaque=y on the directory (and its pre-existing
 * content removed). Returns sizes and digests. Throws InvalidParameterError for bad archives.
 */
export async function applyLayer(input: Readable, dest: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const root = path.resolve(dest);
  const rootSt = lstatOrNull(root);
  if (!rootSt || !rootSt.isDirectory()) throw new SystemError(`applyLayer: ${root} is not a directory`);
  let opened: Awaited<ReturnType<typeof openMaybeCompressed>> | undefined;
  const ex = new Extractor(root, opts);
  let onAbort: (() => void) | undefined;
  try {
    opened = await openMaybeCompressed(input);
    const o = opened;
    // Abort also interrupts a read that is waiting on a stalled input.
    onAbort = () => o.destroy(new SystemError('layer extraction aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const reader = new ByteReader(opened.chunks);
    await ex.run(reader);
    await reader.drain();
    await ex.finish();
    return {
      size: ex.size,
      tarSize: reader.received,
      diffId: reader.digest.digest(),
      digest: opened.raw.digest(),
      compressedSize: opened.raw.size,
      compression: opened.compression,
    };
  } catch (e) {
    opened?.destroy();
    if (!opened) input.destroy();
    ex.cleanupQuietly();
    if (e instanceof BerthError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new SystemError(`failed to apply layer: ${err.message ?? String(e)}`);
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
  }
}

interface DirTime {
  abs: string;
  mtime: number;
}

class Extractor {
  size = 0;
  /** Relative paths (resolved, no symlinks) known to be real directories inside root. */
  private readonly dirs = new Set<string>(['']);
  /** Relative paths created by this layer (kept by an opaque marker). */
  private readonly unpacked = new Set<string>();
  private readonly dirTimes: DirTime[] = [];
  private readonly xattrs = new Map<string, Map<string, Buffer>>();
  private whiteoutTemplate: string | null = null;
  private readonly templateName = `.berth-whiteout-${randomBytes(8).toString('hex')}`;

  constructor(private readonly root: string, private readonly opts: ApplyOptions) {}

  async run(r: ByteReader): Promise<void> {
    let pax: Map<string, Buffer> | null = null;
    let longName: Buffer | null = null;
    let longLink: Buffer | null = null;
    for (;;) {
      if (this.opts.signal?.aborted) throw new SystemError('layer extraction aborted');
      const block = await r.exact(BLOCK, 'header');
      if (!block) return; // stream ended without an end marker: Go accepts that
      if (isZeroBlock(block)) {
        const next = await r.exact(BLOCK, 'end-of-archive marker');
        if (!next || isZeroBlock(next)) return;
        throw bad('invalid tar archive: zero block followed by data');
      }
      const raw = decodeRawHeader(block);
      const flag = String.fromCharCode(raw.typeflag);
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (raw.size > MAX_LONG_HEADER) throw bad('invalid tar archive: extended header too large');
        const data = (await r.exact(raw.size, 'extended header')) ?? Buffer.alloc(0);
        if (data.length < raw.size) throw bad('invalid tar archive: unexpected end of stream in extended header');
        await r.skip(pad(raw.size), 'extended header');
        if (flag === 'x') pax = parsePax(data);
        else if (flag === 'L') longName = cstrBuf(data);
        else if (flag === 'K') longLink = cstrBuf(data);
        // 'g' (global PAX): ignored, as moby does.
        continue;
      }
      const hdr = finishHeader(raw, pax, longName, longLink);
      pax = longName = longLink = null;
      await this.entry(hdr, r);
    }
  }

  private async entry(hdr: TarHeader, r: ByteReader): Promise<void> {
    this.size += hdr.size;
    const dataLen = hdr.type === 'file' ? hdr.size : 0;
    let consumed = false;
    const skipData = async () => {
      if (!consumed) {
        consumed = true;
        await r.skip(dataLen, 'file data');
        // Go's reader treats a stream that ends right after the data (no padding) as a clean end; umoci writes such layers.
        await r.exact(pad(dataLen), 'file padding');
      }
    };

    const cleaned = cleanPath(hdr.name);
    if (cleaned === '..' || cleaned.startsWith('../')) {
      throw bad(`invalid tar archive: ${JSON.stringify(hdr.name)} is outside of ${JSON.stringify(this.root)}`);
    }
    const rel = cleaned.replace(/^\/+/, '').replace(/^\.$/, '');
    const comps = rel === '' ? [] : rel.split('/');
    const base = comps.length ? comps[comps.length - 1]! : '';

    // AUFS metadata at the top level (.wh..wh.plnk, .wh..wh.aufs): skipped, like moby.
    if (comps.length === 1 && base.startsWith(WHITEOUT_META_PREFIX) && base !== WHITEOUT_OPAQUE) {
      await skipData();
      return;
    }

    if (base.startsWith(WHITEOUT_PREFIX)) {
      await skipData();
      const parent = this.resolveDir(comps.slice(0, -1), true, hdr.name);
      if (base === WHITEOUT_OPAQUE) {
        this.makeOpaque(parent);
        return;
      }
      const orig = base.slice(WHITEOUT_PREFIX.length);
      if (orig === '' || orig === '.' || orig === '..') throw bad(`invalid tar archive: invalid whiteout ${JSON.stringify(hdr.name)}`);
      const relTarget = join(parent, orig);
      this.removeIfExists(relTarget);
      await this.makeWhiteout(relTarget);
      this.unpacked.add(relTarget);
      return;
    }

    // The archive root itself ("./" or "/"): only metadata, and only if it is a directory.
    if (comps.length === 0) {
      if (hdr.type !== 'dir') throw bad(`invalid tar archive: root entry ${JSON.stringify(hdr.name)} is not a directory`);
      await skipData();
      this.setMeta(this.root, hdr, false);
      this.queueXattrs(this.root, hdr);
      this.dirTimes.push({ abs: this.root, mtime: hdr.mtime });
      return;
    }

    const parent = this.resolveDir(comps.slice(0, -1), true, hdr.name);
    const relPath = join(parent, base);
    const abs = this.abs(relPath);
    const existing = lstatOrNull(abs);
    if (existing && !(existing.isDirectory() && hdr.type === 'dir')) this.remove(relPath, existing);

    switch (hdr.type) {
      case 'dir': {
        await skipData();
        if (!existing || !existing.isDirectory()) fs.mkdirSync(abs, 0o700);
        this.dirs.add(relPath);
        this.setMeta(abs, hdr, false);
        this.dirTimes.push({ abs, mtime: hdr.mtime });
        break;
      }
      case 'file': {
        consumed = true;
        const fd = fs.openSync(abs, O_CREATE_FILE, 0o600);
        try {
          let left = dataLen;
          while (left > 0) {
            const c = await r.chunk(left);
            if (!c) throw bad(`invalid tar archive: unexpected end of stream in data of ${JSON.stringify(hdr.name)}`);
            let off = 0;
            while (off < c.length) off += fs.writeSync(fd, c, off, c.length - off);
            left -= c.length;
          }
          if (!this.opts.noChown) fs.fchownSync(fd, hdr.uid, hdr.gid);
          fs.fchmodSync(fd, hdr.mode);
          fs.futimesSync(fd, hdr.mtime, hdr.mtime);
        } finally {
          fs.closeSync(fd);
        }
        await r.exact(pad(dataLen), 'file padding');
        break;
      }
      case 'symlink': {
        await skipData();
        // moby: a relative target that climbs out of the extraction root is refused.
        // (Absolute targets are fine: they resolve inside the container's root.)
        const lexical = cleanPath(`${path.posix.dirname(rel)}/${hdr.linkname}`);
        if (!hdr.linkname.startsWith('/') && (lexical === '..' || lexical.startsWith('../'))) {
          throw bad(`invalid tar archive: invalid symlink ${JSON.stringify(hdr.name)} -> ${JSON.stringify(hdr.linkname)}`);
        }
        if (hdr.linkname === '') throw bad(`invalid tar archive: empty symlink target for ${JSON.stringify(hdr.name)}`);
        fs.symlinkSync(hdr.linkname, abs);
        this.setMeta(abs, hdr, true);
        break;
      }
      case 'link': {
        await skipData();
        const target = cleanPath(hdr.linkname);
        if (target === '..' || target.startsWith('../') || hdr.linkname === '') {
          throw bad(`invalid tar archive: invalid hardlink ${JSON.stringify(hdr.name)} -> ${JSON.stringify(hdr.linkname)}`);
        }
        const tcomps = target.replace(/^\/+/, '').split('/').filter((c) => c !== '' && c !== '.');
        if (tcomps.length === 0) throw bad(`invalid tar archive: invalid hardlink ${JSON.stringify(hdr.name)} -> ${JSON.stringify(hdr.linkname)}`);
        const tparent = this.resolveDir(tcomps.slice(0, -1), false, hdr.linkname);
        const tRel = join(tparent, tcomps[tcomps.length - 1]!);
        const tAbs = this.abs(tRel);
        const tst = lstatOrNull(tAbs);
        if (!tst) throw bad(`invalid tar archive: hardlink target ${JSON.stringify(hdr.linkname)} of ${JSON.stringify(hdr.name)} does not exist`);
        if (tst.isDirectory()) throw bad(`invalid tar archive: hardlink ${JSON.stringify(hdr.name)} points to a directory`);
        if (tRel === relPath) break; // link to itself: nothing to do (the old file was removed above)
        fs.linkSync(tAbs, abs);
        // moby applies the link header's ownership/mode/times to the shared inode (not to symlinks).
        if (!tst.isSymbolicLink()) this.setMeta(abs, hdr, false);
        break;
      }
      case 'char':
      case 'block': {
        await skipData();
        await mknod(abs, hdr.type === 'char' ? 'c' : 'b', hdr.devmajor, hdr.devminor, hdr.mode);
        this.setMeta(abs, hdr, false);
        break;
      }
      case 'fifo': {
        await skipData();
        await mkfifo(abs, hdr.mode);
        this.setMeta(abs, hdr, false);
        break;
      }
    }
    this.queueXattrs(abs, hdr);
    this.unpacked.add(relPath);
  }

  /** chown/chmod/utimes of a path we just created (never follows: lchown/lutimes, no chmod on symlinks). */
  private setMeta(abs: string, hdr: TarHeader, isSymlink: boolean): void {
    if (!this.opts.noChown) fs.lchownSync(abs, hdr.uid, hdr.gid);
    if (!isSymlink) fs.chmodSync(abs, hdr.mode);
    if (hdr.type !== 'dir') fs.lutimesSync(abs, hdr.mtime, hdr.mtime);
  }

  private queueXattrs(abs: string, hdr: TarHeader): void {
    for (const [k, v] of hdr.xattrs) {
      // Overlay's own attributes are not the layer's to set (only opaque, via .wh..wh..opq).
      if (k.startsWith('trusted.overlay.')) continue;
      let m = this.xattrs.get(abs);
      if (!m) this.xattrs.set(abs, (m = new Map()));
      m.set(k, v);
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /**
   * Resolves directory components inside root. Symlinks are followed but confined to root;
   * missing directories are created (0755, like moby's MkdirAll) unless a symlink was followed
   * to get there (then it is an error, as it would be inside moby's chroot).
   */
  private resolveDir(comps: string[], create: boolean, entryName: string): string {
    const cur: string[] = [];
    const queue = comps.slice();
    let followed = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur.pop();
        continue;
      }
      cur.push(c);
      const rel = cur.join('/');
      if (this.dirs.has(rel)) continue;
      const abs = this.abs(rel);
      const st = lstatOrNull(abs);
      if (!st) {
        if (!create || followed > 0) {
          throw bad(`invalid tar archive: cannot extract ${JSON.stringify(entryName)}: ${JSON.stringify(rel)} does not exist`);
        }
        fs.mkdirSync(abs, 0o755);
        this.dirs.add(rel);
        continue;
      }
      if (st.isDirectory()) {
        this.dirs.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++followed > MAX_SYMLINKS) {
          throw bad(`invalid tar archive: cannot extract ${JSON.stringify(entryName)}: too many levels of symbolic links`);
        }
        const target = fs.readlinkSync(abs);
        cur.pop();
        if (target.startsWith('/')) cur.length = 0;
        queue.unshift(...target.split('/'));
        continue;
      }
      throw bad(`invalid tar archive: cannot extract ${JSON.stringify(entryName)}: ${JSON.stringify(rel)} is not a directory`);
    }
    return cur.join('/');
  }

  private removeIfExists(rel: string): void {
    const st = lstatOrNull(this.abs(rel));
    if (st) this.remove(rel, st);
  }

  /** Removes rel (recursively, never following symlinks) and forgets cached dirs under it. */
  private remove(rel: string, st: fs.Stats): void {
    const abs = this.abs(rel);
    if (st.isDirectory()) {
      fs.rmSync(abs, { recursive: true, force: true });
      const prefix = `${rel}/`;
      for (const d of this.dirs) if (d === rel || d.startsWith(prefix)) this.dirs.delete(d);
    } else {
      fs.unlinkSync(abs);
    }
  }

  private makeOpaque(relDir: string): void {
    const abs = this.abs(relDir);
    for (const name of fs.readdirSync(abs)) {
      if (relDir === '' && name === this.templateName) continue;
      const rel = join(relDir, name);
      if (this.unpacked.has(rel)) continue;
      const st = lstatOrNull(this.abs(rel));
      if (st) this.remove(rel, st);
    }
    let m = this.xattrs.get(abs);
    if (!m) this.xattrs.set(abs, (m = new Map()));
    m.set(OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    this.unpacked.add(relDir);
  }

  /** Whiteouts are hard links to one 0/0 char device made per layer: one mknod process in all. */
  private async makeWhiteout(rel: string): Promise<void> {
    if (this.whiteoutTemplate === null) {
      const t = `${this.root}/${this.templateName}`;
      await mknod(t, 'c', 0, 0, 0);
      this.whiteoutTemplate = t;
    }
    fs.linkSync(this.whiteoutTemplate, this.abs(rel));
  }

  async finish(): Promise<void> {
    if (this.whiteoutTemplate) {
      fs.unlinkSync(this.whiteoutTemplate);
      this.whiteoutTemplate = null;
    }
    // Drop queued xattrs for paths that a later entry removed.
    for (const p of [...this.xattrs.keys()]) if (!lstatOrNull(p)) this.xattrs.delete(p);
    await setXattrs(this.xattrs);
    // Directory times last, after everything inside them was written.
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const d = this.dirTimes[i]!;
      try {
        fs.lutimesSync(d.abs, d.mtime, d.mtime);
      } catch (e) {
        if (!isENOENT(e)) throw e;
      }
    }
  }

  cleanupQuietly(): void {
    if (this.whiteoutTemplate) {
      try {
        fs.unlinkSync(this.whiteoutTemplate);
      } catch {
        /* the caller deletes dest anyway */
      }
    }
  }
}

function join(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function pad(n: number): number {
  const r = n % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function cstrBuf(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}
