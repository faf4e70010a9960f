// docker cp's copy semantics on the client side (moby's go-archive copy.go): what a local source
// or destination path is, how the archive must be renamed so that extracting it in a directory
// gives what `cp` promises, and local archiving / extraction confined to the paths involved.
//
// Error messages are Go's ("lstat /x: no such file or directory", "no such directory", …)
// because the docker CLI prints them as they are.

import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extractArchive } from './extract.js';
import { rebaseArchive } from './rebase.js';
import { packResource } from './resource.js';
import { Root } from './root.js';

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName: string;
}

export class CopyError extends Error {}

/** Go's wording of a failed file system call: "lstat /x: no such file or directory". */
export function goPathError(op: string, p: string, e: unknown): CopyError {
  const err = e as NodeJS.ErrnoException;
  const m = /^[A-Z0-9]+: (.*?), /.exec(err?.message ?? '');
  return new CopyError(`${op} ${p}: ${m ? m[1] : (err?.message ?? String(e))}`);
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** Go's filepath.Base. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Go's filepath.Dir. */
export function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  const dir = posix.normalize(p.slice(0, i + 1) || '.');
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

function goClean(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

const hasTrailingSeparator = (p: string): boolean => p.length > 0 && p.endsWith('/');
const specifiesCurrentDir = (p: string): boolean => goBase(p) === '.';

/** The path names a directory by its form ("dir/" or "dir/."). */
export function assertsDirectory(p: string): boolean {
  return hasTrailingSeparator(p) || specifiesCurrentDir(p);
}

/** moby's PreserveTrailingDotOrSeparator. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(out)) out += '/';
    out += '.';
  }
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

/** moby's SplitPathDirEntry: directory and entry name, keeping a final "." as the name. */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return { dir: goDir(cleaned), base: goBase(cleaned) };
}

/** moby's GetRebaseName: the resolved path with the original's trailing form, and the name to rebase to. */
export function getRebaseName(p: string, resolved: string): { resolved: string; rebaseName: string } {
  let r = resolved;
  if (specifiesCurrentDir(p) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSeparator(p) && !hasTrailingSeparator(r)) r += '/';
  return { resolved: r, rebaseName: goBase(p) !== goBase(r) ? goBase(p) : '' };
}

function evalSymlinks(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch (e) {
    throw goPathError('lstat', (e as NodeJS.ErrnoException).path ?? p, e);
  }
}

/** moby's CopyInfoSourcePath for a local source (absolute path). */
export function copyInfoSourcePath(p: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebaseName = '';
  if (followLink) {
    ({ resolved, rebaseName } = getRebaseName(p, evalSymlinks(p)));
  } else {
    const slash = p.lastIndexOf('/');
    const dirPart = p.slice(0, slash + 1);
    const basePart = p.slice(slash + 1);
    resolved = `${evalSymlinks(dirPart)}/${basePart}`.replace(/^\/\//, '/');
    if (hasTrailingSeparator(p) && goBase(p) !== goBase(resolved)) rebaseName = goBase(p);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(resolved);
  } catch (e) {
    throw goPathError('lstat', resolved, e);
  }
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** moby's CopyInfoDestinationPath for a local destination (absolute path). */
export function copyInfoDestinationPath(dest: string): CopyInfo {
  const original = dest;
  let p = dest;
  let st: fs.Stats | undefined;
  let err: unknown;
  const lstat = (x: string): void => {
    try {
      st = fs.lstatSync(x);
      err = undefined;
    } catch (e) {
      st = undefined;
      err = e;
    }
  };
  lstat(p);
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new CopyError(`too many symlinks in ${original}`);
    let target = fs.readlinkSync(p);
    if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(p).dir, target);
    p = target;
    lstat(p);
  }
  if (st) return { path: p, exists: true, isDir: st.isDirectory(), rebaseName: '' };
  if (errCode(err) !== 'ENOENT') throw goPathError('lstat', p, err);
  const parent = splitPathDirEntry(p).dir;
  let pst: fs.Stats;
  try {
    pst = fs.statSync(parent);
  } catch (e) {
    throw goPathError('stat', parent, e);
  }
  if (!pst.isDirectory()) throw new CopyError('not a directory');
  return { path: p, exists: false, isDir: false, rebaseName: '' };
}

/**
 * moby's PrepareArchiveCopy: the directory to extract `content` (an archive of `src`) into so
 * that the result is `dst`, renaming the archive's entries where the name must change.
 */
export function prepareArchiveCopy(content: Readable, src: CopyInfo, dst: CopyInfo): { dir: string; content: Readable } {
  const { dir: dstDir, base: dstBase } = splitPathDirEntry(dst.path);
  let srcBase = splitPathDirEntry(src.path).base;
  if (dst.exists && dst.isDir) return { dir: dst.path, content };
  if (dst.exists && src.isDir) throw new CopyError('cannot copy directory');
  if (src.rebaseName) srcBase = src.rebaseName;
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CopyError('no such directory');
  return { dir: dstDir, content: rebaseArchive(content, srcBase, dstBase) };
}

/** moby's TarResource for a local source: its archive, named as the copy wants it. */
export function tarLocalResource(src: CopyInfo): Readable {
  try {
    fs.lstatSync(src.path);
  } catch (e) {
    throw goPathError('lstat', src.path, e);
  }
  const { dir, base } = splitPathDirEntry(src.path);
  const root = Root.open('/');
  try {
    const d = root.resolveDir(dir.split('/'), root.root);
    const tar = packResource(root, d, base === '.' ? '' : base, src.rebaseName || base, { xattrs: 'best-effort' });
    tar.on('close', () => root.close());
    return tar;
  } catch (e) {
    root.close();
    throw e;
  }
}

/**
 * moby's CopyTo on the local side: extracts an archive of `src` so that it becomes `dstPath`,
 * never writing outside the directory it extracts into, owned by the caller (no lchown) and
 * refusing to replace a directory by a file or the reverse.
 */
export async function copyToLocal(content: Readable, src: CopyInfo, dstPath: string): Promise<void> {
  const dst = copyInfoDestinationPath(dstPath);
  const prepared = prepareArchiveCopy(content, src, dst);
  const root = Root.open(prepared.dir);
  try {
    await extractArchive(prepared.content, root, root.root, { noChown: true, noOverwriteDirNonDir: true, bestEffortXattrs: true });
  } finally {
    root.close();
  }
}
