// berth save / image save: GET /images/get?names=… into a file (-o) or stdout.

import { promises as fsp, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { command, parse, StatusError, type Ctx } from '../cli.js';

interface Opts {
  output?: string;
}

/** Docker's ValidateOutputPath, with its messages: the directory must exist, the target must not be one. */
async function validateOutputPath(file: string): Promise<void> {
  const dir = path.dirname(file);
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : (e as Error).message;
    throw new StatusError(1, `failed to save image: invalid output path: stat ${dir}: ${why}`);
  }
  if ((await fsp.stat(file).catch(() => undefined))?.isDirectory()) throw new StatusError(1, 'failed to save image: cannot write to a directory');
}

export async function save(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[OPTIONS] IMAGE [IMAGE...]',
    description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
    args: { min: 1 },
  });
  c.option('-o, --output <string>', 'Write to a file, instead of STDOUT');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  if (!opts.output && process.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  if (opts.output) await validateOutputPath(opts.output);
  const res = await ctx.client().stream('GET', '/images/get', { query: { names: args } });
  if (!opts.output) {
    await pipeline(res, process.stdout);
    return 0;
  }
  // As Docker: into a temporary file next to the target, renamed into place only when complete.
  const dir = path.dirname(path.resolve(opts.output));
  const tmp = path.join(dir, `.docker_temp_${process.pid}_${Date.now().toString(36)}`);
  try {
    await pipeline(res, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    await fsp.rename(tmp, opts.output);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw new StatusError(1, `failed to save image: ${(e as Error).message === 'aborted' ? 'the daemon closed the stream before the archive was complete' : (e as Error).message}`);
  }
  return 0;
}
