// berth import / image import: POST /images/create?fromSrc=- with the tarball as the body.

import { createReadStream } from 'node:fs';
import { collect, command, parse, StatusError, type Ctx } from '../cli.js';
import { parseRepoTag } from './ref.js';
import { displayTo } from '../progress.js';

interface Opts {
  change?: string[];
  message?: string;
  platform?: string;
}

export async function importImage(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
    description: 'Import the contents from a tarball to create a filesystem image',
    args: { min: 1, max: 2 },
  });
  c.option('-c, --change <string>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <string>', 'Set commit message for imported image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const [src, ref] = args;
  const query: Record<string, string | string[] | undefined> = {
    fromSrc: '-',
    message: opts.message,
    changes: opts.change,
    platform: opts.platform,
  };
  if (ref) {
    const r = parseRepoTag(ref);
    if (!r || r.digest) throw new StatusError(1, `invalid reference format`);
    query.repo = r.name;
    query.tag = r.tag || undefined;
  }
  let body: NodeJS.ReadableStream;
  if (src === '-') body = process.stdin;
  else if (/^https?:\/\//.test(src)) {
    query.fromSrc = src;
    body = undefined as unknown as NodeJS.ReadableStream;
  } else {
    body = createReadStream(src);
    await new Promise<void>((resolve, reject) => {
      (body as ReturnType<typeof createReadStream>).once('open', () => resolve());
      (body as ReturnType<typeof createReadStream>).once('error', (e: NodeJS.ErrnoException) =>
        reject(new StatusError(1, `open ${src}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`)),
      );
    });
  }
  const res = await ctx.client().stream('POST', '/images/create', {
    query,
    body: body ?? undefined,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  await printJSONMessages(res);
  return 0;
}

/** Prints a JSON progress stream the way docker does (jsonmessage). */
export async function printJSONMessages(res: AsyncIterable<Buffer>): Promise<void> {
  await displayTo(res, process.stdout);
}
