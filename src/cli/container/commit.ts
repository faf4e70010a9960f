// berth commit / container commit (POST /commit).

import type { ContainerCommitResponse } from '../../types/api.js';
import { parseReference } from '../../reference/index.js';
import { collect, command, parse, StatusError, type Ctx } from '../cli.js';

interface Opts {
  author?: string;
  change?: string[];
  message?: string;
  pause: boolean;
}

export async function commit(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
    description: "Create a new image from a container's changes",
    args: { min: 1, max: 2 },
    positional: true,
  });
  c.option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <string>', 'Commit message')
    .option('-p, --pause', 'Pause container during commit (default true)', undefined, true);
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const [container, ref] = args;
  let repo: string | undefined;
  let tag: string | undefined;
  if (ref) {
    // As docker's client: the reference is checked here, sent as familiar name plus tag.
    let named;
    try {
      named = parseReference(ref);
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    if (named.digest) throw new StatusError(1, 'refusing to create a tag with a digest reference');
    named = named.tagNameOnly();
    repo = named.familiarName;
    tag = named.tag;
  }
  const res = await ctx.client().post<ContainerCommitResponse>('/commit', {
    container,
    repo,
    tag,
    comment: opts.message,
    author: opts.author,
    changes: opts.change,
    pause: opts.pause ? undefined : '0',
  });
  process.stdout.write(`${res.Id}\n`);
  return 0;
}
