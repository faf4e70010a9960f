// berth tag / image tag (POST /images/{name}/tag).

import { command, parse, StatusError, type Ctx } from '../cli.js';
import { parseRepoTag } from './ref.js';

export async function tag(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', args: { exact: 2 } });
  const { args } = parse(ctx, c, argv);
  const target = parseRepoTag(args[1]);
  if (!target || target.digest || !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(target.name.replace(/^[^/]*[.:][^/]*\//, '').replace(/^localhost\//, ''))) {
    throw new StatusError(1, `Error parsing reference: "${args[1]}" is not a valid repository/tag: invalid reference format`);
  }
  await ctx.client().post(`/images/${encodeURIComponent(args[0])}/tag`, { repo: target.name, tag: target.tag || 'latest' });
  return 0;
}
