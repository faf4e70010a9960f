// berth container layers: the stack under one container — its writable layer (size and a diff
// summary) on its image's read-only layers.
import type { ContainerInspect, FilesystemChange } from '../../types/api.js';
import type { LayerGraph } from '../../types/berth.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { palette } from '../format/colour.js';
import { ellipsis, humanSize } from '../format/units.js';

const enc = encodeURIComponent;

export async function layers(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER', description: "Show the layers under a container: its writable layer's size and changes on its image's read-only layers", args: { exact: 1 } });
  c.option('--format <string>', 'Format output: json');
  const { opts, args } = parse<{ format?: string }>(ctx, c, argv);
  if (opts.format && opts.format !== 'json') throw new StatusError(125, `unknown format "${opts.format}": only json is supported`);
  const client = ctx.client();
  const info = await client.get<ContainerInspect>(`/containers/${enc(args[0])}/json`);
  const [graph, changes] = await Promise.all([client.get<LayerGraph>('/berth/layers'), client.get<FilesystemChange[] | null>(`/containers/${enc(info.Id)}/changes`)]);
  const me = graph.Containers.find((x) => x.Id === info.Id);
  const byId = new Map(graph.Layers.map((l) => [l.Id, l]));
  const stack = [];
  for (let k = me?.Parent ?? ''; k !== ''; k = byId.get(k)?.Parent ?? '') {
    const l = byId.get(k);
    if (!l) break;
    stack.push(l);
  }
  const count = (kind: number): number => (changes ?? []).filter((ch) => ch.Kind === kind).length;
  const summary = { Added: count(1), Changed: count(0), Deleted: count(2) };
  if (opts.format === 'json') {
    process.stdout.write(JSON.stringify({ Id: info.Id, Name: info.Name.replace(/^\//, ''), Image: info.Config.Image, State: info.State.Status, WritableSize: me?.WritableSize ?? 0, Changes: summary, Layers: stack }, null, 2) + '\n');
    return 0;
  }
  const p = palette();
  const out = [
    `${p.bold(info.Name.replace(/^\//, ''))} ${p.dim(`(${info.State.Status})`)} on ${p.green(info.Config.Image ?? '')}`,
    `  ${p.magenta('rw')} ${p.magenta('writable    ')} ${p.yellow(humanSize(me?.WritableSize ?? 0, 3).padStart(8))}  ${p.green(`A ${summary.Added}`)} ${p.yellow(`C ${summary.Changed}`)} ${p.red(`D ${summary.Deleted}`)}`,
    ...stack.map((l) => `  ${p.blue('ro')} ${p.dim(l.Id.slice(0, 12))} ${p.yellow(humanSize(l.Size, 3).padStart(8))}  ${ellipsis(l.CreatedBy || '-', 70)}`),
  ];
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
