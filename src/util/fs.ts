import { promises as fsp, constants, lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** The temporary name writeFileAtomic writes under, and the pattern its leftovers match. */
const ATOMIC_TMP = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Writes a file so that readers see the old or the new content, never a torn one, even across a
 * crash or a power loss: the data is fsynced before the rename, and the directory after it (the
 * rename itself is only durable once the directory entry is).
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    // A full disk, say: no half-written file stays behind.
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Removes what writeFileAtomic leaves in `dir` when the process dies between write and rename. */
export async function removeAtomicLeftovers(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  await Promise.all(names.filter((n) => ATOMIC_TMP.test(n)).map((n) => fsp.rm(path.join(dir, n), { force: true })));
}

/** Whether `err` is the filesystem being full (ENOSPC) or a quota reached (EDQUOT). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value));
}

export async function readJsonFile<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/**
 * Bytes used by a directory tree: apparent sizes of regular files and, as Docker's directory.Size
 * counts them, symbolic links (`links: false` leaves them out: a layer's size is its tar's content,
 * where a link has none); hard links once, directories not.
 */
export async function directorySize(dir: string, opts: { links?: boolean } = {}): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const counted = entries.filter((e) => e.isFile() || (e.isSymbolicLink() && opts.links !== false));
    // A directory's files are looked at together (the thread pool stats them in parallel); a file
    // removed meanwhile (a running container's) counts nothing.
    for (const st of await lstatAll(counted.map((e) => path.join(d, e.name)))) {
      if (!st) continue;
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
    for (const e of entries) if (e.isDirectory()) await walk(path.join(d, e.name));
  };
  await walk(dir);
  return total;
}

/**
 * lstat of each path; undefined for one that is gone. Synchronous calls in batches, the event loop
 * served between them: a stat through the thread pool costs several times the stat itself, and a
 * disk-usage walk is nothing but stats.
 */
export async function lstatAll(paths: string[], batch = 256): Promise<(Stats | undefined)[]> {
  const out: (Stats | undefined)[] = [];
  for (let i = 0; i < paths.length; i += batch) {
    if (i > 0) await new Promise<void>((r) => setImmediate(r));
    for (const p of paths.slice(i, i + batch)) out.push(lstatSync(p, { throwIfNoEntry: false }));
  }
  return out;
}
