// run/create's pull of a missing image (and --pull always): progress on stderr, as docker's
// pullImage does, with the registry's stored credentials.

import { imageCreate } from '../../client/registry.js';
import { parseReference } from '../../reference/index.js';
import type { Ctx } from '../cli.js';
import { apiTag } from '../image/pull.js';
import { displayTo } from '../progress.js';
import { authTokenForImage, loadConfig } from '../registry/auth.js';

/** client.ImageCreate + jsonstream.Display to stderr (nothing when quiet). */
export async function pullImage(ctx: Ctx, image: string, opts: { platform?: string; quiet?: boolean }): Promise<void> {
  const auth = authTokenForImage(loadConfig(ctx), image);
  const ref = parseReference(image);
  const res = await imageCreate(ctx.client(), { fromImage: ref.name, tag: apiTag(ref), platform: opts.platform }, auth);
  await displayTo(res, opts.quiet ? null : process.stderr);
}
