// berth image tree / image files: the layer graph and an image's union view, drawn in the
// terminal from Berth's /berth/ endpoints (colour on a terminal, plain when piped, or JSON).
import type { GraphContainer, LayerGraph, LayerNode, UnionEntry, UnionView, ViewLayer } from '../../types/berth.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { palette, type Palette } from '../format/colour.js';
import { ellipsis, humanSize, truncateId } from '../format/units.js';

const enc = encodeURIComponent;

interface FormatOpts {
  format?: string;
}

function jsonOnly(opts: FormatOpts): boolean {
  if (opts.format === undefined || opts.format === '') return false;
  if (opts.format === 'json') return true;
  throw new StatusError(125, `unknown format "${opts.format}": only json is supported`);
}

/** The part of the graph under these images (all of it when none are named). */
async function graphFor(ctx: Ctx, names: string[]): Promise<LayerGraph> {
  const graph = await ctx.client().get<LayerGraph>('/berth/layers');
  if (names.length === 0) return graph;
  const ids = new Set<string>();
  for (const n of names) ids.add((await ctx.client().get<{ Id: string }>(`/images/${enc(n)}/json`)).Id);
  const images = graph.Images.filter((i) => ids.has(i.Id));
  const keys = new Set(images.flatMap((i) => i.Layers));
  return {
    Layers: graph.Layers.filter((l) => keys.has(l.Id)),
    Images: images,
    Containers: graph.Containers.filter((c) => ids.has(c.ImageId)),
  };
}

export async function tree(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] [IMAGE...]', description: 'Show the layer graph of local images: shared layers once, with sizes and the instructions that made them' });
  c.option('--format <string>', 'Format output: json');
  const { opts, args } = parse<FormatOpts>(ctx, c, argv);
  const graph = await graphFor(ctx, args);
  if (jsonOnly(opts)) {
    process.stdout.write(JSON.stringify(graph, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(drawGraph(graph, palette()));
  return 0;
}

/** The graph as a forest: base layers at the left, each layer's children below it, containers as writable leaves. */
export function drawGraph(g: LayerGraph, p: Palette): string {
  const kids = new Map<string, LayerNode[]>();
  for (const l of g.Layers) kids.set(l.Parent, [...(kids.get(l.Parent) ?? []), l]);
  const tags = new Map<string, string[]>();
  for (const i of g.Images) {
    const top = i.Layers[i.Layers.length - 1] ?? '';
    const name = i.RepoTags.length ? i.RepoTags.join(', ') : `<none> ${truncateId(i.Id)}`;
    tags.set(top, [...(tags.get(top) ?? []), name]);
  }
  const onLayer = new Map<string, GraphContainer[]>();
  for (const c of g.Containers) onLayer.set(c.Parent, [...(onLayer.get(c.Parent) ?? []), c]);
  const out: string[] = [];
  const layerLine = (l: LayerNode): string => {
    const names = tags.get(l.Id);
    return `${p.blue('■')} ${p.dim(l.Id.slice(0, 12))} ${p.yellow(humanSize(l.Size, 3).padStart(8))}  ${ellipsis(l.CreatedBy || '-', 60)}${names ? '  ' + p.green(names.join(', ')) : ''}`;
  };
  const containerLine = (c: GraphContainer): string =>
    `${p.magenta('□')} ${p.cyan(c.Name)} ${p.dim(`(${c.State})`)} ${p.yellow(humanSize(c.WritableSize, 3))} writable`;
  const visit = (key: string, prefix: string): void => {
    const items: (['layer', LayerNode] | ['container', GraphContainer])[] = [
      ...(kids.get(key) ?? []).map((l) => ['layer', l] as ['layer', LayerNode]),
      ...(onLayer.get(key) ?? []).map((c) => ['container', c] as ['container', GraphContainer]),
    ];
    items.forEach(([kind, item], i) => {
      const last = i === items.length - 1;
      const branch = key === '' ? '' : last ? '└─ ' : '├─ ';
      if (kind === 'layer') {
        out.push(prefix + branch + layerLine(item));
        visit(item.Id, key === '' ? prefix : prefix + (last ? '   ' : '│  '));
      } else out.push(prefix + branch + containerLine(item));
    });
  };
  visit('', '');
  return out.length ? out.join('\n') + '\n' : '';
}

export async function files(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] IMAGE [PATH]', description: "Show an image's merged filesystem, each entry with the layer it comes from", args: { min: 1, max: 2 } });
  c.option('--format <string>', 'Format output: json').option('-d, --depth <int>', 'Levels of directories to show (0: all)', undefined, '0');
  const { opts, args } = parse<FormatOpts & { depth: string }>(ctx, c, argv);
  const depth = Number(opts.depth);
  if (!Number.isInteger(depth) || depth < 0) throw new StatusError(125, `invalid depth: ${opts.depth}`);
  const view = await ctx.client().get<UnionView>(`/berth/images/${enc(args[0])}/files`, { path: args[1] ?? '/', recursive: true });
  if (jsonOnly(opts)) {
    process.stdout.write(JSON.stringify(view, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(drawView(view, palette(), depth));
  return 0;
}

function layerTag(layers: ViewLayer[], i: number): string {
  const l = layers[i];
  return l ? `L${i} ${l.Writable ? 'rw' : l.Id.slice(0, 12)}` : `L${i}`;
}

/** The layer legend, then the tree: each entry with its size and origin layer; whiteouts and hidden copies marked. */
export function drawView(v: UnionView, p: Palette, depth = 0): string {
  const out: string[] = [p.bold('Layers (top first):')];
  v.Layers.forEach((l, i) => out.push(`  ${p.blue(`L${i}`)} ${l.Writable ? p.magenta('writable    ') : p.dim(l.Id.slice(0, 12))} ${p.yellow(humanSize(l.Size, 3).padStart(8))}  ${ellipsis(l.CreatedBy || '-', 70)}`));
  out.push(p.bold(v.Path));
  const line = (e: UnionEntry): string => {
    const change = e.Change ? ({ A: p.green, C: p.yellow, D: p.red }[e.Change](e.Change) + ' ') : '';
    if (e.Whiteout) {
      const hid = e.Hidden?.length ? `, hides ${e.Hidden.map((h) => `${humanSize(h.Size, 3)} in ${layerTag(v.Layers, h.Layer)}`).join(', ')}` : '';
      return `${change}${p.red(`✕ ${e.Name}`)} ${p.dim(`(whiteout: deleted in ${layerTag(v.Layers, e.Layer)}${hid})`)}`;
    }
    const name = e.Type === 'dir' ? p.blue(e.Name + '/') : e.Type === 'symlink' ? `${p.cyan(e.Name)} -> ${e.LinkTarget ?? ''}` : e.Name;
    const size = e.Type === 'file' ? ' ' + p.yellow(humanSize(e.Size, 3)) : '';
    const opaque = e.Opaque ? p.dim(' (opaque)') : '';
    const hidden = e.Hidden?.length ? p.dim(` (hides ${e.Hidden.map((h) => `${humanSize(h.Size, 3)} in ${layerTag(v.Layers, h.Layer)}`).join(', ')})`) : '';
    return `${change}${name}${size}  ${p.dim(layerTag(v.Layers, e.Layer))}${opaque}${hidden}`;
  };
  const visit = (entries: UnionEntry[], prefix: string, level: number): void => {
    entries.forEach((e, i) => {
      const last = i === entries.length - 1;
      out.push(`${prefix}${last ? '└── ' : '├── '}${line(e)}`);
      if (e.Children && (depth === 0 || level < depth)) visit(e.Children, prefix + (last ? '    ' : '│   '), level + 1);
    });
  };
  visit(v.Entries, '', 1);
  return out.join('\n') + '\n';
}
