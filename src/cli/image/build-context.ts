// The build context `berth build` sends, as the Docker CLI makes it: a directory packed as a
// tar without what its .dockerignore excludes (the Dockerfile and .dockerignore are always
// sent), a tar or a Dockerfile read from stdin (`-`), and a Dockerfile from stdin (`-f -`)
// added to the directory's tar under a name of its own.
import { randomBytes } from 'node:crypto';
import { lstatSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { packDirectory } from '../../archive/pack.js';
import { looksLikeArchive } from '../../archive/stream.js';
import { ignoreMatcher, readIgnorePatterns } from '../../build/dockerignore.js';
import { StatusError } from '../cli.js';
import { END_OF_ARCHIVE, fileTar } from '../../archive/tar.js';

export interface ContextUpload {
  body: Readable;
  /** The Dockerfile's name inside the context (the `dockerfile` parameter). */
  dockerfile?: string;
}

async function readAll(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function contextUpload(ctxArg: string, file: string | undefined, stdin: NodeJS.ReadableStream): Promise<ContextUpload> {
  if (ctxArg === '-') {
    if (file === '-') throw new StatusError(1, 'invalid argument: can\'t use stdin for both build context and dockerfile');
    const data = await readAll(stdin);
    // `berth build - < Dockerfile`: no context, the Dockerfile alone.
    if (!looksLikeArchive(data.subarray(0, 512))) return { body: Readable.from([fileTar('Dockerfile', data)]) };
    return { body: Readable.from([data]), dockerfile: file };
  }
  const dir = path.resolve(ctxArg);
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new StatusError(1, `unable to prepare context: path "${ctxArg}" not found`);
  let dockerfile = file;
  let extra: { name: string; content: Buffer } | undefined;
  if (file === '-') {
    extra = { name: `.dockerfile.${randomBytes(10).toString('hex')}`, content: await readAll(stdin) };
    dockerfile = extra.name;
  } else if (file !== undefined) {
    // A Dockerfile given by a path outside the context is sent inside it, as Docker does.
    const abs = path.resolve(file);
    const rel = path.relative(dir, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      const content = await fsp.readFile(abs).catch(() => {
        throw new StatusError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${abs}: no such file or directory`);
      });
      extra = { name: `.dockerfile.${randomBytes(10).toString('hex')}`, content };
      dockerfile = extra.name;
    } else dockerfile = rel.split(path.sep).join('/');
  }
  const keep = new Set(['.dockerignore', dockerfile ?? 'Dockerfile']);
  const ignoreText = await fsp.readFile(path.join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const m = ignoreMatcher(readIgnorePatterns(ignoreText));
  const exclude = (rel: string): boolean => {
    if (keep.has(rel) || !m.excludes(rel)) return false;
    // With exceptions an excluded directory may hold included files: walk into it.
    if (m.hasExceptions) {
      try {
        if (lstatSync(path.join(dir, rel)).isDirectory()) return false;
      } catch {
        return true;
      }
    }
    return true;
  };
  const tar = packDirectory(dir, { exclude, xattrs: false });
  if (!extra) return { body: tar, dockerfile };
  return { body: appendEntry(tar, extra.name, extra.content), dockerfile };
}

/** The directory's tar with one more file before its end-of-archive blocks. */
function appendEntry(tar: Readable, name: string, content: Buffer): Readable {
  const out = new PassThrough();
  void (async () => {
    let pending = Buffer.alloc(0);
    try {
      for await (const chunk of tar) {
        pending = Buffer.concat([pending, chunk as Buffer]);
        // Hold back what could be the two end-of-archive blocks.
        if (pending.length > END_OF_ARCHIVE.length) {
          out.write(pending.subarray(0, pending.length - END_OF_ARCHIVE.length));
          pending = pending.subarray(pending.length - END_OF_ARCHIVE.length);
        }
      }
      out.end(fileTar(name, content));
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return out;
}
