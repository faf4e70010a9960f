// berth export / container export (GET /containers/{id}/export).

import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { command, parse, StatusError, type Ctx } from '../cli.js';

interface Opts {
  output?: string;
}

export async function exportContainer(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER', description: "Export a container's filesystem as a tar archive", args: { exact: 1 } });
  c.option('-o, --output <string>', 'Write to a file, instead of STDOUT');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  if (!opts.output) {
    if (process.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await ctx.client().stream('GET', `/containers/${encodeURIComponent(args[0])}/export`);
    await pipeline(res, process.stdout);
    return 0;
  }
  await checkDestination(opts.output);
  const res = await ctx.client().stream('GET', `/containers/${encodeURIComponent(args[0])}/export`);
  await writeAtomically(opts.output, res);
  return 0;
}

/** docker's atomicwriter checks, with its wording. */
async function checkDestination(file: string): Promise<void> {
  const fail = (msg: string): StatusError => new StatusError(1, `failed to export container: ${msg}`);
  const dir = path.dirname(file);
  if (dir !== '.' && dir !== '..') {
    const st = await fsp.stat(dir).catch(() => null);
    if (!st) throw fail(`invalid output path: stat ${dir}: no such file or directory`);
    if (!st.isDirectory()) throw fail(`invalid output path: stat ${dir}: not a directory`);
  }
  const st = await fsp.lstat(file).catch(() => null);
  if (!st || st.isFile()) return;
  if (st.isDirectory()) throw fail('cannot write to a directory');
  if (st.isSymbolicLink()) throw fail('cannot write to a symbolic link directly');
  throw fail('cannot write to a special file');
}

/** The whole tar lands under a temporary name next to `file` and is renamed only when complete. */
async function writeAtomically(file: string, body: NodeJS.ReadableStream): Promise<void> {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.tmp-${path.basename(abs)}${randomBytes(4).toString('hex')}`);
  try {
    await pipeline(body, createWriteStream(tmp, { mode: 0o600, flags: 'wx' }));
    await fsp.rename(tmp, abs);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
