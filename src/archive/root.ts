// A directory tree used as if it were "/" (a chroot done by hand): the confinement that layer
// extraction, `docker cp` into and out of containers, and the CLI's local extraction share.
//
// Every path is resolved component by component from open directory descriptors (O_PATH), and
// every operation names its target as "/proc/<pid>/fd/<dir fd>/<name>": the kernel jumps to the
// exact directory the descriptor holds, then looks up one name in it. So neither a symlink in the
// tree (absolute targets restart at the root, ".." stops at it) nor a concurrent rename or
// symlink swap by a process inside a running container (the docker cp race, CVE-2018-15664)
// can make an operation leave the tree. Final components are never followed (O_NOFOLLOW,
// lchown, lutimes, unlink, rmdir), and metadata of what was opened is changed through the
// descriptor of that very inode.
//
// A root may carry mounts (a container's binds and /etc files): when resolution reaches a mount
// destination it continues in the mount's source, as it would inside the container.

import * as fs from 'node:fs';
import { posix } from 'node:path';

/** Linux's O_PATH (not in Node's fs.constants): a descriptor that only names an inode. */
export const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW } = fs.constants;
const O_DIR = O_PATH | O_DIRECTORY | O_NOFOLLOW;
const O_CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW;
const MAX_SYMLINKS = 40;
/** Cached directory descriptors kept between entries before the cache is trimmed. */
const CACHE_LIMIT = 512;

/** A name inside directory descriptor `fd`, usable by this process and by tools it spawns. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/${process.pid}/fd/${fd}` : `/proc/${process.pid}/fd/${fd}/${name}`;
}

export type ResolveCode = 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'EROFS' | 'EBUSY' | 'EXDEV';

/** A path that cannot be resolved or changed; `path` is the path inside the root ("/a/b"). */
export class ResolveError extends Error {
  constructor(
    readonly code: ResolveCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResolveError';
  }
}

export interface RootMount {
  /** Absolute path inside the root ("/data"). */
  destination: string;
  /** Host path (trusted: configured by the daemon, not by the tree's content). */
  source: string;
  readOnly: boolean;
}

/** An open directory inside the root. */
export interface Dir {
  readonly fd: number;
  /** Its path inside the root without symlinks: "" for the root, "a/b" below it. */
  readonly path: string;
  /** Inside a read-only mount, or the root itself is read-only. */
  readonly readOnly: boolean;
  /** Inside one of the root's mounts (rather than the root's own tree). */
  readonly inMount: boolean;
  readonly dev: number;
}

/** What a name in a directory is: its lstat, or the mount that covers it. */
export interface Entry {
  st: fs.Stats;
  mount?: RootMount;
}

export function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function display(rel: string): string {
  return `/${rel}`;
}

export interface RootOptions {
  readOnly?: boolean;
  mounts?: RootMount[];
  /** Create missing mount points in the tree (a container's rootfs before its first start). */
  createMountPoints?: boolean;
  /**
   * Owner of the directories the root creates itself (missing parents, mount points) instead of
   * the caller: the mapped root under berthd --userns-remap, as moby's MkdirAllAndChown.
   */
  owner?: { uid: number; gid: number };
}

export interface ResolveOptions {
  /** Create missing directories (0755, owned by the caller) on the way. */
  create?: boolean;
  /** Also create them after a symlink was followed (Docker's MkdirAll inside its chroot). */
  createThroughSymlinks?: boolean;
}

export class Root {
  readonly root: Dir;
  private readonly cache = new Map<string, Dir>();
  /** Descriptors in use for a whole operation: closed only by close(), whatever is removed. */
  private readonly pinned = new Set<Dir>();
  private readonly mounts = new Map<string, RootMount>();
  private closed = false;
  /** Set while missing mount points are created: that happens whatever the root's read-only flag says. */
  private makingMountPoints = false;
  private readonly owner?: { uid: number; gid: number };

  private constructor(readonly hostDir: string, opts: RootOptions) {
    const fd = fs.openSync(hostDir, O_PATH | O_DIRECTORY);
    this.owner = opts.owner;
    this.root = { fd, path: '', readOnly: !!opts.readOnly, inMount: false, dev: fs.fstatSync(fd).dev };
    // Parents before children, so that a mount inside a mount resolves through the outer one.
    const sorted = [...(opts.mounts ?? [])].sort((a, b) => depth(a.destination) - depth(b.destination));
    for (const m of sorted) {
      this.makingMountPoints = !!opts.createMountPoints;
      let at: string;
      try {
        at = this.mountPoint(m, !!opts.createMountPoints);
      } finally {
        this.makingMountPoints = false;
      }
      if (at === '') continue;
      this.mounts.set(at, m);
      // What resolution cached there is the directory the mount hides.
      this.forget(at);
    }
  }

  /**
   * Where the runtime mounted `m`: its destination with symlinks followed inside the root (a
   * final symlink too), created if asked and missing as the runtime creates it (Docker's copy
   * view does too). A destination that cannot be resolved is kept as written.
   */
  private mountPoint(m: RootMount, create: boolean): string {
    let target: string;
    try {
      target = this.evalSymlinks(m.destination);
    } catch {
      target = m.destination; // a symlink loop: nothing the runtime could have mounted either
    }
    const comps = target.split('/').filter((c) => c !== '');
    if (create && comps.length > 0) {
      try {
        const parent = this.resolveDir(comps.slice(0, -1), this.root, { create: true, createThroughSymlinks: true });
        const name = comps[comps.length - 1]!;
        if (!this.lookup(parent, name)) {
          if (fs.statSync(m.source).isDirectory()) this.mkdir(parent, name, 0o755);
          else fs.closeSync(this.createFile(parent, name, 0o644));
        }
      } catch {
        /* a file in the way, or a read-only mount: not part of the view */
      }
    }
    return comps.join('/');
  }

  /** Opens `hostDir` (which must be a directory) as a root. Close it with close(). */
  static open(hostDir: string, opts: RootOptions = {}): Root {
    return new Root(hostDir, opts);
  }

  /** The mount covering exactly this path, if any. */
  mountAt(rel: string): RootMount | undefined {
    return this.mounts.get(rel);
  }

  /** Mounts at or below `rel`. */
  hasMountsUnder(rel: string): boolean {
    if (rel === '') return this.mounts.size > 0;
    for (const k of this.mounts.keys()) if (k === rel || k.startsWith(`${rel}/`)) return true;
    return false;
  }

  /** Names of mounts directly inside `rel` (they exist even where the tree lacks a mount point). */
  mountNamesIn(rel: string): string[] {
    const out: string[] = [];
    for (const k of this.mounts.keys()) {
      const slash = k.lastIndexOf('/');
      const parent = slash < 0 ? '' : k.slice(0, slash);
      if (parent === rel) out.push(k.slice(slash + 1));
    }
    return out;
  }

  /** lstat of `name` in `dir`, or the stat of the mount source covering it; null when absent. */
  lookup(dir: Dir, name: string): Entry | null {
    const mount = this.mounts.get(joinRel(dir.path, name));
    if (mount) {
      try {
        return { st: fs.statSync(mount.source), mount };
      } catch (e) {
        if (code(e) === 'ENOENT') return null;
        throw e;
      }
    }
    try {
      return { st: fs.lstatSync(fdPath(dir.fd, name)) };
    } catch (e) {
      if (code(e) === 'ENOENT') return null;
      throw e;
    }
  }

  /** lstat with nanosecond times (`name` "" is `dir` itself), mount-aware like lookup. */
  lstatBig(dir: Dir, name: string): fs.BigIntStats {
    if (name === '') return fs.fstatSync(dir.fd, { bigint: true });
    const mount = this.mounts.get(joinRel(dir.path, name));
    if (mount) return fs.statSync(mount.source, { bigint: true });
    return fs.lstatSync(fdPath(dir.fd, name), { bigint: true });
  }

  /**
   * A regular file's content, the path resolved inside the root (symlinks followed); undefined
   * when it does not exist or is not a regular file. Never blocks on a FIFO.
   */
  readFile(path: string, maxSize: number): Buffer | undefined {
    let loc: { dir: Dir; name: string };
    try {
      loc = this.resolve(path, this.root, true);
    } catch (e) {
      if (e instanceof ResolveError) return undefined;
      throw e;
    }
    if (loc.name === '') return undefined;
    const mount = this.mounts.get(joinRel(loc.dir.path, loc.name));
    // Pinned and checked with O_PATH before it is opened: opening some devices has effects.
    let fd: number;
    try {
      const pathFd = mount ? fs.openSync(mount.source, O_PATH) : fs.openSync(fdPath(loc.dir.fd, loc.name), O_PATH | O_NOFOLLOW);
      try {
        if (!fs.fstatSync(pathFd).isFile()) return undefined;
        fd = fs.openSync(fdPath(pathFd), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      } finally {
        fs.closeSync(pathFd);
      }
    } catch {
      return undefined;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.size > maxSize) return undefined;
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < buf.length) {
        const n = fs.readSync(fd, buf, off, buf.length - off, off);
        if (n === 0) break;
        off += n;
      }
      return buf.subarray(0, off);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Opens directory `name` in `dir` without following a symlink; a new descriptor the caller
   * owns (release it with closeDir). Throws ResolveError ENOENT / ENOTDIR.
   */
  openDir(dir: Dir, name: string): Dir {
    const rel = joinRel(dir.path, name);
    const mount = this.mounts.get(rel);
    let fd: number;
    try {
      fd = mount ? fs.openSync(mount.source, O_PATH | O_DIRECTORY) : fs.openSync(fdPath(dir.fd, name), O_DIR);
    } catch (e) {
      const c = code(e);
      if (c === 'ENOENT') throw new ResolveError('ENOENT', display(rel), `${display(rel)} does not exist`);
      if (c === 'ENOTDIR' || c === 'ELOOP') throw new ResolveError('ENOTDIR', display(rel), `${display(rel)} is not a directory`);
      throw e;
    }
    return { fd, path: rel, readOnly: mount ? mount.readOnly : dir.readOnly, inMount: !!mount || dir.inMount, dev: fs.fstatSync(fd).dev };
  }

  closeDir(d: Dir): void {
    if (d === this.root || this.pinned.has(d) || this.cache.get(d.path) === d) return;
    fs.closeSync(d.fd);
  }

  /**
   * Keeps `d` open until close(), even if its directory is removed meanwhile (its descriptor
   * number must never be reused under a caller that still holds it).
   */
  pin(d: Dir): void {
    if (d === this.root) return;
    if (this.cache.get(d.path) === d) this.cache.delete(d.path);
    this.pinned.add(d);
  }

  /** A cached descriptor for the directory at resolved path `rel` (no symlinks in it). */
  dirAt(rel: string): Dir {
    if (rel === '') return this.root;
    const hit = this.cache.get(rel);
    if (hit) return hit;
    const slash = rel.lastIndexOf('/');
    const parent = this.dirAt(slash < 0 ? '' : rel.slice(0, slash));
    const d = this.openDir(parent, rel.slice(slash + 1));
    this.cache.set(rel, d);
    return d;
  }

  /**
   * Resolves directory components starting at `from`, following symlinks inside the root.
   * `..` never climbs above the root. Returns a cached directory (do not close it).
   */
  resolveDir(comps: string[], from: Dir, opts: ResolveOptions = {}): Dir {
    let cur = from;
    const queue = comps.slice();
    let followed = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        const slash = cur.path.lastIndexOf('/');
        cur = this.dirAt(cur.path === '' ? '' : slash < 0 ? '' : cur.path.slice(0, slash));
        continue;
      }
      const rel = joinRel(cur.path, c);
      const hit = this.cache.get(rel);
      if (hit) {
        cur = hit;
        continue;
      }
      try {
        const d = this.openDir(cur, c);
        this.cache.set(rel, d);
        cur = d;
        continue;
      } catch (e) {
        if (!(e instanceof ResolveError)) throw e;
        if (e.code === 'ENOENT') {
          if (!opts.create || (followed > 0 && !opts.createThroughSymlinks)) throw e;
          this.mkdir(cur, c, 0o755);
          const d = this.openDir(cur, c);
          this.cache.set(rel, d);
          cur = d;
          continue;
        }
      }
      // Not a directory: a symlink to follow, or the end of the road.
      const ent = this.lookup(cur, c);
      if (!ent || !ent.st.isSymbolicLink()) {
        throw new ResolveError('ENOTDIR', display(rel), `${display(rel)} is not a directory`);
      }
      if (++followed > MAX_SYMLINKS) throw new ResolveError('ELOOP', display(rel), 'too many levels of symbolic links');
      const target = fs.readlinkSync(fdPath(cur.fd, c));
      if (target.startsWith('/')) cur = this.root;
      queue.unshift(...target.split('/'));
    }
    return cur;
  }

  /**
   * Resolves a slash-separated path from `from`, following every symlink except, unless
   * `followFinal`, the last component's. Returns the directory holding the final name and the
   * name ("" when the path is the starting directory itself or ends in a followed directory).
   */
  resolve(path: string, from: Dir, followFinal: boolean): { dir: Dir; name: string } {
    const comps = path.split('/').filter((c) => c !== '' && c !== '.');
    // A path ending in ".." (or naming the start itself) is a directory, never a name.
    if (comps.length === 0 || comps[comps.length - 1] === '..') return { dir: this.resolveDir(comps, from), name: '' };
    let name = comps.pop()!;
    let dir = this.resolveDir(comps, from);
    if (!followFinal) return { dir, name };
    let links = 0;
    for (;;) {
      const ent = this.lookup(dir, name);
      if (!ent || !ent.st.isSymbolicLink()) return { dir, name };
      if (++links > MAX_SYMLINKS) throw new ResolveError('ELOOP', display(joinRel(dir.path, name)), 'too many levels of symbolic links');
      const target = fs.readlinkSync(fdPath(dir.fd, name));
      const tcomps = target.split('/').filter((c) => c !== '' && c !== '.');
      const start = target.startsWith('/') ? this.root : dir;
      if (tcomps.length === 0 || tcomps[tcomps.length - 1] === '..') return { dir: this.resolveDir(tcomps, start), name: '' };
      name = tcomps.pop()!;
      dir = this.resolveDir(tcomps, start);
    }
  }

  /**
   * Follows symlinks along `path` as far as they go, inside the root (moby's
   * FollowSymlinkInScope): the absolute path that results, even if its tail does not exist.
   */
  evalSymlinks(path: string): string {
    const comps = path.split('/').filter((c) => c !== '' && c !== '.');
    let dir = this.root;
    let links = 0;
    while (comps.length > 0) {
      const c = comps.shift()!;
      if (c === '..') {
        dir = this.resolveDir(['..'], dir);
        continue;
      }
      const ent = this.lookup(dir, c);
      if (!ent) return posix.normalize(display(joinRel(dir.path, [c, ...comps].join('/'))));
      if (ent.st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new ResolveError('ELOOP', display(joinRel(dir.path, c)), 'too many levels of symbolic links');
        const target = fs.readlinkSync(fdPath(dir.fd, c));
        if (target.startsWith('/')) dir = this.root;
        comps.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
        continue;
      }
      if (!ent.st.isDirectory()) {
        // A file in the middle: what is left cannot be resolved further.
        return posix.normalize(display(joinRel(dir.path, [c, ...comps].join('/'))));
      }
      dir = this.resolveDir([c], dir);
    }
    return display(dir.path);
  }

  // ---- changes: all refuse read-only places and never follow the final component ----------

  private writable(dir: Dir, name: string): void {
    // Mount points are made even in a read-only root filesystem (the runtime does), not in a read-only mount.
    if (dir.readOnly && !(this.makingMountPoints && !dir.inMount)) {
      const p = display(joinRel(dir.path, name));
      throw new ResolveError('EROFS', p, `${p}: read-only file system`);
    }
  }

  mkdir(dir: Dir, name: string, mode: number): void {
    this.writable(dir, name);
    fs.mkdirSync(fdPath(dir.fd, name), mode);
    if (this.owner) fs.lchownSync(fdPath(dir.fd, name), this.owner.uid, this.owner.gid);
  }

  /** Creates a new regular file (never through a symlink, never an existing one); returns its fd. */
  createFile(dir: Dir, name: string, mode: number): number {
    this.writable(dir, name);
    return fs.openSync(fdPath(dir.fd, name), O_CREATE, mode);
  }

  /**
   * createFile on libuv's threads: a file creation waits on the filesystem's journal (0.3–1 ms
   * here), time the event loop spends on the rest of the stream meanwhile. The caller keeps
   * `dir` open until it resolves (the unpacker trims cached directories only between entries).
   */
  createFileAsync(dir: Dir, name: string, mode: number): Promise<fs.promises.FileHandle> {
    this.writable(dir, name);
    return fs.promises.open(fdPath(dir.fd, name), O_CREATE, mode);
  }

  symlink(dir: Dir, name: string, target: string): void {
    this.writable(dir, name);
    fs.symlinkSync(target, fdPath(dir.fd, name));
  }

  /** A hard link `name` in `dir` to `tname` in `tdir` (link(2) does not follow a final symlink). */
  link(tdir: Dir, tname: string, dir: Dir, name: string): void {
    this.writable(dir, name);
    fs.linkSync(fdPath(tdir.fd, tname), fdPath(dir.fd, name));
  }

  /** Removes `name` (a whole tree for a directory), never following symlinks or crossing mounts. */
  remove(dir: Dir, name: string): void {
    this.writable(dir, name);
    const rel = joinRel(dir.path, name);
    if (this.hasMountsUnder(rel)) {
      throw new ResolveError('EBUSY', display(rel), `${display(rel)} is a mount point or contains one`);
    }
    const st = fs.lstatSync(fdPath(dir.fd, name));
    if (st.isDirectory()) {
      this.forget(rel);
      removeTree(dir.fd, name, st.dev);
    } else {
      fs.unlinkSync(fdPath(dir.fd, name));
    }
  }

  /** Drops cached descriptors at and below `rel`. */
  forget(rel: string): void {
    for (const [k, d] of this.cache) {
      if (k === rel || k.startsWith(`${rel}/`)) {
        fs.closeSync(d.fd);
        this.cache.delete(k);
      }
    }
  }

  /** Runs `fn` with a descriptor for the inode `name` names (a symlink stays a symlink). */
  withInode<T>(dir: Dir, name: string, fn: (fd: number, st: fs.Stats) => T): T {
    const fd = fs.openSync(fdPath(dir.fd, name), O_PATH | O_NOFOLLOW);
    try {
      return fn(fd, fs.fstatSync(fd));
    } finally {
      fs.closeSync(fd);
    }
  }

  /** chown, chmod and mtime of `name` as an archive entry has them; mode is skipped for symlinks. */
  setMeta(dir: Dir, name: string, meta: { uid?: number; gid?: number; mode?: number; mtime?: number }): void {
    this.writable(dir, name);
    const mount = this.mounts.get(joinRel(dir.path, name));
    if (mount) {
      // The root of a mount is the mount's source, as inside the container.
      if (mount.readOnly) throw new ResolveError('EROFS', display(joinRel(dir.path, name)), `${display(joinRel(dir.path, name))}: read-only file system`);
      if (meta.uid !== undefined && meta.gid !== undefined) fs.chownSync(mount.source, meta.uid, meta.gid);
      if (meta.mode !== undefined) fs.chmodSync(mount.source, meta.mode);
      if (meta.mtime !== undefined) fs.utimesSync(mount.source, meta.mtime, meta.mtime);
      return;
    }
    const p = fdPath(dir.fd, name);
    if (meta.uid !== undefined && meta.gid !== undefined) fs.lchownSync(p, meta.uid, meta.gid);
    if (meta.mode !== undefined) {
      const mode = meta.mode;
      this.withInode(dir, name, (fd, st) => {
        if (!st.isSymbolicLink()) fs.chmodSync(fdPath(fd), mode);
      });
    }
    if (meta.mtime !== undefined) fs.lutimesSync(p, meta.mtime, meta.mtime);
  }

  /** Closes cached descriptors once there are too many (call it when none is in use). */
  trim(): void {
    if (this.cache.size <= CACHE_LIMIT) return;
    for (const d of this.cache.values()) fs.closeSync(d.fd);
    this.cache.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.cache.values()) fs.closeSync(d.fd);
    this.cache.clear();
    for (const d of this.pinned) fs.closeSync(d.fd);
    this.pinned.clear();
    fs.closeSync(this.root.fd);
  }
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

function removeTree(parentFd: number, name: string, dev: number): void {
  const fd = fs.openSync(fdPath(parentFd, name), O_DIR);
  try {
    if (fs.fstatSync(fd).dev !== dev) throw new ResolveError('EXDEV', name, `refusing to remove across filesystems: ${name}`);
    for (const child of fs.readdirSync(fdPath(fd))) {
      const st = fs.lstatSync(fdPath(fd, child));
      if (st.isDirectory()) removeTree(fd, child, dev);
      else fs.unlinkSync(fdPath(fd, child));
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.rmdirSync(fdPath(parentFd, name));
}
