// Unpacking a tar stream into a directory of a Root: the one extraction loop behind
// applyLayer (image layers, overlay whiteouts) and extractArchive (docker cp, plain files).
//
// Entry names are relative to the extraction directory and may not climb out of it ("../" →
// refused, absolute names are taken as relative). Symlinks met on the way are followed inside
// the root only (see root.ts); the final component is never followed: whatever is there is
// removed first (or, for a directory over a directory, kept and merged) and the new entry is
// created with O_EXCL|O_NOFOLLOW, so no entry is ever written through a symlink or outside.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BerthError, ConflictError, InvalidParameterError, SystemError } from '../errors.js';
import type { TarHeader } from './tar.js';
import { TarReader } from './tar-reader.js';
import { fdPath, joinRel, ResolveError, type Dir, type Root } from './root.js';
import { mkfifo, mknod, setXattrs } from './xattr.js';
import type { TarSplitRecorder } from './tar-split.js';
import type { IdMapping } from '../util/idmap.js';
import { BatchedWriter } from '../util/batched-writer.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface UnpackOptions {
  /** 'overlay': `.wh.` entries become overlayfs whiteouts (layers); 'none': plain files (cp). */
  whiteouts: 'overlay' | 'none';
  /** Keep everything owned by the caller (the CLI extracting on the host). */
  noChown?: boolean;
  /** Own every entry by these ids instead of the archive's (cp --archive with a container user). */
  chown?: { uid: number; gid: number };
  /** The daemon's user namespace mapping: the archive's (container) ids are written as host ids. */
  ids?: IdMapping;
  /** Permission bits for every file and directory instead of the archive's (COPY --chmod). */
  mode?: number;
  /** An existing directory may not be replaced by a non-directory, nor the reverse (cp). */
  noOverwriteDirNonDir?: boolean;
  /** Ignore extended attributes the destination refuses (the CLI extracting on the host). */
  bestEffortXattrs?: boolean;
  signal?: AbortSignal;
  /** Records the tar's bytes around the files' contents (load keeps a layer's tar as its files). */
  split?: TarSplitRecorder;
}

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
  return new InvalidParameterError(`invalid tar archive: ${msg}`);
}

const q = JSON.stringify;

const ARCHIVE_ERRNOS = new Set(['ENOENT', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ELOOP', 'ENOTEMPTY', 'EXDEV', 'EINVAL', 'ENAMETOOLONG', 'EMLINK']);

export class Unpacker {
  /** Sum of the entries' content sizes — what Docker's ApplyDiff reports as the layer size. */
  size = 0;
  /** Paths (resolved, relative to the root) created by this archive (kept by an opaque marker). */
  private readonly unpacked = new Set<string>();
  private readonly dirTimes = new Map<string, number>();
  private readonly xattrs = new Map<string, Map<string, Buffer>>();
  private whiteoutTemplate: string | null = null;
  private readonly templateName = `.berth-whiteout-${randomBytes(8).toString('hex')}`;

  constructor(
    private readonly root: Root,
    /** The extraction directory; entry names are relative to it. */
    private readonly base: Dir,
    private readonly opts: UnpackOptions,
  ) {
    root.pin(base);
  }

  private get plain(): boolean {
    return this.opts.whiteouts === 'none';
  }

  async run(tar: TarReader): Promise<void> {
    for (;;) {
      if (this.opts.signal?.aborted) throw new SystemError('extraction aborted');
      const hdr = await tar.next();
      if (!hdr) return;
      try {
        await this.entry(hdr, tar);
      } catch (e) {
        throw this.explain(e, hdr);
      }
      // Between entries no directory handle is in use but the extraction directory's (pinned).
      if (this.xattrs.size > 1000) await this.flushXattrs();
      this.root.trim();
    }
  }

  /** Resolution failures in archive terms; other errors as they are. */
  private explain(e: unknown, hdr: TarHeader): unknown {
    const what = `cannot extract ${q(hdr.name)}`;
    const errno = (e as NodeJS.ErrnoException)?.code;
    if (!(e instanceof ResolveError)) {
      // What the archive itself can cause (or a tree changing under it); not the host failing.
      if (errno && ARCHIVE_ERRNOS.has(errno)) {
        const m = /^[A-Z0-9]+: (.*?)(, |$)/.exec((e as Error).message);
        return bad(`${what}: ${m ? m[1] : errno}`);
      }
      return e;
    }
    switch (e.code) {
      case 'ENOENT':
        return bad(`${what}: ${q(e.path)} does not exist`);
      case 'ENOTDIR':
        return bad(`${what}: ${q(e.path)} is not a directory`);
      case 'ELOOP':
        return bad(`${what}: too many levels of symbolic links`);
      case 'EROFS':
        return new InvalidParameterError(`${what}: ${e.message}`);
      case 'EBUSY':
        return new ConflictError(`${what}: ${e.message}`);
      default:
        return new SystemError(`${what}: ${e.message}`);
    }
  }

  private resolveParent(comps: string[]): Dir {
    return this.root.resolveDir(comps, this.base, { create: true, createThroughSymlinks: this.plain });
  }

  private async entry(hdr: TarHeader, tar: TarReader): Promise<void> {
    this.size += hdr.size;
    const cleaned = cleanPath(hdr.name);
    if (cleaned === '..' || cleaned.startsWith('../')) {
      throw bad(`${q(hdr.name)} is outside of ${q(this.displayPath(this.base.path))}`);
    }
    const rel = cleaned.replace(/^\/+/, '').replace(/^\.$/, '');
    const comps = rel === '' ? [] : rel.split('/');
    const base = comps.length ? comps[comps.length - 1]! : '';

    if (!this.plain) {
      // AUFS metadata at the top level (.wh..wh.plnk, .wh..wh.aufs): skipped, like moby.
      if (comps.length === 1 && base.startsWith(WHITEOUT_META_PREFIX) && base !== WHITEOUT_OPAQUE) return;
      if (base.startsWith(WHITEOUT_PREFIX)) {
        await this.whiteout(hdr, comps, base);
        return;
      }
    }

    // The archive root itself ("./" or "/"): a directory's metadata at most.
    if (comps.length === 0) {
      if (hdr.type !== 'dir') throw bad(`root entry ${q(hdr.name)} is not a directory`);
      // docker cp leaves the existing destination directory as it is.
      if (this.plain) return;
      this.setMeta(this.base, '.', hdr);
      this.queueXattrs(this.base.path, hdr);
      this.dirTimes.set(this.base.path, hdr.mtime);
      return;
    }

    const parent = this.resolveParent(comps.slice(0, -1));
    const relPath = joinRel(parent.path, base);
    const existing = this.root.lookup(parent, base);
    if (existing) {
      const isDir = existing.st.isDirectory();
      if (this.opts.noOverwriteDirNonDir && isDir && hdr.type !== 'dir') {
        throw new ConflictError(`cannot overwrite directory ${q(this.displayPath(relPath))} with non-directory ${q(this.displayPath(this.base.path))}`);
      }
      if (this.opts.noOverwriteDirNonDir && !isDir && hdr.type === 'dir') {
        throw new ConflictError(`cannot overwrite non-directory ${q(this.displayPath(relPath))} with directory ${q(this.displayPath(this.base.path))}`);
      }
      if (!(isDir && hdr.type === 'dir')) this.removeEntry(parent, base, relPath);
    }

    switch (hdr.type) {
      case 'dir': {
        if (!existing || !existing.st.isDirectory()) this.root.mkdir(parent, base, 0o700);
        this.setMeta(parent, base, hdr);
        this.dirTimes.set(relPath, hdr.mtime);
        break;
      }
      case 'file':
        await this.writeFile(parent, base, hdr, tar);
        break;
      case 'symlink': {
        // moby: a relative target that climbs out of the extraction directory is refused.
        // (Absolute targets are fine: they resolve inside the root.)
        const lexical = cleanPath(`${path.posix.dirname(rel)}/${hdr.linkname}`);
        if (!hdr.linkname.startsWith('/') && (lexical === '..' || lexical.startsWith('../'))) {
          throw bad(`invalid symlink ${q(hdr.name)} -> ${q(hdr.linkname)}`);
        }
        if (hdr.linkname === '') throw bad(`empty symlink target for ${q(hdr.name)}`);
        this.root.symlink(parent, base, hdr.linkname);
        this.setMeta(parent, base, hdr);
        break;
      }
      case 'link':
        this.hardlink(parent, base, relPath, hdr);
        break;
      case 'char':
      case 'block':
        this.writableCheck(parent, base);
        await mknod(fdPath(parent.fd, base), hdr.type === 'char' ? 'c' : 'b', hdr.devmajor, hdr.devminor, hdr.mode);
        this.setMeta(parent, base, hdr);
        break;
      case 'fifo':
        this.writableCheck(parent, base);
        await mkfifo(fdPath(parent.fd, base), hdr.mode);
        this.setMeta(parent, base, hdr);
        break;
    }
    this.queueXattrs(relPath, hdr);
    this.unpacked.add(relPath);
  }

  private displayPath(rel: string): string {
    return `/${rel}`;
  }

  private writableCheck(dir: Dir, name: string): void {
    if (dir.readOnly) {
      const p = this.displayPath(joinRel(dir.path, name));
      throw new ResolveError('EROFS', p, `${p}: read-only file system`);
    }
  }

  private async writeFile(parent: Dir, name: string, hdr: TarHeader, tar: TarReader): Promise<void> {
    const fh = await this.root.createFileAsync(parent, name, 0o600);
    const split = this.opts.split;
    // Written in large writes on libuv's threads, one in flight while the next gathers: the
    // event loop reads (and hashes) the stream meanwhile.
    const out = new BatchedWriter(fh);
    let ok = false;
    try {
      split?.beginFile(joinRel(parent.path, name));
      for (let c = await tar.read(); c; c = await tar.read()) await out.write(c);
      await out.flush();
      split?.endFile();
      const own = this.owner(hdr);
      if (own) fs.fchownSync(fh.fd, own.uid, own.gid);
      fs.fchmodSync(fh.fd, this.modeOf(hdr));
      fs.futimesSync(fh.fd, hdr.mtime, hdr.mtime);
      ok = true;
    } catch (e) {
      if (e instanceof InvalidParameterError && /unexpected end of stream/.test(e.message)) {
        throw bad(`unexpected end of stream in data of ${q(hdr.name)}`);
      }
      throw e;
    } finally {
      await out.settle();
      await fh.close();
      // A file cut short is not left behind looking complete.
      if (!ok) {
        try {
          fs.unlinkSync(fdPath(parent.fd, name));
        } catch {
          /* already replaced or gone */
        }
      }
    }
  }

  private hardlink(parent: Dir, name: string, relPath: string, hdr: TarHeader): void {
    const target = cleanPath(hdr.linkname);
    const invalid = (): never => {
      throw bad(`invalid hardlink ${q(hdr.name)} -> ${q(hdr.linkname)}`);
    };
    if (target === '..' || target.startsWith('../') || hdr.linkname === '') invalid();
    const tcomps = target.replace(/^\/+/, '').split('/').filter((c) => c !== '' && c !== '.');
    if (tcomps.length === 0) invalid();
    const tname = tcomps[tcomps.length - 1]!;
    let tparent: Dir;
    try {
      tparent = this.root.resolveDir(tcomps.slice(0, -1), this.base);
    } catch (e) {
      if (e instanceof ResolveError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) {
        throw bad(`hardlink target ${q(hdr.linkname)} of ${q(hdr.name)} does not exist`);
      }
      throw e;
    }
    const t = this.root.lookup(tparent, tname);
    if (!t) throw bad(`hardlink target ${q(hdr.linkname)} of ${q(hdr.name)} does not exist`);
    if (t.st.isDirectory()) throw bad(`hardlink ${q(hdr.name)} points to a directory`);
    if (t.mount) throw bad(`hardlink ${q(hdr.name)} points to a mount point`);
    if (joinRel(tparent.path, tname) === relPath) return; // to itself: the old file was removed above
    try {
      this.root.link(tparent, tname, parent, name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EXDEV') throw bad(`hardlink ${q(hdr.name)} -> ${q(hdr.linkname)} crosses a mount point`);
      throw e;
    }
    // moby applies the link header's ownership/mode/times to the shared inode (not to symlinks).
    if (!t.st.isSymbolicLink()) this.setMeta(parent, name, hdr);
  }

  private modeOf(hdr: TarHeader): number {
    if (this.opts.mode === undefined || (hdr.type !== 'file' && hdr.type !== 'dir')) return hdr.mode;
    return (hdr.mode & ~0o7777) | this.opts.mode;
  }

  private owner(hdr: TarHeader): { uid: number; gid: number } | null {
    if (this.opts.noChown) return null;
    const own = this.opts.chown ?? { uid: hdr.uid, gid: hdr.gid };
    return this.opts.ids ? this.opts.ids.toHost(own) : own;
  }

  /** Ownership, permission bits and (but for directories, set at the end) the mtime. */
  private setMeta(dir: Dir, name: string, hdr: TarHeader): void {
    const own = this.owner(hdr);
    this.root.setMeta(dir, name, {
      uid: own?.uid,
      gid: own?.gid,
      mode: hdr.type === 'symlink' ? undefined : this.modeOf(hdr),
      mtime: hdr.type === 'dir' ? undefined : hdr.mtime,
    });
  }

  private queueXattrs(rel: string, hdr: TarHeader): void {
    for (const [k, v] of hdr.xattrs) {
      // Overlay's own attributes are not the archive's to set (only opaque, via .wh..wh..opq).
      if (k.startsWith('trusted.overlay.')) continue;
      let m = this.xattrs.get(rel);
      if (!m) this.xattrs.set(rel, (m = new Map()));
      m.set(k, v);
    }
  }

  /** Removes an entry and forgets what was queued for it and below it. */
  private removeEntry(parent: Dir, name: string, rel: string): void {
    const split = this.opts.split;
    if (split?.holds(rel)) {
      // Its bytes are part of the layer's tar: kept aside, outside the layer's files.
      this.writableCheck(parent, name);
      this.root.forget(rel);
      split.evict(parent.fd, name, rel);
    } else {
      this.root.remove(parent, name);
    }
    const prefix = `${rel}/`;
    for (const k of this.xattrs.keys()) if (k === rel || k.startsWith(prefix)) this.xattrs.delete(k);
    for (const k of this.dirTimes.keys()) if (k === rel || k.startsWith(prefix)) this.dirTimes.delete(k);
  }

  private async whiteout(hdr: TarHeader, comps: string[], base: string): Promise<void> {
    const parent = this.resolveParent(comps.slice(0, -1));
    if (base === WHITEOUT_OPAQUE) {
      this.makeOpaque(parent);
      return;
    }
    const orig = base.slice(WHITEOUT_PREFIX.length);
    if (orig === '' || orig === '.' || orig === '..') throw bad(`invalid whiteout ${q(hdr.name)}`);
    const relTarget = joinRel(parent.path, orig);
    if (this.root.lookup(parent, orig)) this.removeEntry(parent, orig, relTarget);
    await this.makeWhiteout(parent, orig);
    this.unpacked.add(relTarget);
  }

  private makeOpaque(dir: Dir): void {
    for (const name of fs.readdirSync(fdPath(dir.fd))) {
      if (dir === this.root.root && name === this.templateName) continue;
      const rel = joinRel(dir.path, name);
      if (this.unpacked.has(rel)) continue;
      this.removeEntry(dir, name, rel);
    }
    let m = this.xattrs.get(dir.path);
    if (!m) this.xattrs.set(dir.path, (m = new Map()));
    m.set(OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    this.unpacked.add(dir.path);
  }

  /** Whiteouts are hard links to one 0/0 char device made per layer: one mknod process in all. */
  private async makeWhiteout(dir: Dir, name: string): Promise<void> {
    const root = this.root.root;
    if (this.whiteoutTemplate === null) {
      this.writableCheck(root, this.templateName);
      await mknod(fdPath(root.fd, this.templateName), 'c', 0, 0, 0);
      this.whiteoutTemplate = this.templateName;
    }
    this.root.link(root, this.whiteoutTemplate, dir, name);
  }

  /** An xattr target path that does not follow a final symlink (setfattr -h). */
  private xattrPath(rel: string): string | null {
    const slash = rel.lastIndexOf('/');
    try {
      if (rel === '') return fdPath(this.root.root.fd, '.');
      const dir = this.root.dirAt(slash < 0 ? '' : rel.slice(0, slash));
      const name = rel.slice(slash + 1);
      if (!this.root.lookup(dir, name)) return null;
      return fdPath(dir.fd, name);
    } catch (e) {
      if (e instanceof ResolveError) return null; // removed by a later entry
      throw e;
    }
  }

  private async flushXattrs(): Promise<void> {
    const batch = new Map<string, Map<string, Buffer>>();
    for (const [rel, attrs] of this.xattrs) {
      const p = this.xattrPath(rel);
      if (p) batch.set(p, attrs);
    }
    this.xattrs.clear();
    try {
      await setXattrs(batch);
    } catch (e) {
      if (!this.opts.bestEffortXattrs) throw e;
    }
  }

  async finish(): Promise<void> {
    if (this.whiteoutTemplate) {
      fs.unlinkSync(fdPath(this.root.root.fd, this.whiteoutTemplate));
      this.whiteoutTemplate = null;
    }
    await this.flushXattrs();
    // Directory times last, after everything inside them was written.
    for (const [rel, mtime] of this.dirTimes) {
      try {
        const d = this.root.dirAt(rel);
        fs.utimesSync(fdPath(d.fd), mtime, mtime);
      } catch (e) {
        if (!(e instanceof ResolveError)) throw e;
      }
    }
  }

  cleanupQuietly(): void {
    if (this.whiteoutTemplate) {
      try {
        fs.unlinkSync(fdPath(this.root.root.fd, this.whiteoutTemplate));
      } catch {
        /* the caller deletes dest anyway */
      }
    }
  }
}

/** Errors of an extraction as the caller reports them: typed errors pass, the rest is a system error. */
export function extractionError(e: unknown, what: string): BerthError {
  if (e instanceof BerthError) return e;
  const err = e as NodeJS.ErrnoException;
  return new SystemError(`${what}: ${err?.message ?? String(e)}`);
}
