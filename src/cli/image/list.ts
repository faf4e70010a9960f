// berth images / image ls (GET /images/json).

import type { ImageSummary } from '../../types/api.js';
import { collect, command, filtersArg, parse, type Ctx } from '../cli.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { goTimeString, humanSize, since, truncateId } from '../format/units.js';
import { familiarName, parseRepoTag } from './ref.js';

const DEFAULT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const DEFAULT_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

const HEADERS = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

interface Opts {
  all?: boolean;
  quiet?: boolean;
  trunc: boolean;
  digests?: boolean;
  filter?: string[];
  format?: string;
}

export function imageContext(img: ImageSummary, repo: string, tag: string, digest: string, trunc: boolean) {
  return jsonContext({
    Containers: img.Containers === -1 ? 'N/A' : String(img.Containers ?? 0),
    CreatedAt: goTimeString(img.Created),
    CreatedSince: img.Created ? since(img.Created) : '',
    Digest: digest,
    ID: trunc ? truncateId(img.Id) : img.Id,
    Repository: repo,
    SharedSize: img.SharedSize === -1 ? 'N/A' : humanSize(img.SharedSize ?? 0),
    Size: humanSize(img.Size, 3),
    Tag: tag,
    UniqueSize: img.SharedSize === -1 ? 'N/A' : humanSize(img.Size - (img.SharedSize ?? 0)),
    VirtualSize: humanSize(img.Size),
  });
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (!tags.length && !digests.length) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** Expands images into one row per repository:tag (and digest), as docker does. */
export function imageRows(images: ImageSummary[], trunc: boolean, showDigests: boolean, needDigest: boolean) {
  const rows: ReturnType<typeof imageContext>[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(imageContext(img, '<none>', '<none>', '<none>', trunc));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const t of img.RepoTags ?? []) {
      const r = parseRepoTag(t);
      if (!r || !r.tag) continue;
      const name = familiarName(r.name);
      repoTags.set(name, [...(repoTags.get(name) ?? []), r.tag]);
    }
    for (const d of img.RepoDigests ?? []) {
      const at = d.indexOf('@');
      if (at < 0) continue;
      const name = familiarName(d.slice(0, at));
      repoDigests.set(name, [...(repoDigests.get(name) ?? []), d.slice(at + 1)]);
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!needDigest) digests = [];
      for (const tag of tags) {
        if (!digests.length) rows.push(imageContext(img, repo, tag, '<none>', trunc));
        else for (const dg of digests) rows.push(imageContext(img, repo, tag, dg, trunc));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (showDigests) for (const dg of digests) rows.push(imageContext(img, repo, '<none>', dg, trunc));
      else rows.push(imageContext(img, repo, '<none>', '', trunc));
    }
  }
  return rows;
}

export async function images(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] [REPOSITORY[:TAG]]', description: 'List images', args: { max: 1 } });
  c.option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const filters = [...(opts.filter ?? [])];
  if (args[0]) filters.push(`reference=${args[0]}`);
  const list = await ctx.client().get<ImageSummary[]>('/images/json', { all: opts.all ? 1 : undefined, filters: filtersArg(filters) });
  let format = opts.format ?? '';
  const table = !format || format === 'table';
  format = resolveFormat({ format, defaultTable: opts.digests ? DEFAULT_DIGEST : DEFAULT, quiet: opts.quiet, quietFormat: '{{.ID}}' });
  if (!table && format.startsWith('table') && opts.digests && !format.includes('{{.Digest}}')) format += '\t{{.Digest}}';
  const needDigest = !!opts.digests || format.includes('{{.Digest}}');
  const rows = imageRows(list ?? [], opts.trunc, !!opts.digests, needDigest);
  process.stdout.write(renderList(format, rows, HEADERS));
  return 0;
}
