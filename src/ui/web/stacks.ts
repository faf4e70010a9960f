// The picture: every image a stack of read-only layers (base at the bottom), a layer several images
// share drawn once under all of them, every container a writable layer on its image's top layer,
// and running ones wrapped in their process space with their processes, ports and mounts.
import type { ContainerSummary, ContainerTopResponse } from '../../types/api.js';
import type { GraphContainer, GraphImage, LayerGraph, LayerNode } from '../../types/berth.js';
import { esc, short, size, sizeClass } from './format.js';
import type { Frame } from './transforms.js';

export interface Selection {
  kind: 'image' | 'layer' | 'container';
  id: string;
}

/** A frame's graph and transforms (transforms.ts), and what the picture adds to it. */
export interface StackInput extends Frame {
  summaries: Map<string, ContainerSummary>;
  tops: Map<string, ContainerTopResponse>;
  selected?: Selection;
}

/** A container's transform, if it is in one (a removed one is in no other). */
function containerTransform(input: StackInput, id: string): string {
  if (input.leaving.has(id)) return 'leaving';
  if (input.hardening.has(id)) return 'hardening';
  return [input.fresh.has(id) ? 'fresh' : '', input.started.has(id) ? 'started' : '', input.stopped.has(id) ? 'unwrapping' : ''].filter(Boolean).join(' ');
}

const RUNNING = new Set(['running', 'paused', 'restarting']);

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** The layers (and containers) the selection stands on: highlighted down to the base. */
function chainOf(input: StackInput, byId: Map<string, LayerNode>): Set<string> {
  const s = input.selected;
  const out = new Set<string>();
  if (!s) return out;
  let top = '';
  if (s.kind === 'layer') top = s.id;
  if (s.kind === 'image') top = input.graph.Images.find((i) => i.Id === s.id)?.Layers.at(-1) ?? '';
  if (s.kind === 'container') top = input.graph.Containers.find((c) => c.Id === s.id)?.Parent ?? '';
  for (let k = top; k && !out.has(k); k = byId.get(k)?.Parent ?? '') out.add(k);
  return out;
}

/** The picture as its root branches (one per base layer, and one for containers on no layer), oldest first. */
export function renderStacks(input: StackInput): string[] {
  const g = input.graph;
  const byId = new Map(g.Layers.map((l) => [l.Id, l]));
  const kids = groupBy(g.Layers, (l) => l.Parent);
  const imagesAt = groupBy(g.Images, (i) => i.Layers.at(-1) ?? '');
  const onLayer = groupBy(g.Containers, (c) => c.Parent);
  const chain = chainOf(input, byId);
  const created = (l: LayerNode): number => Date.parse(l.Created) || 0;

  const container = (c: GraphContainer): string => {
    const sum = input.summaries.get(c.Id);
    const running = RUNNING.has(c.State);
    const sel = input.selected?.kind === 'container' && input.selected.id === c.Id;
    const transform = containerTransform(input, c.Id);
    const cls = ['ctr', running ? 'running' : 'stopped', sel ? 'sel' : '', transform].join(' ');
    const rw = `<div class="layer rw" data-container="${esc(c.Id)}"><span class="lname">${esc(c.Name)}</span><span class="lsize">${size(c.WritableSize)}</span><span class="lstate">${esc(sum?.Status ?? c.State)}</span></div>`;
    // A container that just stopped is drawn leaving its process space (an empty one, fading).
    if (!running && transform.includes('unwrapping')) return `<div class="${cls}" data-container="${esc(c.Id)}"><div class="procspace"><div class="pstitle">process space</div>${rw}</div></div>`;
    if (!running) return `<div class="${cls}" data-container="${esc(c.Id)}">${rw}</div>`;
    return `<div class="${cls}" data-container="${esc(c.Id)}"><div class="procspace">${processSpace(sum, input.tops.get(c.Id))}${rw}</div></div>`;
  };

  const built = new Set(g.Images.map((i) => i.Parent));
  const tagsOf = (images: GraphImage[] | undefined): string =>
    (images ?? [])
      .map((i) => {
        const sel = input.selected?.kind === 'image' && input.selected.id === i.Id ? ' sel' : '';
        // An untagged image others are built on (a build's step) is its layer, not a name to show.
        const names = i.RepoTags.length ? i.RepoTags : built.has(i.Id) ? [] : [`<none> ${short(i.Id)}`];
        return names.map((n) => `<button class="tag${sel}${input.freshTags.has(`${i.Id} ${n}`) ? ' fresh' : ''}" data-image="${esc(i.Id)}">${esc(n)}</button>`).join('');
      })
      .join('');

  const branch = (l: LayerNode): string => {
    const ctrs = onLayer.get(l.Id) ?? [];
    const above = [...(kids.get(l.Id) ?? [])].sort((a, b) => created(a) - created(b)).map(branch).join('') + (ctrs.length ? `<div class="ctrs">${ctrs.map(container).join('')}</div>` : '');
    const cls = [
      'layer ro',
      `sz${sizeClass(l.Size)}`,
      chain.has(l.Id) ? 'inchain' : '',
      input.selected?.kind === 'layer' && input.selected.id === l.Id ? 'sel' : '',
      input.fresh.has(l.Id) ? 'fresh' : '',
      input.committed.has(l.Id) ? 'committed' : '',
    ].join(' ');
    const box = `<div class="${cls}" data-layer="${esc(l.Id)}" title="${esc(l.CreatedBy)}"><span class="lid">${short(l.Id)}</span><span class="lsize">${size(l.Size)}</span><span class="lcmd">${esc(l.CreatedBy || '—')}</span><span class="tags">${tagsOf(imagesAt.get(l.Id))}</span></div>`;
    return `<div class="branch">${above ? `<div class="above">${above}</div>` : ''}${box}</div>`;
  };

  const roots = [...(kids.get('') ?? [])].sort((a, b) => created(a) - created(b));
  const scratch = onLayer.get('') ?? [];
  const parts = roots.map(branch);
  if (scratch.length || imagesAt.has('')) {
    parts.push(`<div class="branch"><div class="above"><div class="ctrs">${scratch.map(container).join('')}</div></div><div class="layer scratch"><span class="lcmd">no layers</span><span class="tags">${tagsOf(imagesAt.get(''))}</span></div></div>`);
  }
  return parts;
}

export const EMPTY_PICTURE = '<p class="empty">No images yet: import, load, pull or build one.</p>';

function processSpace(sum: ContainerSummary | undefined, top: ContainerTopResponse | undefined): string {
  const out: string[] = [`<div class="pstitle">process space</div>`];
  if (top) {
    const pid = top.Titles.indexOf('PID');
    const cmd = top.Titles.length - 1;
    const procs = top.Processes.slice(0, 6).map((p) => `<li><span class="pid">${esc(p[pid] ?? '')}</span> ${esc(p[cmd] ?? '')}</li>`);
    if (top.Processes.length > 6) procs.push(`<li class="more">+${top.Processes.length - 6} more</li>`);
    out.push(`<ul class="procs">${procs.join('')}</ul>`);
  }
  const ports = (sum?.Ports ?? []).map((p) => (p.PublicPort ? `${p.IP ?? ''}:${p.PublicPort}→${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`));
  if (ports.length) out.push(`<div class="ports">⇄ ${esc(ports.join(', '))}</div>`);
  const mounts = (sum?.Mounts ?? []).map((m) => `${m.Name || m.Source} → ${m.Destination}${m.RW ? '' : ' (ro)'}`);
  if (mounts.length) out.push(`<div class="mounts">⛁ ${esc(mounts.join(', '))}</div>`);
  return out.join('');
}
