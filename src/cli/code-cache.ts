// Loads a command's bundle (dist/cli/…/*.cjs) through V8's code cache: the first run of a command
// keeps the bytecode of every function it ran, and later runs start from it instead of parsing
// and compiling the bundle again (`berth ps` ~5 ms sooner, `berth version` ~3 ms). Node 22 does
// this itself (module.enableCompileCache); Node 20 has only vm.Script's cachedData.
//
// The cache lives under $XDG_CACHE_HOME/berth (default ~/.cache/berth), one file per bundle,
// named after Node's version, the bundle's path, size and modification time: V8 checks only the
// source's length and its own version and flags, so a rebuilt bundle of the same length must not
// find the old file. Any problem with the cache (no home, read-only, corrupt, rejected) just means
// compiling as Node would.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

/** require(file) for a CommonJS bundle, compiled from (and then into) the code cache. */
export function requireWithCodeCache(file: string): unknown {
  const source = readFileSync(file, 'utf8');
  const cache = cacheFileFor(file);
  let cachedData: Buffer | undefined;
  try {
    if (cache) cachedData = readFileSync(cache.file);
  } catch {
    // not cached yet
  }
  // The same wrapper as Node's CommonJS loader, so the bundle sees what a require would give it.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, { filename: file, cachedData });
  // At exit the functions the command ran are compiled too, and go into the cache with the rest.
  if (cache && (!cachedData || script.cachedDataRejected)) process.once('exit', () => save(cache, script));
  const mod = { exports: {} as unknown };
  (script.runInThisContext() as (...a: unknown[]) => void).call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

interface CacheFile {
  dir: string;
  /** what every cache file of this bundle starts with, whatever its build */
  prefix: string;
  file: string;
}

function cacheFileFor(bundle: string): CacheFile | undefined {
  try {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    const dir = path.join(base, 'berth', 'code-cache');
    const st = statSync(bundle);
    const prefix = `${process.version}-${process.arch}-${bundle.replace(/[^\w.-]+/g, '_').slice(-120)}-`;
    return { dir, prefix, file: path.join(dir, `${prefix}${st.size}-${Math.trunc(st.mtimeMs)}`) };
  } catch {
    return undefined;
  }
}

/** Files not rewritten for this long go when another is written: builds and checkouts that are gone leave theirs. */
const STALE_MS = 7 * 24 * 3600 * 1000;

/** Writes the cache (through a rename, so a concurrent run never reads half a file) and drops older builds' files. */
function save(cache: CacheFile, script: vm.Script): void {
  try {
    mkdirSync(cache.dir, { recursive: true });
    const tmp = `${cache.file}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cache.file);
    const now = Date.now();
    for (const name of readdirSync(cache.dir)) {
      const file = path.join(cache.dir, name);
      if (file === cache.file) continue;
      // A bundle still in use whose file goes is compiled, and cached, once more.
      if (name.startsWith(cache.prefix) || now - statSync(file).mtimeMs > STALE_MS) rmSync(file, { force: true });
    }
  } catch {
    // an unwritable cache only costs the next run its compile
  }
}
