// berth push / image push: POST /images/{name}/push with the registry's stored credentials and
// the progress stream drawn as docker draws it; -q prints only the pushed reference.

import { compareVersions } from '../../client/client.js';
import { encodeAuthConfig, imagePush, type PushQuery } from '../../client/registry.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { displayTo, type StreamMessage } from '../progress.js';
import { loadConfig, note, resolveAuthConfig } from '../registry/auth.js';
import { parseNamed, withLoginRetry } from './pull.js';
import { parsePlatform, type PlatformSpec } from '../../util/platform.js';

interface Opts {
  allTags?: boolean;
  quiet?: boolean;
  platform?: string;
  disableContentTrust?: boolean;
}

/** The notes docker prints after a push of a multi-platform image that was cut down. */
function auxNotes(notes: string[]) {
  return (m: StreamMessage) => {
    const aux = (m.aux ?? {}) as Record<string, unknown>;
    if (aux.ManifestPushedInsteadOfIndex) {
      const orig = ((aux.OriginalIndex ?? {}) as Record<string, string>).digest ?? '';
      const sel = ((aux.SelectedManifest ?? {}) as Record<string, string>).digest ?? '';
      notes.push(`Not all multiplatform-content is present and only the available single-platform image was pushed\n\x1b[31m${orig}\x1b[0m -> \x1b[32m${sel}\x1b[0m`);
    }
    if (aux.ContentMissing) {
      notes.push(
        "You're trying to push a manifest list/index which \n\t\t\t\treferences multiple platform specific manifests, but not all of them are available locally\n\t\t\t\tor available to the remote repository.\n\n\t\t\t\tMake sure you have all the referenced content and try again.\n\n\t\t\t\tYou can also push only a single platform specific manifest directly by specifying the platform you want to push with the --platform flag.",
      );
    }
  };
}

export async function push(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[OPTIONS] NAME[:TAG]',
    description: 'Upload an image to a registry',
    args: { exact: 1 },
  });
  c.option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--platform <string>', "Push a platform-specific manifest as a single-platform image to the registry.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")
    .option('--disable-content-trust', 'Skip image signing (default true)');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const client = ctx.client();
  let platform: PlatformSpec | undefined;
  if (opts.platform !== undefined) {
    const v = await client.apiVersion();
    if (compareVersions(v, '1.46') < 0) throw new StatusError(1, `"--platform" requires API version 1.46, but the Docker daemon API version is ${v}`);
    try {
      platform = parsePlatform(opts.platform);
    } catch (e) {
      process.stderr.write(`Invalid platform ${opts.platform}`);
      throw new StatusError(1, (e as Error).message);
    }
    note(
      process.stdout,
      'Using --platform pushes only the specified platform manifest of a multi-platform image index.\nOther components, like attestations, will not be included.\nTo push the complete multi-platform image, remove the --platform flag.\n',
    );
  }
  let ref = parseNamed(args[0]);
  const nameOnly = ref.tag === undefined && ref.digest === undefined;
  if (opts.allTags && !nameOnly) throw new StatusError(1, "tag can't be used with --all-tags/-a");
  if (!opts.allTags && nameOnly) {
    ref = ref.tagNameOnly();
    if (!opts.quiet) process.stdout.write(`Using default tag: ${ref.tag}\n`);
  }
  if (ref.digest !== undefined) throw new StatusError(1, 'cannot push a digest reference');
  const auth = encodeAuthConfig(resolveAuthConfig(loadConfig(ctx), ref.domain));
  const q: PushQuery = { name: ref.name, tag: opts.allTags ? undefined : ref.tag, platform };
  const res = await withLoginRetry(ctx, ref.domain, 'push', (a) => imagePush(client, q, a), auth);
  const notes: string[] = [];
  try {
    await displayTo(res, opts.quiet ? null : process.stdout, auxNotes(notes));
    if (opts.quiet) process.stdout.write(ref.toString() + '\n');
  } finally {
    for (const n of notes) note(process.stdout, n);
  }
  return 0;
}
