// berth system df (GET /system/df); with -v also the rest of the data root (GET /berth/system/df).

import type { BuildCacheRecord, ContainerSummary, ImageSummary } from '../../types/api.js';
import type { DataRootUsage } from '../../types/berth.js';
import { command, parse, type Ctx } from '../cli.js';
import { containerContext } from '../container/ps.js';
import { imageRows } from '../image/list.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { humanSize, since, truncateId } from '../format/units.js';

interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: { Name: string; UsageData?: { Size: number; RefCount: number } }[] | null;
  BuildCache?: BuildCacheRecord[] | null;
}

const DEFAULT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

function pct(part: number, total: number): string {
  return total > 0 ? ` (${Math.trunc((part * 100) / total)}%)` : '';
}

export function summaryRows(du: DiskUsage) {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];
  const activeImages = images.filter((i) => i.Containers > 0).length;
  let used = 0;
  for (const i of images) if (i.Containers > 0) used += i.Size - (i.SharedSize > 0 ? i.SharedSize : 0);
  const imgSize = du.LayersSize ?? images.reduce((a, i) => a + i.Size, 0);
  const imgReclaim = Math.max(0, imgSize - used);
  const ctrSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const ctrReclaim = containers.filter((c) => c.State !== 'running' && c.State !== 'paused').reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const volSize = volumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const volActive = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length;
  const volReclaim = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const bcSize = cache.filter((b) => !b.Shared).reduce((a, b) => a + b.Size, 0);
  const bcReclaim = cache.filter((b) => !b.InUse && !b.Shared).reduce((a, b) => a + b.Size, 0);
  return [
    { Type: 'Images', TotalCount: String(images.length), Active: String(activeImages), Size: humanSize(imgSize), Reclaimable: humanSize(imgReclaim) + pct(imgReclaim, imgSize || 0) },
    { Type: 'Containers', TotalCount: String(containers.length), Active: String(containers.filter((c) => c.State === 'running' || c.State === 'paused').length), Size: humanSize(ctrSize), Reclaimable: humanSize(ctrReclaim) + pct(ctrReclaim, ctrSize) },
    { Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(volActive), Size: humanSize(volSize), Reclaimable: humanSize(volReclaim) + pct(volReclaim, volSize) },
    { Type: 'Build Cache', TotalCount: String(cache.length), Active: String(cache.filter((b) => b.InUse).length), Size: humanSize(bcSize), Reclaimable: humanSize(bcReclaim) },
  ].map((r) => jsonContext(r));
}

export async function df(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Show Berth disk usage', args: { max: 0 } });
  c.option('--format <string>', 'Format output using a custom template').option('-v, --verbose', 'Show detailed information on space usage');
  const { opts } = parse<{ format?: string; verbose?: boolean }>(ctx, c, argv);
  const du = await ctx.client().get<DiskUsage>('/system/df');
  if (!opts.verbose) {
    const format = resolveFormat({ format: opts.format ?? '', defaultTable: DEFAULT });
    process.stdout.write(renderList(format, summaryRows(du), HEADERS));
    return 0;
  }
  let s = 'Images space usage:\n\n';
  const imgRows = imageRows(du.Images ?? [], true, false, false).map((r, idx) => r);
  s += renderList(
    'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
    imgRows,
    { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' },
  );
  s += '\nContainers space usage:\n\n';
  s += renderList(
    'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
    (du.Containers ?? []).map((x) => {
      const cc = containerContext(x, true);
      return { ...cc, Size: humanSize(x.SizeRw ?? 0) };
    }),
    { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES' },
  );
  s += '\nLocal Volumes space usage:\n\n';
  s += renderList('table {{.Name}}\t{{.Links}}\t{{.Size}}', (du.Volumes ?? []).map((v) => ({ Name: v.Name, Links: String(v.UsageData?.RefCount ?? 0), Size: humanSize(v.UsageData?.Size ?? 0) })), { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' });
  const bc = (du.BuildCache ?? []).reduce((a, b) => a + b.Size, 0);
  s += `\nBuild cache usage: ${humanSize(bc)}\n\n`;
  s += renderList('table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', (du.BuildCache ?? []).map(cacheRow), {
    ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
  });
  s += otherSection(await ctx.client().get<DataRootUsage>('/berth/system/df'));
  process.stdout.write(s);
  return 0;
}

/** A build cache row as Docker's CLI draws it (an id in use marked with `*`). */
function cacheRow(b: BuildCacheRecord): Record<string, string> {
  const ago = (t: string | null): string => (t ? since(Date.parse(t) / 1000) : '');
  return {
    ID: truncateId(b.ID) + (b.InUse ? '*' : ''),
    CacheType: b.Type,
    Size: humanSize(b.Size, 3),
    CreatedSince: ago(b.CreatedAt),
    LastUsedSince: ago(b.LastUsedAt),
    UsageCount: String(b.UsageCount),
    Shared: String(b.Shared),
  };
}

/** Berth's own section: what Docker's four categories do not hold, so that the sizes add up to the data root's. */
function otherSection(u: DataRootUsage): string {
  const docker = u.Docker.Images + u.Docker.Containers + u.Docker.Volumes + u.Docker.BuildCache;
  const other = u.Other.reduce((a, p) => a + p.Size, 0);
  let s = `\nOther space usage (not in Docker's categories):\n\n`;
  s += renderList('table {{.Type}}\t{{.Count}}\t{{.Size}}\t{{.Reclaimable}}', u.Other.map((p) => ({ Type: p.Type, Count: String(p.Count), Size: humanSize(p.Size), Reclaimable: p.Reclaimable ? 'yes' : 'no' })), {
    Type: 'TYPE', Count: 'COUNT', Size: 'SIZE', Reclaimable: 'RECLAIMABLE',
  });
  s += `\nData root ${u.DataRoot}: ${humanSize(u.Total)} (${humanSize(docker)} in Docker's categories, ${humanSize(other)} other)\n`;
  return s;
}
