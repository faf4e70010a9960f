// COPY and ADD: sources resolved inside their root (the context, or a stage's or image's
// filesystem for --from) with Docker's rules — wildcards as Go's filepath.Match, symlinks
// followed only inside the root, nothing outside it — a checksum of what they hold for the
// cache (source-hash.ts), and the copy itself into the step's root
// filesystem with Docker's destination rules (trailing slash, existing directory, a
// directory's contents rather than itself, ADD's local archives extracted).
import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { extractArchive } from '../archive/extract.js';
import { packResource } from '../archive/resource.js';
import { Root, type Dir } from '../archive/root.js';
import { looksLikeArchive } from '../archive/stream.js';
import { cleanPath } from '../archive/unpack.js';
import { InvalidParameterError } from '../errors.js';
import type { IdMapping } from '../util/idmap.js';

export interface CopySource {
  /** Path inside the source root, without a leading slash ("" is the root itself). */
  rel: string;
  /** The name the source was given as (what `file not found` names). */
  given: string;
  st: Stats;
}

export interface CopyOptions {
  chown?: { uid: number; gid: number };
  mode?: number;
  /** ADD: local tar archives (plain or compressed) are extracted at the destination. */
  extractArchives: boolean;
  /** COPY --parents: each source keeps its parent directories below the destination. */
  parents?: boolean;
  /** berthd --userns-remap: what is copied is owned by the mapped (host) ids. */
  ids?: IdMapping;
}

export class CopyError extends InvalidParameterError {}

const WILDCARD = /[*?[]/;

/** Go's filepath.Match as a regular expression (`*` and `?` stop at `/`). */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new CopyError(`syntax error in pattern`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `!${cls.slice(1)}`;
      re += cls.startsWith('!') ? `[^${cls.slice(1).replace(/\\/g, '\\\\')}]` : `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(ch);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The sources a COPY/ADD names, in order; missing ones and ones outside the root are errors. */
export async function resolveSources(rootDir: string, patterns: string[]): Promise<CopySource[]> {
  const root = Root.open(rootDir);
  try {
    const out: CopySource[] = [];
    for (const given of patterns) {
      const rel = cleanPath(given.replace(/^\/+/, ''));
      if (rel === '..' || rel.startsWith('../')) throw new CopyError(`forbidden path outside the build context: ${given} ()`);
      if (WILDCARD.test(rel)) {
        const matches = await matchWildcard(rootDir, rel === '.' ? '' : rel);
        out.push(...matches.map((m) => ({ ...m, given })));
        continue;
      }
      const real = root.evalSymlinks(rel === '.' ? '' : rel).replace(/^\/+/, '');
      const st = await fsp.lstat(path.join(rootDir, real)).catch(() => undefined);
      if (!st) throw new CopyError(`file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`);
      out.push({ rel: real, given, st });
    }
    if (out.length === 0) throw new CopyError('no source files were specified');
    return out;
  } finally {
    root.close();
  }
}

/** Paths of the root that match a pattern; a matching directory is taken whole. */
async function matchWildcard(rootDir: string, pattern: string): Promise<Omit<CopySource, 'given'>[]> {
  const re = globRegExp(pattern);
  const depth = pattern.split('/').length;
  const out: Omit<CopySource, 'given'>[] = [];
  const walk = async (rel: string, level: number): Promise<void> => {
    const names = (await fsp.readdir(path.join(rootDir, rel))).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await fsp.lstat(path.join(rootDir, r));
      if (re.test(r)) out.push({ rel: r, st });
      else if (st.isDirectory() && level < depth) await walk(r, level + 1);
    }
  };
  await walk('', 1);
  return out;
}

/** Where the copy lands: the destination made absolute against the working directory. */
export function destinationPath(dest: string, workdir: string | undefined): string {
  if (dest.startsWith('/')) return dest;
  const base = workdir || '/';
  const joined = `${base.replace(/\/+$/, '')}/${dest}`;
  return dest.endsWith('/') || dest === '.' ? `${cleanPath(joined)}/` : cleanPath(joined);
}

/** Copies the sources from `srcDir` into `rootfs` at `dest` (absolute, trailing slash kept). */
export async function copyInto(srcDir: string, sources: CopySource[], rootfs: string, dest: string, opts: CopyOptions, instr: string): Promise<void> {
  const destIsDirSyntax = dest.endsWith('/');
  if (sources.length > 1 && !destIsDirSyntax) {
    throw new CopyError(`When using ${instr} with more than one source file, the destination must be a directory and end with a /`);
  }
  const src = Root.open(srcDir);
  const dst = Root.open(rootfs, { owner: opts.ids?.root });
  try {
    const destRel = cleanPath(dest).replace(/^\/+/, '');
    const existing = await lstatIn(dst, destRel);
    const destIsDir = destIsDirSyntax || opts.parents === true || existing?.isDirectory() === true;
    for (const s of sources) {
      const parentRel = path.posix.dirname(s.rel) === '.' ? '' : path.posix.dirname(s.rel);
      // --parents: the source's own directories are kept under the destination.
      const base = opts.parents ? cleanPath(`${destRel}/${parentRel}`).replace(/^\.$/, '') : destRel;
      if (s.st.isDirectory()) {
        const dirRel = opts.parents ? cleanPath(`${destRel}/${s.rel}`).replace(/^\.$/, '') : destRel;
        const into = dst.resolveDir(comps(dirRel), dst.root, { create: true, createThroughSymlinks: true });
        await transfer(src, s.rel, '', '.', dst, into, opts);
        continue;
      }
      if (opts.extractArchives && s.st.isFile() && (await isArchive(path.join(srcDir, s.rel)))) {
        const into = dst.resolveDir(comps(base), dst.root, { create: true, createThroughSymlinks: true });
        await extractArchive(createReadStream(path.join(srcDir, s.rel)), dst, into, { chown: opts.chown, ids: opts.ids });
        continue;
      }
      const target = destIsDir ? `${base}/${path.posix.basename(s.rel)}` : destRel;
      const parts = comps(target);
      const name = parts.pop();
      if (name === undefined) throw new CopyError(`cannot copy to the root directory itself`);
      const into = dst.resolveDir(parts, dst.root, { create: true, createThroughSymlinks: true });
      await transfer(src, parentRel, path.posix.basename(s.rel), name, dst, into, opts);
    }
  } finally {
    src.close();
    dst.close();
  }
}

function comps(rel: string): string[] {
  return rel.split('/').filter((c) => c !== '' && c !== '.');
}

async function lstatIn(root: Root, rel: string): Promise<Stats | undefined> {
  if (rel === '' || rel === '.') return undefined;
  try {
    const real = root.evalSymlinks(rel).replace(/^\/+/, '');
    return await fsp.lstat(path.join(root.hostDir, real));
  } catch {
    return undefined;
  }
}

/** One source as a tar (from its own root) extracted into the destination directory. */
async function transfer(src: Root, parentRel: string, name: string, rebase: string, dst: Root, into: Dir, opts: CopyOptions): Promise<void> {
  const parent = parentRel === '' ? src.root : src.resolveDir(comps(parentRel), src.root);
  const tar = packResource(src, parent, name, rebase, { xattrs: false });
  await extractArchive(tar as Readable, dst, into, { chown: opts.chown ?? { uid: 0, gid: 0 }, mode: opts.mode, ids: opts.ids });
}

/** A tar, plain or compressed, by its first bytes (Docker's rule for ADD of a local file). */
async function isArchive(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    return looksLikeArchive(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
