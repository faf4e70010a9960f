// changes(): `docker diff` for an overlayfs container. Docker compares the container's mounted
// root with the image's (archive.ChangesDirs); the same answer comes from walking only the
// container's upper dir and looking each entry up in the image's layers, without any mount.

import * as fs from 'node:fs';
import { OVERLAY_OPAQUE_XATTR } from './apply.js';
import { dumpXattrs, readXattrs } from './xattr.js';

/** Docker's change kinds (GET /containers/{id}/changes). */
export const ChangeKind = { Modify: 0, Add: 1, Delete: 2 } as const;
export type ChangeKindValue = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Change {
  Path: string;
  Kind: ChangeKindValue;
}

const CAPABILITY_XATTR = 'security.capability';
const XATTR_MATCH = '^(trusted\\.overlay\\.opaque|security\\.capability)$';

export function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function lstatBig(p: string): fs.BigIntStats | null {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c === 'ENOENT' || c === 'ENOTDIR') return null;
    throw e;
  }
}

function readdirOrEmpty(p: string): string[] {
  try {
    return fs.readdirSync(p);
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c === 'ENOENT' || c === 'ENOTDIR') return [];
    throw e;
  }
}

export function isWhiteout(st: fs.BigIntStats | fs.Stats): boolean {
  return st.isCharacterDevice() && Number(st.rdev) === 0;
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** "/a/b/c" → ["/a", "/a/b"] */
function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}

function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const sa = a / 1_000_000_000n;
  const sb = b / 1_000_000_000n;
  return sa === sb && (a % 1_000_000_000n === 0n || b % 1_000_000_000n === 0n);
}

/** moby's statDifferent: size and mtime are no measure of change for directories. */
function statDifferent(old: fs.BigIntStats, cur: fs.BigIntStats): boolean {
  if (old.mode !== cur.mode || old.uid !== cur.uid || old.gid !== cur.gid || old.rdev !== cur.rdev) return true;
  return !old.isDirectory() && (!sameFsTime(old.mtimeNs, cur.mtimeNs) || old.size !== cur.size);
}

export function opaqueIn(x: Map<string, Map<string, Buffer>>, abs: string): boolean {
  const v = x.get(abs)?.get(OVERLAY_OPAQUE_XATTR);
  return v !== undefined && v.length === 1 && v[0] === 0x79;
}

/**
 * The union view of read-only overlay layers (top first), answered from the layer directories
 * themselves: whiteout devices and opaque directories hide what lies below, as overlayfs does.
 * Extended attributes are read once, in one batch per layer, for the paths given to `load`.
 */
export class LowerView {
  private xattrs: Map<string, Map<string, Buffer>>[] = [];

  constructor(readonly layers: string[]) {}

  /** Reads opaque flags and capabilities of these paths (and nothing else) in every layer. */
  async load(paths: Iterable<string>): Promise<void> {
    const list = [...paths];
    this.xattrs = await Promise.all(
      this.layers.map((layer) => readXattrs(list.map((p) => layer + p).filter((abs) => lstatBig(abs) !== null), XATTR_MATCH)),
    );
  }

  private opaque(i: number, p: string): boolean {
    return opaqueIn(this.xattrs[i] ?? new Map(), this.layers[i] + p);
  }

  capability(p: string, layer: number): Buffer | undefined {
    return this.xattrs[layer]?.get(this.layers[layer] + p)?.get(CAPABILITY_XATTR);
  }

  /**
   * Where `p` is visible in layer i: 'here' (with its stat), 'absent' (look further down),
   * or 'hidden' (a whiteout or a non-directory at or above it: nothing below shows).
   * `sealed` is set when an opaque ancestor in this layer hides the layers below.
   */
  private probe(i: number, p: string): { state: 'here' | 'absent' | 'hidden'; st?: fs.BigIntStats; sealed: boolean } {
    const layer = this.layers[i];
    let sealed = false;
    for (const a of ancestors(p)) {
      const st = lstatBig(layer + a);
      if (!st) return { state: 'absent', sealed };
      if (isWhiteout(st) || !st.isDirectory()) return { state: 'hidden', sealed: true };
      if (this.opaque(i, a)) sealed = true;
    }
    const st = lstatBig(layer + p);
    if (!st) return { state: 'absent', sealed };
    if (isWhiteout(st)) return { state: 'hidden', sealed: true };
    return { state: 'here', st, sealed };
  }

  /** The stat of `p` in the union (and the layer it comes from), or null when it isn't there. */
  lookup(p: string): { st: fs.BigIntStats; layer: number } | null {
    for (let i = 0; i < this.layers.length; i++) {
      const r = this.probe(i, p);
      if (r.state === 'here') return { st: r.st!, layer: i };
      if (r.state === 'hidden' || r.sealed) return null;
    }
    return null;
  }

  /** Names inside directory `dir` in the union. */
  children(dir: string): Set<string> {
    const names = new Set<string>();
    const gone = new Set<string>();
    for (let i = 0; i < this.layers.length; i++) {
      const r = this.probe(i, dir);
      if (r.state === 'hidden') break;
      if (r.state === 'here') {
        if (!r.st!.isDirectory()) break;
        for (const n of readdirOrEmpty(this.layers[i] + dir)) {
          const st = lstatBig(this.layers[i] + join(dir, n));
          if (!st) continue;
          if (isWhiteout(st)) gone.add(n);
          else if (!gone.has(n)) names.add(n);
        }
        if (this.opaque(i, dir)) break;
      }
      if (r.sealed) break;
    }
    return names;
  }
}

/** What walkTree tells its visitor about one entry. */
export interface WalkedEntry {
  /** "/a/b", relative to the walked root. */
  path: string;
  st: fs.BigIntStats;
  /** A symlink's target, as stored (never followed). */
  link?: string;
}

/**
 * Visits every entry below `root` (parents before their children, vanished entries skipped),
 * confined to it: directories are opened with O_NOFOLLOW and names looked up relative to their
 * descriptor, so a tree that changes under the walk (a running container's upper dir) cannot
 * lead it outside. Nothing is read but directory listings, stats and link targets.
 */
export function walkTree(root: string, visit: (e: WalkedEntry) => void): void {
  const inside = (p: string, fd: number): void => {
    for (const n of readdirAt(fd)) {
      const cp = join(p, n);
      const st = lstatBig(at(fd, n));
      if (!st) continue;
      visit({ path: cp, st, link: st.isSymbolicLink() ? readlinkOrEmpty(at(fd, n)) : undefined });
      if (st.isDirectory()) withDirAt(fd, n, (sub) => inside(cp, sub));
    }
  };
  const fd = openDirNoFollow(root);
  if (fd === null) return;
  try {
    inside('/', fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readlinkOrEmpty(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '';
  }
}

/** Every path below `root` (as "/a/b"), directories included. */
function walkUpper(root: string): string[] {
  const out: string[] = [];
  walkTree(root, (e) => out.push(e.path));
  return out;
}

export interface ChangesOptions {
  /** Paths ("/etc/hosts") to leave out, with everything below them: the runtime's mount points. */
  hide?: Set<string>;
}

/**
 * Lists what a container changed, with Docker's semantics (moby's ChangesDirs between the
 * container's root and the image's): `upper` is its overlay upper dir, `lowers` the image's
 * layer dirs top-most first. Added, modified (mode, owner, device, capability, and for
 * non-directories size or mtime) and deleted paths; a directory with changes inside is reported
 * modified before them. A directory deleted and re-created (opaque) lists what it lost, one
 * deletion per name, as Docker does. Depth-first, names in byte order.
 */
export async function changes(upper: string, lowers: string[], opts: ChangesOptions = {}): Promise<Change[]> {
  const root = upper.replace(/\/+$/, '') || '/';
  if (!lstatBig(root)) return [];
  const hide = opts.hide ?? new Set<string>();
  const upperX = await dumpXattrs(root, XATTR_MATCH);
  const lower = new LowerView(lowers);
  await lower.load(walkUpper(root).filter((p) => !hide.has(p)));
  const upperOpaque = (p: string): boolean => opaqueIn(upperX, p === '/' ? root : root + p);

  /** Everything under a directory that did not exist before: additions only. */
  const added = (dir: string, fd: number, out: Change[]): void => {
    for (const n of readdirAt(fd).sort(byteCompare)) {
      const cp = join(dir, n);
      if (hide.has(cp)) continue;
      const st = lstatBig(at(fd, n));
      if (!st || isWhiteout(st)) continue;
      out.push({ Path: cp, Kind: ChangeKind.Add });
      if (st.isDirectory()) withDirAt(fd, n, (sub) => added(cp, sub, out));
    }
  };

  /**
   * Changes inside `dir` (open as `fd`), whose old version existed as a directory. `sealed`:
   * an opaque directory at or above it hides the image's content, so the new view is the
   * upper dir alone.
   */
  const inside = (dir: string, fd: number, parentSealed: boolean): Change[] => {
    const opaque = parentSealed || upperOpaque(dir);
    const groups = new Map<string, Change[]>();
    const present = new Set<string>();
    for (const n of readdirAt(fd)) {
      const cp = join(dir, n);
      if (hide.has(cp)) continue;
      const st = lstatBig(at(fd, n));
      if (!st) continue;
      if (isWhiteout(st)) {
        // In an opaque directory the listing of what was lost below covers deletions.
        if (!opaque && lower.lookup(cp)) groups.set(n, [{ Path: cp, Kind: ChangeKind.Delete }]);
        continue;
      }
      present.add(n);
      const old = lower.lookup(cp);
      const g: Change[] = [];
      if (!old) {
        g.push({ Path: cp, Kind: ChangeKind.Add });
        if (st.isDirectory()) withDirAt(fd, n, (sub) => added(cp, sub, g));
      } else {
        const newCap = upperX.get(root + cp)?.get(CAPABILITY_XATTR);
        const oldCap = lower.capability(cp, old.layer);
        const changed = statDifferent(old.st, st) || !sameBuffer(newCap, oldCap);
        if (changed) g.push({ Path: cp, Kind: ChangeKind.Modify });
        if (st.isDirectory()) {
          const sub: Change[] = [];
          withDirAt(fd, n, (subFd) => {
            if (old.st.isDirectory()) sub.push(...inside(cp, subFd, opaque));
            else added(cp, subFd, sub);
          });
          if (sub.length > 0 && !changed) g.push({ Path: cp, Kind: ChangeKind.Modify });
          g.push(...sub);
        }
      }
      if (g.length > 0) groups.set(n, g);
    }
    if (opaque) {
      for (const n of lower.children(dir)) {
        const cp = join(dir, n);
        if (!present.has(n) && !hide.has(cp)) groups.set(n, [{ Path: cp, Kind: ChangeKind.Delete }]);
      }
    }
    return [...groups.keys()].sort(byteCompare).flatMap((n) => groups.get(n)!);
  };

  const rootFd = openDirNoFollow(root);
  if (rootFd === null) return [];
  try {
    return inside('/', rootFd, false);
  } finally {
    fs.closeSync(rootFd);
  }
}

// The upper dir of a running container changes under us: names are looked up relative to an
// open descriptor of their directory (openat's semantics, through /proc/self/fd) and
// directories are opened with O_NOFOLLOW, so a directory swapped for a symlink is never
// followed out of the upper dir.
const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function openDirNoFollow(p: string): number | null {
  try {
    return fs.openSync(p, O_DIR);
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') return null;
    throw e;
  }
}

function readdirAt(fd: number): string[] {
  return readdirOrEmpty(`/proc/self/fd/${fd}`);
}

/** Runs `fn` with directory `name` (inside `fd`) open; nothing when it is gone or no longer a directory. */
function withDirAt(fd: number, name: string, fn: (sub: number) => void): void {
  const sub = openDirNoFollow(at(fd, name));
  if (sub === null) return;
  try {
    fn(sub);
  } finally {
    fs.closeSync(sub);
  }
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

/** Which of the runtime's mount points a container's upper dir holds only as empty stand-ins. */
export interface StubCandidate {
  path: string;
  kind: 'file' | 'dir' | 'symlink';
}

/**
 * The entries of `upper` that exist only because the runtime created them as mount points
 * (Docker keeps these in a per-container init layer, so they never show in `diff` or `commit`):
 * a candidate is a stub when it is absent from the image and is an empty file, a symlink, or a
 * directory holding nothing but stubs; a directory the image has counts too when it was copied
 * up only to hold stubs. Candidates are checked deepest first.
 */
export async function runtimeStubs(upper: string, lowers: string[], candidates: StubCandidate[]): Promise<Set<string>> {
  const root = upper.replace(/\/+$/, '') || '/';
  const stubs = new Set<string>();
  const present = candidates.filter((c) => lstatBig(root + c.path) !== null);
  if (present.length === 0) return stubs;
  const lower = new LowerView(lowers);
  await lower.load(present.flatMap((c) => [c.path, ...ancestors(c.path)]));
  const upperX = await readXattrs(present.map((c) => root + c.path), `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`);
  const depth = (p: string): number => p.split('/').length;
  for (const c of [...present].sort((a, b) => depth(b.path) - depth(a.path))) {
    const st = lstatBig(root + c.path);
    if (!st) continue;
    const old = lower.lookup(c.path);
    if (c.kind === 'file' && !old && st.isFile() && st.size === 0n) stubs.add(c.path);
    else if (c.kind === 'symlink' && !old && st.isSymbolicLink()) stubs.add(c.path);
    else if (c.kind === 'dir' && st.isDirectory() && !opaqueIn(upperX, root + c.path)) {
      const kids = readdirOrEmpty(root + c.path).map((n) => join(c.path, n));
      if (!kids.every((k) => stubs.has(k))) continue;
      if (!old) stubs.add(c.path);
      else if (kids.length > 0 && old.st.isDirectory() && !statDifferent(old.st, st)) stubs.add(c.path);
    }
  }
  return stubs;
}
