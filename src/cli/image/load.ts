// berth load / image load: POST /images/load with the archive (-i file, or stdin) as the body.

import { createReadStream, type ReadStream } from 'node:fs';
import type { JSONMessage } from '../../types/api.js';
import { jsonStream } from '../../client/jsonstream.js';
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
  if (quiet) await printJSONMessages(res);
  else await printProgress(res);
  return 0;
}

/** On a terminal, as Docker draws it: one line per layer, redrawn in place while it loads. */
async function printProgress(res: AsyncIterable<Buffer>): Promise<void> {
  let open: string | undefined; // id of the layer whose line is being redrawn
  const endLine = (): void => {
    if (open !== undefined) process.stdout.write('\n');
    open = undefined;
  };
  try {
    for await (const m of jsonStream<JSONMessage>(res)) {
      if (m.error || m.errorDetail) throw new StatusError(1, m.errorDetail?.message ?? m.error ?? 'unknown error');
      if (m.id && m.status) {
        if (open !== m.id) endLine();
        process.stdout.write(`\r\x1b[2K${m.id}: ${m.status} ${m.progress ?? ''}`);
        open = m.id;
      } else if (m.stream) {
        endLine();
        process.stdout.write(m.stream);
      }
    }
  } finally {
    endLine();
  }
}
