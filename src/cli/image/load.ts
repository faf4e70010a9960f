// berth load / image load: POST /images/load with the archive (-i file, or stdin) as the body.

import { createReadStream, type ReadStream } from 'node:fs';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { printJSONMessages } from './import.js';

interface Opts {
  input?: string;
  quiet?: boolean;
}

function openInput(file: string): Promise<ReadStream> {
  const s = createReadStream(file, { highWaterMark: 1 << 20 });
  return new Promise((resolve, reject) => {
    s.once('open', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => reject(new StatusError(1, `open ${file}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`)));
  });
}

export async function load(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Load an image from a tar archive or STDIN', args: { exact: 0 } });
  c.option('-i, --input <string>', 'Read from tar archive file, instead of STDIN').option('-q, --quiet', 'Suppress the load output');
  const { opts } = parse<Opts>(ctx, c, argv);
  if (!opts.input && process.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
  const body = opts.input ? await openInput(opts.input) : process.stdin;
  // Progress only makes sense on a terminal, as in Docker.
  const quiet = !!opts.quiet || !process.stdout.isTTY;
  const res = await ctx.client().stream('POST', '/images/load', {
    query: { quiet: quiet ? 1 : 0 },
    body,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  await printJSONMessages(res);
  return 0;
}
