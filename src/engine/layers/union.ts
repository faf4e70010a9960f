// The union view of a stack of overlay layer directories, built the way overlayfs merges them
// but without mounting: every layer is walked (confined, archive/changes.ts's walkTree), bottom
// up, and each entry remembers the layer it comes from and the lower copies it hides. Whiteouts
// and opaque directories are kept as entries of their own, so a view can show what was deleted.
import type { BigIntStats } from 'node:fs';
import { OVERLAY_OPAQUE_XATTR } from '../../archive/apply.js';
import { byteCompare, isWhiteout, opaqueIn, walkTree } from '../../archive/changes.js';
import { dumpXattrs } from '../../archive/xattr.js';
import type { EntryType, HiddenCopy, Inefficiency, UnionEntry } from '../../types/berth.js';
import type { IdMapping } from '../../util/idmap.js';

export interface StackLayer {
  dir: string;
  /** Paths of this layer to leave out, with everything below them (a container's runtime mount points). */
  hide?: Set<string>;
}

interface Node {
  path: string;
  name: string;
  type: EntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  link?: string;
  /** Index in the stack, 0 = top. */
  layer: number;
  /** dev:ino of a regular file with hard links: its bytes are wasted only when its last visible name goes. */
  inode?: string;
  whiteout?: boolean;
  opaque?: boolean;
  hidden: HiddenCopy[];
}

function entryType(st: BigIntStats): EntryType {
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'file';
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function underHidden(p: string, hide: Set<string> | undefined): boolean {
  if (!hide || hide.size === 0) return false;
  for (let q = p; q !== '/'; q = parentOf(q)) if (hide.has(q)) return true;
  return false;
}

/** A merged tree of layers; `layers` are top first, as overlayfs's lowerdir lists them. */
export class UnionTree {
  /** dir path → its entries by name (visible ones and whiteouts). */
  private readonly dirs = new Map<string, Map<string, Node>>([['/', new Map()]]);
  private readonly copies = new Map<string, number>();
  private readonly wasted = new Map<string, number>();
  /** Visible names of each hard-linked inode. */
  private readonly links = new Map<string, number>();
  /** Bytes of regular files in all layers. */
  totalBytes = 0;

  private constructor(
    readonly depth: number,
    /** berthd --userns-remap: files hold host ids; the views show the image's own. */
    private readonly ids?: IdMapping,
  ) {}

  static async build(layers: StackLayer[], ids?: IdMapping): Promise<UnionTree> {
    const tree = new UnionTree(layers.length, ids);
    const xattrs = await dumpXattrs(layers.map((l) => l.dir), `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`);
    for (let t = layers.length - 1; t >= 0; t--) {
      const { dir, hide } = layers[t];
      const seen = new Set<string>();
      walkTree(dir, (e) => {
        if (underHidden(e.path, hide)) return;
        const opaque = e.st.isDirectory() && opaqueIn(xattrs, dir + e.path);
        tree.add(t, e.path, e.st, e.link, opaque, seen);
      });
    }
    return tree;
  }

  private add(layer: number, p: string, st: BigIntStats, link: string | undefined, opaque: boolean, seenInodes: Set<string>): void {
    const name = p.slice(p.lastIndexOf('/') + 1);
    const siblings = this.dirs.get(parentOf(p));
    if (!siblings) return; // below a path this layer's own parent hid (cannot happen in a sane layer)
    const whiteout = isWhiteout(st);
    const type = whiteout ? 'file' : entryType(st);
    const size = type === 'file' ? Number(st.size) : 0;
    const own = { uid: Number(st.uid), gid: Number(st.gid) };
    const { uid, gid } = this.ids ? this.ids.toContainer(own) : own;
    const node: Node = { path: p, name, type, size, mode: Number(st.mode), uid, gid, mtimeNs: st.mtimeNs, link, layer, hidden: [] };
    if (type === 'file' && !whiteout) {
      // Hard links in one layer are one file.
      const inode = `${st.dev}:${st.ino}`;
      if (st.nlink <= 1n || !seenInodes.has(inode)) this.totalBytes += size;
      if (st.nlink > 1n) {
        seenInodes.add(inode);
        node.inode = inode;
        this.links.set(inode, (this.links.get(inode) ?? 0) + 1);
      }
    }
    this.copies.set(p, (this.copies.get(p) ?? 0) + 1);
    const old = siblings.get(name);
    if (whiteout) node.whiteout = true;
    if (opaque) node.opaque = true;
    if (old && !old.whiteout) {
      const merges = old.type === 'dir' && type === 'dir' && !whiteout;
      if (merges) {
        if (opaque) this.hideBelow(p);
      } else {
        node.hidden = [{ Layer: old.layer, Type: old.type, Size: old.size }, ...old.hidden];
        this.waste(old);
        if (whiteout) Object.assign(node, { type: old.type, size: old.size });
        if (old.type === 'dir') this.hideBelow(p);
      }
    } else if (old?.whiteout) {
      node.hidden = old.hidden;
    }
    siblings.set(name, node);
    if (type === 'dir' && !whiteout && !this.dirs.has(p)) this.dirs.set(p, new Map());
  }

  /** Drops everything below `dir` from the view (a deleted or opaque directory hides it). */
  private hideBelow(dir: string): void {
    const kids = this.dirs.get(dir);
    if (!kids) return;
    for (const n of kids.values()) {
      if (!n.whiteout) this.waste(n);
      if (n.type === 'dir') {
        this.hideBelow(n.path);
        this.dirs.delete(n.path);
      }
    }
    kids.clear();
  }

  /** `n` is no longer visible: its bytes are wasted (a hard-linked file's once its last name goes). */
  private waste(n: Node): void {
    if (n.inode !== undefined) {
      const left = (this.links.get(n.inode) ?? 1) - 1;
      this.links.set(n.inode, left);
      if (left > 0) return;
    }
    if (n.size > 0) this.wasted.set(n.path, (this.wasted.get(n.path) ?? 0) + n.size);
  }

  get wastedBytes(): number {
    let sum = 0;
    for (const b of this.wasted.values()) sum += b;
    return sum;
  }

  inefficiencies(limit: number): Inefficiency[] {
    return [...this.wasted.entries()]
      .map(([Path, WastedBytes]) => ({ Path, WastedBytes, Count: this.copies.get(Path) ?? 1 }))
      .sort((a, b) => b.WastedBytes - a.WastedBytes || byteCompare(a.Path, b.Path))
      .slice(0, limit);
  }

  /** The entry at `p` (visible or a whiteout), or undefined. */
  get(p: string): UnionEntry | undefined {
    if (p === '/') return { Path: '/', Name: '/', Type: 'dir', Size: 0, Mode: 0o40755, Uid: 0, Gid: 0, MtimeNs: '0', Layer: this.depth - 1 };
    const n = this.dirs.get(parentOf(p))?.get(p.slice(p.lastIndexOf('/') + 1));
    return n ? toEntry(n) : undefined;
  }

  /** Entries directly in directory `dir`, in byte order; with `recursive`, each directory with its Children. */
  list(dir: string, recursive = false): UnionEntry[] {
    const kids = this.dirs.get(dir);
    if (!kids) return [];
    return [...kids.values()]
      .sort((a, b) => byteCompare(a.name, b.name))
      .map((n) => {
        const e = toEntry(n);
        if (recursive && n.type === 'dir' && !n.whiteout) e.Children = this.list(n.path, true);
        return e;
      });
  }

  /** Every visible entry (whiteouts left out), parents first. */
  *visible(dir = '/'): Generator<UnionEntry> {
    for (const e of this.list(dir)) {
      if (e.Whiteout) continue;
      yield e;
      if (e.Type === 'dir') yield* this.visible(e.Path);
    }
  }
}

function toEntry(n: Node): UnionEntry {
  const e: UnionEntry = { Path: n.path, Name: n.name, Type: n.type, Size: n.size, Mode: n.mode, Uid: n.uid, Gid: n.gid, MtimeNs: String(n.mtimeNs), Layer: n.layer };
  if (n.link !== undefined) e.LinkTarget = n.link;
  if (n.whiteout) e.Whiteout = true;
  if (n.opaque) e.Opaque = true;
  if (n.hidden.length > 0) e.Hidden = n.hidden;
  return e;
}
