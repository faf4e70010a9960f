// The build context: the tar the client sends (plain, gzip, bzip2 or xz), extracted into a
// directory of the daemon's (names confined to it, as any archive Berth extracts), device nodes
// refused, the .dockerignore (or <Dockerfile>.dockerignore) applied, and the Dockerfile read —
// both may be excluded by the patterns and still be used, as in Docker.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { extractArchive } from '../archive/extract.js';
import { cleanPath } from '../archive/unpack.js';
import { Root } from '../archive/root.js';
import { InvalidParameterError } from '../errors.js';
import { ignoreMatcher, readIgnorePatterns, type IgnoreMatcher } from './dockerignore.js';

/** A Dockerfile larger than this is refused (Docker reads it into memory too). */
const MAX_DOCKERFILE = 16 * 1024 * 1024;

export interface BuildContext {
  /** Host directory holding the context's files. */
  dir: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  /** Its name inside the context, as given (`Dockerfile`). */
  dockerfileName: string;
}

export async function receiveContext(input: Readable, dir: string, dockerfileName: string, signal?: AbortSignal): Promise<BuildContext> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const root = Root.open(dir);
  try {
    await extractArchive(input, root, root.root, { signal });
  } finally {
    root.close();
  }
  await refuseDevices(dir, '');
  return openContext(dir, dockerfileName);
}

/** A context already on disk (a directory of ours): reads the Dockerfile and applies .dockerignore. */
export async function openContext(dir: string, dockerfileName: string): Promise<BuildContext> {
  const name = dockerfileName || 'Dockerfile';
  const rel = cleanPath(name.replace(/^\/+/, ''));
  if (rel === '..' || rel.startsWith('../')) throw new InvalidParameterError(`Forbidden path outside the build context: ${name} ()`);
  const text = await readInContext(dir, rel, MAX_DOCKERFILE);
  if (text === undefined) {
    throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${name}`);
  }
  // <Dockerfile>.dockerignore wins over the context's .dockerignore (BuildKit's rule).
  const ignoreText = (await readInContext(dir, `${rel}.dockerignore`, MAX_DOCKERFILE)) ?? (await readInContext(dir, '.dockerignore', MAX_DOCKERFILE));
  const patterns = ignoreText === undefined ? [] : readIgnorePatterns(ignoreText.toString('utf8'));
  if (patterns.length > 0) await removeExcluded(dir, '', ignoreMatcher(patterns));
  return { dir, dockerfile: text.toString('utf8'), dockerfileName: name };
}

/** A regular file of the context, its symlinks resolved inside it; undefined when there is none. */
async function readInContext(dir: string, rel: string, max: number): Promise<Buffer | undefined> {
  const root = Root.open(dir);
  try {
    return root.readFile(rel, max);
  } finally {
    root.close();
  }
}

async function refuseDevices(dir: string, rel: string): Promise<void> {
  for (const ent of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isCharacterDevice() || ent.isBlockDevice()) throw new InvalidParameterError(`build context holds a device node: ${r}`);
    if (ent.isDirectory()) await refuseDevices(dir, r);
  }
}

/**
 * Removes what the patterns exclude. An excluded directory goes whole unless an exception
 * pattern may bring back something below it; then it is walked and kept if anything stays.
 */
async function removeExcluded(dir: string, rel: string, m: IgnoreMatcher): Promise<boolean> {
  let kept = false;
  for (const ent of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    const host = path.join(dir, r);
    const excluded = m.excludes(r);
    if (ent.isDirectory() && !ent.isSymbolicLink()) {
      if (excluded && !m.hasExceptions) {
        await fsp.rm(host, { recursive: true, force: true });
        continue;
      }
      const inner = await removeExcluded(dir, r, m);
      if (excluded && !inner) await fsp.rm(host, { recursive: true, force: true });
      else kept = true;
      continue;
    }
    if (excluded) await fsp.rm(host, { force: true });
    else kept = true;
  }
  return kept;
}
