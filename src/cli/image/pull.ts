// berth pull / image pull: POST /images/create?fromImage= with the registry's stored credentials,
// the progress stream drawn as docker draws it, then the pulled reference.

import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../client/errors.js';
import { encodeAuthConfig, imageCreate, type PullQuery } from '../../client/registry.js';
import { parseReference, type Reference } from '../../reference/index.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { displayTo } from '../progress.js';
import { loadConfig, promptForCredentials, resolveAuthConfig } from '../registry/auth.js';
import { INDEX_SERVER } from '../registry/config.js';

interface Opts {
  allTags?: boolean;
  quiet?: boolean;
  platform?: string;
  disableContentTrust?: boolean;
}

/** reference.ParseNormalizedNamed, with its error as the command's (exit 1). */
export function parseNamed(s: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
}

/** The API's `tag` for a reference: its digest if it has one, else its tag (default latest). */
export function apiTag(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/**
 * On 401 docker asks for credentials and retries once (RegistryAuthenticationPrivilegedFunc).
 * It only makes sense with someone at the keyboard.
 */
export async function withLoginRetry(ctx: Ctx, domain: string, what: 'pull' | 'push', attempt: (auth: string) => Promise<IncomingMessage>, auth: string): Promise<IncomingMessage> {
  try {
    return await attempt(auth);
  } catch (e) {
    if (!(e instanceof ApiError && e.statusCode === 401) || !process.stdin.isTTY) throw e;
    process.stdout.write(`\nLogin prior to ${what}:\n`);
    const stored = resolveAuthConfig(loadConfig(ctx), domain);
    // docker prompts with Docker Hub's address whatever the registry (and sends it)
    const fresh = await promptForCredentials('', '', stored.username ?? '', INDEX_SERVER);
    return attempt(encodeAuthConfig(fresh));
  }
}

export async function pull(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
    description: 'Download an image from a registry',
    args: { exact: 1 },
  });
  c.option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--platform <string>', 'Set platform if server is multi-platform capable', undefined, process.env.DOCKER_DEFAULT_PLATFORM || undefined)
    .option('--disable-content-trust', 'Skip image verification (default true)');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  let ref = parseNamed(args[0]);
  const nameOnly = ref.tag === undefined && ref.digest === undefined;
  if (opts.allTags && !nameOnly) throw new StatusError(1, "tag can't be used with --all-tags/-a");
  if (!opts.allTags && nameOnly) {
    ref = ref.tagNameOnly();
    if (!opts.quiet) process.stdout.write(`Using default tag: ${ref.tag}\n`);
  }
  const cfg = loadConfig(ctx);
  const auth = encodeAuthConfig(resolveAuthConfig(cfg, ref.domain));
  const q: PullQuery = { fromImage: ref.name, tag: opts.allTags ? undefined : apiTag(ref), platform: opts.platform };
  const client = ctx.client();
  const res = await withLoginRetry(ctx, ref.domain, 'pull', (a) => imageCreate(client, q, a), auth);
  await displayTo(res, opts.quiet ? null : process.stdout);
  process.stdout.write(ref.toString() + '\n');
  return 0;
}
