// changes(): `docker diff` for an overlayfs container, as moby's OverlayChanges computes it from
// the container's upper dir and the image's lower dirs.

import * as fs from 'node:fs';
import { OVERLAY_OPAQUE_XATTR } from './apply.js';
import { dumpXattrs } from './xattr.js';

/** Docker's change kinds (GET /containers/{id}/changes). */
export const ChangeKind = { Modify: 0, Add: 1, Delete: 2 } as const;
export type ChangeKindValue = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Change {
  Path: string;
  Kind: ChangeKindValue;
}

function byteCompare(a: string, b: string): number {
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

function isWhiteout(st: fs.BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const sa = a / 1_000_000_000n;
  const sb = b / 1_000_000_000n;
  return sa === sb && (a % 1_000_000_000n === 0n || b % 1_000_000_000n === 0n);
}

/**
 * Lists what a container changed. `upper` is its overlay upper dir; `lowers` are the image's
 * layer dirs, top-most first (overlay's lowerdir order). Paths start with "/". Kinds:
 * 0 modified, 1 added, 2 deleted. Order: depth-first by sorted name, each change preceded by
 * any ancestor directory not yet reported (as moby does).
 */
export async function changes(upper: string, lowers: string[]): Promise<Change[]> {
  const root = upper.replace(/\/+$/, '') || '/';
  const opaque = await dumpXattrs(root, `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`);
  const isOpaque = (abs: string) => {
    const v = opaque.get(abs)?.get(OVERLAY_OPAQUE_XATTR);
    return v !== undefined && v.length === 1 && v[0] === 0x79;
  };
  const out: Change[] = [];
  const changedDirs = new Set<string>();

  const whiteoutAtOrAbove = (layer: string, p: string): boolean => {
    for (let d = p; d !== '/'; d = dirname(d)) {
      const st = lstatBig(layer + d);
      if (st && isWhiteout(st)) return true;
    }
    return false;
  };

  const deletedFile = (p: string, st: fs.BigIntStats): boolean => {
    if (isWhiteout(st)) return true;
    if (!st.isDirectory() || !isOpaque(root + p) || lowers.length === 0) return false;
    // An opaque dir that also exists below was deleted and re-created in this layer.
    for (const layer of lowers) {
      const ls = lstatBig(layer + p);
      if (ls) return !isWhiteout(ls);
      for (let d = dirname(p); d !== '/'; d = dirname(d)) {
        const ps = lstatBig(layer + d);
        if (ps && isWhiteout(ps)) return false;
      }
    }
    return false;
  };

  const visit = (p: string): void => {
    const st = lstatBig(root + p);
    if (!st) return; // vanished
    let kind: ChangeKindValue;
    if (deletedFile(p, st)) {
      kind = ChangeKind.Delete;
    } else {
      kind = ChangeKind.Add;
      for (const layer of lowers) {
        if (whiteoutAtOrAbove(layer, p)) break; // removed below, so new here
        const ls = lstatBig(layer + p);
        if (ls) {
          if (ls.isDirectory() && st.isDirectory() && st.size === ls.size && st.mode === ls.mode && sameFsTime(st.mtimeNs, ls.mtimeNs)) {
            // Same directory as below: only a parent of changes; not recorded itself.
            kind = -1 as ChangeKindValue;
          } else kind = ChangeKind.Modify;
          break;
        }
      }
    }
    if (kind !== (-1 as ChangeKindValue)) {
      if (st.isDirectory()) changedDirs.add(p);
      if (kind === ChangeKind.Add || kind === ChangeKind.Delete) {
        const tail: Change[] = [];
        for (let d = dirname(p); d !== '/'; d = dirname(d)) {
          if (!changedDirs.has(d)) {
            tail.unshift({ Path: d, Kind: ChangeKind.Modify });
            changedDirs.add(d);
          }
        }
        out.push(...tail);
      }
      out.push({ Path: p, Kind: kind });
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = fs.readdirSync(root + p);
      } catch {
        return;
      }
      names.sort(byteCompare);
      for (const n of names) visit(p === '/' ? `/${n}` : `${p}/${n}`);
    }
  };

  let top: string[];
  try {
    top = fs.readdirSync(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  top.sort(byteCompare);
  for (const n of top) visit(`/${n}`);
  return out;
}
