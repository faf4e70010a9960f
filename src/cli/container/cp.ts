// berth cp / container cp: as docker/cli's cp, over HEAD/GET/PUT /containers/{id}/archive.
// The container side is stat'ed first (HEAD), so that the local archive can be renamed or
// extracted where `cp` semantics want it (src/archive/copy.ts), then sent (PUT) or fetched (GET).

import path from 'node:path';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerPathStat } from '../../types/api.js';
import {
  CopyError,
  copyInfoSourcePath,
  copyToLocal,
  getRebaseName,
  goDir,
  goPathError,
  preserveTrailingDotOrSeparator,
  prepareArchiveCopy,
  splitPathDirEntry,
  tarLocalResource,
  type CopyInfo,
} from '../../archive/copy.js';
import { rebaseArchive } from '../../archive/rebase.js';
import type { Client } from '../../client/client.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { humanSize } from '../format/units.js';

interface Opts {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

/** Go's os.FileMode bits the copy logic looks at. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_IRREGULAR = 2 ** 19;

const enc = encodeURIComponent;

/** `container:path` or a local path (one starting with "/" or "." never names a container). */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (arg.startsWith('/')) return { container: '', path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.slice(0, i).startsWith('.')) return { container: '', path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function resolveLocalPath(p: string): string {
  return preserveTrailingDotOrSeparator(path.resolve(p), p);
}

/** docker's ValidateOutputPathFileMode. */
function fileModeProblem(mode: number): string | undefined {
  if ((mode & MODE_DEVICE) !== 0) return 'got a device';
  if ((mode & MODE_IRREGULAR) !== 0) return 'got an irregular file';
  return undefined;
}

/** docker's ValidateOutputPath for a local destination. */
function validateOutputPath(p: string): void {
  const dir = goDir(path.posix.normalize(p));
  if (dir !== '' && dir !== '.' && !fs.existsSync(dir)) throw new StatusError(1, `invalid output path: directory "${dir}" does not exist`);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw goPathError('stat', p, e);
  }
  if (st.isDirectory() || st.isFile()) return;
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    throw new StatusError(1, `invalid output path: "${p}" must be a directory or a regular file: got a device`);
  }
}

async function statPath(client: Client, container: string, p: string): Promise<ContainerPathStat | null> {
  try {
    const res = await client.send('HEAD', `/containers/${enc(container)}/archive`, { query: { path: p } });
    res.resume();
    if (res.statusCode !== 200) return null;
    return decodeStat(res);
  } catch {
    return null;
  }
}

function decodeStat(res: IncomingMessage): ContainerPathStat {
  const raw = String(res.headers['x-docker-container-path-stat'] ?? '');
  try {
    return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as ContainerPathStat;
  } catch (e) {
    throw new StatusError(1, `unable to get resource stat from response: unable to decode container path stat header: ${(e as Error).message}`);
  }
}

/** Counts the bytes that flow through (the "Successfully copied" total). */
function counted(src: Readable, total: { n: number }): Readable {
  const pass = new PassThrough();
  src.on('data', (c: Buffer) => {
    total.n += c.length;
  });
  src.on('error', (e) => pass.destroy(e));
  src.pipe(pass);
  return pass;
}

async function copyFromContainer(ctx: Ctx, container: string, srcPath: string, dstArg: string, opts: { followLink: boolean; quiet: boolean }): Promise<void> {
  const dstPath = dstArg === '-' ? dstArg : resolveLocalPath(dstArg);
  validateOutputPath(dstPath);
  const client = ctx.client();
  let rebaseName = '';
  if (opts.followLink) {
    const st = await statPath(client, container, srcPath);
    if (st && (st.mode & MODE_SYMLINK) !== 0) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = path.posix.join(splitPathDirEntry(srcPath).dir, target);
      ({ resolved: srcPath, rebaseName } = getRebaseName(srcPath, target));
    }
  }
  const res = await client.stream('GET', `/containers/${enc(container)}/archive`, { query: { path: srcPath } });
  const stat = decodeStat(res);
  if (dstPath === '-') {
    await pipeline(res, process.stdout);
    return;
  }
  const src: CopyInfo = { path: srcPath, exists: true, isDir: (stat.mode & MODE_DIR) !== 0, rebaseName };
  const total = { n: 0 };
  let content: Readable = opts.quiet ? res : counted(res, total);
  if (rebaseName) content = rebaseArchive(content, splitPathDirEntry(src.path).base, rebaseName);
  try {
    await copyToLocal(content, src, dstPath);
  } finally {
    res.destroy();
  }
  if (!opts.quiet) process.stderr.write(`Successfully copied ${humanSize(total.n, 3)} to ${dstPath}\n`);
}

async function copyToContainer(ctx: Ctx, srcArg: string, container: string, dstPath: string, opts: { followLink: boolean; quiet: boolean; copyUIDGID: boolean }): Promise<void> {
  const srcPath = srcArg === '-' ? srcArg : resolveLocalPath(srcArg);
  const client = ctx.client();
  const dst: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  let st = await statPath(client, container, dstPath);
  // A symlink as the destination means its target.
  if (st && (st.mode & MODE_SYMLINK) !== 0) {
    let target = st.linkTarget;
    if (!target.startsWith('/')) target = path.posix.join(splitPathDirEntry(dstPath).dir, target);
    dst.path = target;
    st = await statPath(client, container, target);
  }
  const problem = fileModeProblem(st?.mode ?? 0);
  if (problem) throw new StatusError(1, `destination "${container}:${dstPath}" must be a directory or a regular file: ${problem}`);
  if (st) {
    dst.exists = true;
    dst.isDir = (st.mode & MODE_DIR) !== 0;
  }
  const total = { n: 0 };
  let content: Readable;
  let resolvedDst: string;
  if (srcPath === '-') {
    if (!dst.isDir) throw new StatusError(1, `destination "${container}:${dstPath}" must be a directory`);
    content = process.stdin;
    resolvedDst = dst.path;
  } else {
    const src = copyInfoSourcePath(srcPath, opts.followLink);
    const prepared = prepareArchiveCopy(tarLocalResource(src), src, dst);
    resolvedDst = prepared.dir;
    content = opts.quiet ? prepared.content : counted(prepared.content, total);
  }
  try {
    const res = await client.stream('PUT', `/containers/${enc(container)}/archive`, {
      query: { path: resolvedDst, noOverwriteDirNonDir: 'true', copyUIDGID: opts.copyUIDGID ? 'true' : undefined },
      body: content,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    res.resume();
  } finally {
    if (content !== process.stdin) content.destroy();
  }
  if (!opts.quiet) process.stderr.write(`Successfully copied ${humanSize(total.n, 3)} to ${container}:${dst.path}\n`);
}

const USAGE_LINES = (ctx: Ctx): string =>
  `[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t${ctx.prog} ${ctx.path} [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`;

export async function cp(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: USAGE_LINES(ctx),
    description:
      "Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to read a tar archive from stdin\nand extract it to a directory destination in a container.\nUse '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
  });
  c.option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  if (args.length !== 2) {
    throw new StatusError(
      1,
      `${ctx.prog}: '${ctx.prog} ${ctx.path}' requires 2 arguments\n\nUsage:  ${ctx.prog} ${ctx.path} ${USAGE_LINES(ctx)}\n\nRun '${ctx.prog} ${ctx.path} --help' for more information`,
    );
  }
  if (args[0] === '') throw new StatusError(1, 'source can not be empty');
  if (args[1] === '') throw new StatusError(1, 'destination can not be empty');
  // Without -q, the summary is printed only when stdout is a terminal (docker's rule). docker
  // v28 never draws its progress line (its terminal check looks at a wrapper, not at stderr),
  // so neither does berth: the summary line is all a user sees.
  const quiet = opts.quiet ?? !process.stdout.isTTY;
  const src = splitCpArg(args[0]);
  const dst = splitCpArg(args[1]);
  try {
    if (src.container && dst.container) throw new StatusError(1, 'copying between containers is not supported');
    if (src.container) await copyFromContainer(ctx, src.container, src.path, dst.path, { followLink: !!opts.followLink, quiet });
    else if (dst.container) {
      await copyToContainer(ctx, src.path, dst.container, dst.path, { followLink: !!opts.followLink, quiet, copyUIDGID: !!opts.archive });
    } else throw new StatusError(1, 'must specify at least one container source');
  } catch (e) {
    if (e instanceof CopyError) throw new StatusError(1, e.message);
    throw e;
  }
  return 0;
}
