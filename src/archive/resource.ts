// packResource: a tar of one path inside a Root (docker cp's GET archive, and the CLI's
// archive of a local path), walked from directory descriptors so that nothing outside the root
// is ever read, whatever the tree does meanwhile (a running container can rename and swap
// symlinks while we read). Entries are named as moby's TarResourceRebase names them: a
// directory's entries under the rebase name ("etc/", "etc/passwd"), a file as the rebase name.

import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { fdPath, O_PATH, type Dir, type Entry, type Root, type RootMount } from './root.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type EntryType, type WriteHeader } from './tar.js';
import { runTool, unquote } from './xattr.js';
import type { IdMapping } from '../util/idmap.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const READ_CHUNK = 1024 * 1024;
const BATCH = 64 * 1024;
/** Entries whose extended attributes are read by one getfattr process. */
const XATTR_WINDOW = 512;
const XATTR_ARG_BYTES = 128 * 1024;

export interface ResourceOptions {
  /**
   * Read extended attributes (default true); trusted.overlay.* and security.selinux never are.
   * 'best-effort': leave them out where they cannot be read (no getfattr on a client machine).
   */
  xattrs?: boolean | 'best-effort';
  /** The daemon's user namespace mapping: host ids on disk are archived as the container's ids. */
  ids?: IdMapping;
}

/** A directory descriptor shared by the entries that live in it; closed when the last one is done. */
class DirRef {
  private refs = 1;
  constructor(
    readonly root: Root,
    readonly dir: Dir,
  ) {}
  hold(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) this.root.closeDir(this.dir);
  }
}

interface Item {
  parent: DirRef;
  /** Name in the parent; "." for the resource directory itself. */
  name: string;
  st: fs.Stats;
  mount?: RootMount;
  archiveName: string;
  xattrs?: Map<string, Buffer>;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function keepXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && name !== 'security.selinux';
}

function devParts(rdev: number): [number, number] {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return [major, minor];
}

/**
 * The tar of `name` in `dir` — or, when `name` is "", of directory `dir` itself — with the
 * resource's own entry renamed to `rebase` ("/" for the root: its entries become "/", "/bin/"…).
 */
export function packResource(root: Root, dir: Dir, name: string, rebase: string, opts: ResourceOptions = {}): Readable {
  return Readable.from(generate(root, dir, name, rebase, opts.xattrs ?? true, opts.ids), { objectMode: false, highWaterMark: BATCH * 4 });
}

/** Entries in walk order: the resource, then (for a directory) everything below it, sorted. */
function* walk(root: Root, dir: Dir, name: string, rebase: string): Generator<Item> {
  const prefix = rebase === '/' ? '' : rebase;
  let top: Item;
  let topDir: Dir | undefined;
  const start = new DirRef(root, dir);
  start.hold(); // the caller keeps `dir`: never closed by us
  if (name === '') {
    top = { parent: start, name: '.', st: fs.statSync(fdPath(dir.fd)), archiveName: rebase === '/' ? '/' : `${rebase}/` };
    topDir = dir;
  } else {
    const ent = root.lookup(dir, name);
    if (!ent) return;
    const isDir = ent.st.isDirectory();
    top = { parent: start, name, st: ent.st, mount: ent.mount, archiveName: isDir ? `${rebase}/` : rebase };
    if (isDir) topDir = root.openDir(dir, name);
  }
  yield top;
  if (!topDir) return;
  // Depth-first, each directory's names sorted byte-wise (Go's WalkDir order).
  const stack: { ref: DirRef; names: string[]; prefix: string }[] = [];
  const push = (d: Dir, pfx: string, owned: boolean): void => {
    const ref = new DirRef(root, d);
    if (!owned) ref.hold();
    const names = new Set<string>();
    try {
      for (const n of fs.readdirSync(fdPath(d.fd))) names.add(n);
    } catch {
      /* vanished or unreadable: as if empty */
    }
    for (const m of root.mountNamesIn(d.path)) names.add(m);
    stack.push({ ref, names: [...names].sort((a, b) => byteCompare(b, a)), prefix: pfx });
  };
  push(topDir, prefix, topDir !== dir);
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const n = frame.names.pop();
      if (n === undefined) {
        stack.pop();
        frame.ref.release();
        continue;
      }
      let ent: Entry | null;
      try {
        ent = root.lookup(frame.ref.dir, n);
      } catch {
        continue;
      }
      if (!ent) continue; // vanished while we walked (running container)
      if (ent.st.isSocket()) continue; // Docker leaves sockets out too
      const archiveName = `${frame.prefix}/${n}`;
      const isDir = ent.st.isDirectory();
      yield { parent: frame.ref.hold(), name: n, st: ent.st, mount: ent.mount, archiveName: isDir ? `${archiveName}/` : archiveName };
      if (isDir) {
        let child: Dir;
        try {
          child = root.openDir(frame.ref.dir, n);
        } catch {
          continue; // replaced by something else meanwhile
        }
        push(child, archiveName, true);
      }
    }
  } finally {
    // An abandoned walk (the reader went away) still closes what it opened.
    for (const f of stack) f.ref.release();
  }
}

function itemPath(it: Item): string {
  if (it.mount) return it.mount.source;
  return fdPath(it.parent.dir.fd, it.name);
}

/** Reads the xattrs of a window of items with one getfattr (never following a final symlink). */
async function readXattrs(items: Item[]): Promise<void> {
  const byPath = new Map<string, Item>();
  for (const it of items) byPath.set(itemPath(it), it);
  if (byPath.size === 0) return;
  const r = await runTool('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...byPath.keys()]);
  let cur: Item | undefined;
  for (const raw of r.stdout.toString('latin1').split('\n')) {
    if (raw === '') {
      cur = undefined;
      continue;
    }
    if (raw.startsWith('# file: ')) {
      const p = unquote(Buffer.from(raw.slice(8), 'latin1'));
      cur = byPath.get(p);
      continue;
    }
    if (!cur) continue;
    const eq = raw.indexOf('=');
    const key = Buffer.from(eq < 0 ? raw : raw.slice(0, eq), 'latin1').toString('utf8');
    if (!keepXattr(key)) continue;
    const v = eq < 0 ? '' : raw.slice(eq + 1);
    const value = v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.from(v, 'latin1');
    (cur.xattrs ??= new Map()).set(key, value);
  }
}

async function* generate(root: Root, dir: Dir, name: string, rebase: string, wantXattrs: boolean | 'best-effort', ids: IdMapping | undefined): AsyncGenerator<Buffer> {
  const it = walk(root, dir, name, rebase);
  const links = new Map<string, string>();
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const push = (b: Buffer): boolean => {
    pending.push(b);
    pendingLen += b.length;
    return pendingLen >= BATCH;
  };
  const flush = (): Buffer => {
    const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    return b;
  };
  let window: Item[] = [];
  let done = false;
  try {
    while (!done) {
      window = [];
      let argBytes = 0;
      while (window.length < XATTR_WINDOW && argBytes < XATTR_ARG_BYTES) {
        const r = it.next();
        if (r.done) {
          done = true;
          break;
        }
        window.push(r.value);
        argBytes += itemPath(r.value).length + 1;
      }
      if (wantXattrs === true) await readXattrs(window);
      else if (wantXattrs === 'best-effort') await readXattrs(window).catch(() => undefined);
      while (window.length > 0) {
        const item = window.shift()!;
        try {
          for (const chunk of entry(item, links, buf, ids)) {
            if (push(chunk)) yield flush();
          }
        } finally {
          item.parent.release();
        }
      }
    }
    push(END_OF_ARCHIVE);
    yield flush();
  } finally {
    for (const item of window) item.parent.release();
    it.return(undefined);
  }
}

function baseHeader(st: fs.Stats, archiveName: string, type: EntryType, xattrs: Map<string, Buffer> | undefined, ids: IdMapping | undefined): WriteHeader {
  const own = ids ? ids.toContainer(st) : st;
  return {
    name: archiveName,
    type,
    mode: st.mode & 0o7777,
    uid: own.uid,
    gid: own.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    xattrs,
  };
}

/**
 * Opens a regular file for reading. The inode is pinned with O_PATH and checked first: a
 * container may swap the file for a device node meanwhile, and merely opening some devices
 * has effects on the host.
 */
function openRegular(item: Item): number | undefined {
  let pathFd: number;
  try {
    pathFd = item.mount ? fs.openSync(item.mount.source, O_PATH) : fs.openSync(itemPath(item), O_PATH | O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    if (!fs.fstatSync(pathFd).isFile()) return undefined;
    return fs.openSync(fdPath(pathFd), O_RDONLY | O_NONBLOCK);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(pathFd);
  }
}

/** One entry's header and data blocks. */
function* entry(item: Item, links: Map<string, string>, buf: Buffer, ids: IdMapping | undefined): Generator<Buffer> {
  const { st } = item;
  const name = item.archiveName;
  if (st.isDirectory()) {
    yield encodeHeader(baseHeader(st, name, 'dir', item.xattrs, ids));
    return;
  }
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) {
      yield encodeHeader({ ...baseHeader(st, name, 'link', item.xattrs, ids), linkname: first });
      return;
    }
    links.set(key, name);
  }
  if (st.isSymbolicLink()) {
    let target: string;
    try {
      target = fs.readlinkSync(itemPath(item));
    } catch {
      return; // gone or replaced meanwhile
    }
    yield encodeHeader({ ...baseHeader(st, name, 'symlink', item.xattrs, ids), linkname: target });
    return;
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const [devmajor, devminor] = devParts(st.rdev);
    yield encodeHeader({ ...baseHeader(st, name, st.isCharacterDevice() ? 'char' : 'block', item.xattrs, ids), devmajor, devminor });
    return;
  }
  if (st.isFIFO()) {
    yield encodeHeader(baseHeader(st, name, 'fifo', item.xattrs, ids));
    return;
  }
  if (!st.isFile()) return;
  const fd = openRegular(item);
  if (fd === undefined) return; // vanished, or swapped for something else meanwhile
  try {
    // What was opened is what goes in the archive, whatever lstat saw a moment before.
    const now = fs.fstatSync(fd);
    const size = now.size;
    yield encodeHeader({ ...baseHeader(now, name, 'file', item.xattrs, ids), size });
    let left = size;
    while (left > 0) {
      const n = fs.readSync(fd, buf, 0, Math.min(READ_CHUNK, left), null);
      if (n === 0) {
        // Shrank since fstat: pad with zeros to the size the header promised.
        const zeros = Buffer.alloc(Math.min(READ_CHUNK, left));
        left -= zeros.length;
        yield zeros;
        continue;
      }
      left -= n;
      yield Buffer.from(buf.subarray(0, n));
    }
    const p = padding(size);
    if (p.length) yield p;
  } finally {
    fs.closeSync(fd);
  }
}

