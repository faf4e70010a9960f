// The side panel: details of the selection, its union view (files with their origin layer, hidden
// copies, whiteouts, a container's diff), wasted space, image comparison and the event log.
import type { ContainerSummary, ContainerTopResponse, FilesystemChange } from '../../types/api.js';
import type { Efficiency, GraphImage, ImageComparison, LayerGraph, UnionEntry, UnionView } from '../../types/berth.js';
import { esc, hue, short, size } from './format.js';
import type { Selection } from './stacks.js';

export function imageName(i: GraphImage): string {
  return i.RepoTags[0] ?? `<none> ${short(i.Id)}`;
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function detailsPanel(g: LayerGraph, sel: Selection | undefined, extra: { summary?: ContainerSummary; top?: ContainerTopResponse; changes?: FilesystemChange[]; actions: boolean }): string {
  if (!sel) return '<p class="hint">Pick an image tag, a layer or a container.</p>';
  const byId = new Map(g.Layers.map((l) => [l.Id, l]));
  if (sel.kind === 'image') {
    const i = g.Images.find((x) => x.Id === sel.id);
    if (!i) return '<p class="gone">This image is gone.</p>';
    const rows = [...i.History].reverse().map((h) => [h.Layer ? `<a data-layer="${esc(h.Layer)}">${short(h.Layer)}</a>` : '<span class="dim">—</span>', h.Layer ? size(byId.get(h.Layer)?.Size ?? 0) : '0 B', esc(h.CreatedBy || '—')]);
    const users = g.Containers.filter((c) => c.ImageId === i.Id).map((c) => `<a data-container="${esc(c.Id)}">${esc(c.Name)}</a>`);
    return `<h2>${esc(i.RepoTags.join(', ') || '<none>')}</h2><p class="mono dim">${esc(i.Id)}</p>
      <p>${i.Layers.length} layers, ${size(i.Size)}${i.Parent ? `, built on <a data-image="${esc(i.Parent)}">${short(i.Parent)}</a>` : ''}</p>
      ${table(['layer', 'size', 'instruction (newest first)'], rows, 'history')}
      ${users.length ? `<p>Containers: ${users.join(', ')}</p>` : ''}`;
  }
  if (sel.kind === 'layer') {
    const l = byId.get(sel.id);
    if (!l) return '<p class="gone">This layer is gone.</p>';
    const images = g.Images.filter((i) => i.Layers.includes(l.Id)).map((i) => `<a data-image="${esc(i.Id)}">${esc(imageName(i))}</a>`);
    const depth = g.Images.find((i) => i.Layers.includes(l.Id))?.Layers.indexOf(l.Id) ?? 0;
    return `<h2>Layer ${short(l.Id)}</h2><p class="mono dim">chain ${esc(l.Id)}<br>diff ${esc(l.DiffId)}</p>
      <p>${size(l.Size)}, layer ${depth + 1} from the base, read-only</p><p class="mono">${esc(l.CreatedBy || '—')}</p>
      <p>Shared by ${images.length} image${images.length === 1 ? '' : 's'}: ${images.join(', ')}</p>`;
  }
  const c = g.Containers.find((x) => x.Id === sel.id);
  if (!c) return '<p class="gone">This container was removed.</p>';
  const s = extra.summary;
  const kinds = ['C', 'A', 'D'];
  const counts = [0, 0, 0];
  for (const ch of extra.changes ?? []) counts[ch.Kind]++;
  const procs = extra.top ? table(extra.top.Titles.map(esc), extra.top.Processes.map((p) => p.map(esc)), 'procs') : '';
  const ports = (s?.Ports ?? []).map((p) => `${p.IP ? p.IP + ':' : ''}${p.PublicPort ?? ''}${p.PublicPort ? '→' : ''}${p.PrivatePort}/${p.Type}`);
  const mounts = (s?.Mounts ?? []).map((m) => `${esc(m.Type)} ${esc(m.Name || m.Source)} → ${esc(m.Destination)}${m.RW ? '' : ' (ro)'}`);
  const running = c.State === 'running' || c.State === 'paused';
  const buttons = extra.actions
    ? `<div class="actions">${running ? '<button data-act="stop">Stop</button>' : '<button data-act="start">Start</button>'}<button data-act="commit">Commit</button>${running ? '' : '<button data-act="rm" class="danger">Remove</button>'}</div>`
    : '';
  return `<h2>${esc(c.Name)}</h2><p class="mono dim">${esc(c.Id)}</p>
    <p>${esc(s?.Status ?? c.State)} · image <a data-image="${esc(c.ImageId)}">${esc(c.Image)}</a></p>
    <p>Writable layer: ${size(c.WritableSize)} · <span class="chA">A ${counts[1]}</span> <span class="chC">C ${counts[0]}</span> <span class="chD">D ${counts[2]}</span></p>
    ${buttons}
    ${ports.length ? `<p>Ports: ${esc(ports.join(', '))}</p>` : ''}${mounts.length ? `<p>Mounts: ${mounts.join('<br>')}</p>` : ''}
    ${procs ? `<h3>Processes</h3>${procs}` : ''}
    ${(extra.changes ?? []).length ? `<h3>Diff</h3><ul class="diff">${(extra.changes ?? []).slice(0, 200).map((ch) => `<li class="ch${kinds[ch.Kind]}">${kinds[ch.Kind]} ${esc(ch.Path)}</li>`).join('')}</ul>` : ''}`;
}

function entryRow(v: UnionView, e: UnionEntry): string {
  const layer = v.Layers[e.Layer];
  const origin = `<span class="swatch ${hue(e.Layer)}"></span>L${e.Layer} ${layer?.Writable ? 'rw' : short(layer?.Id ?? '')}`;
  const name = e.Type === 'dir' && !e.Whiteout ? `<a class="dir" data-path="${esc(e.Path)}">${esc(e.Name)}/</a>` : esc(e.Name) + (e.LinkTarget !== undefined ? ` <span class="dim">→ ${esc(e.LinkTarget)}</span>` : '');
  const notes: string[] = [];
  if (e.Whiteout) notes.push(`<span class="wh-note">whiteout: deleted in L${e.Layer}</span>`);
  if (e.Opaque) notes.push('opaque');
  for (const h of e.Hidden ?? []) notes.push(`<span class="hid">hides ${h.Type === 'dir' ? 'dir' : size(h.Size)} in <span class="swatch ${hue(h.Layer)}"></span>L${h.Layer}</span>`);
  const change = e.Change ? `<span class="badge ch${e.Change}">${e.Change}</span>` : '';
  const cls = [e.Whiteout ? 'wh' : '', e.Change ? `row${e.Change}` : '', e.Hidden?.length ? 'shadowing' : ''].join(' ');
  return `<tr class="${cls}" data-origin="${esc(layer?.Id ?? '')}"><td>${change}${name}</td><td class="num">${e.Type === 'file' && !e.Whiteout ? size(e.Size) : ''}</td><td class="origin">${origin}</td><td>${notes.join(' · ')}</td></tr>`;
}

export function filesPanel(v: UnionView, showHidden: boolean): string {
  const crumbs = ['<a data-path="/">/</a>'];
  let acc = '';
  for (const part of v.Path.split('/').filter(Boolean)) {
    acc += `/${part}`;
    crumbs.push(`<a data-path="${esc(acc)}">${esc(part)}</a>`);
  }
  const legend = v.Layers.map((l, i) => `<li><span class="swatch ${hue(i)}"></span>L${i} ${l.Writable ? '<b>writable</b>' : `<span class="mono">${short(l.Id)}</span>`} <span class="dim">${size(l.Size)}</span> <span class="cmd">${esc(l.CreatedBy || '—')}</span></li>`).join('');
  const entries = v.Entries.filter((e) => showHidden || !e.Whiteout);
  const rows = entries.map((e) => entryRow(v, e)).join('');
  return `<ol class="layers-legend">${legend}</ol>
    <div class="files-bar"><span class="crumbs">${crumbs[0]}${crumbs.slice(1).join('<span class="dim">/</span>')}</span>
    <label><input type="checkbox" id="show-hidden"${showHidden ? ' checked' : ''}> deleted &amp; hidden</label></div>
    <table class="files"><thead><tr><th>name</th><th>size</th><th>from layer</th><th>notes</th></tr></thead><tbody>${rows || '<tr><td colspan="4" class="dim">empty</td></tr>'}</tbody></table>`;
}

export function efficiencyPanel(e: Efficiency, name: string): string {
  const pct = (e.Score * 100).toFixed(1);
  const rows = e.Inefficiencies.map((i) => [String(i.Count), size(i.WastedBytes), `<span class="mono">${esc(i.Path)}</span>`]);
  return `<h2>${esc(name)}</h2><div class="score"><span class="big">${pct}%</span> efficient</div>
    <div class="bar"><span class="used" data-pct="${Math.round(e.Score * 100)}"></span></div>
    <p>${size(e.WastedBytes)} wasted of ${size(e.TotalBytes)} carried in the layers (bytes a higher layer overwrites or deletes).</p>
    ${rows.length ? table(['copies', 'wasted', 'path'], rows, 'ineff') : '<p class="dim">Nothing is overwritten or deleted by a higher layer.</p>'}`;
}

/** Images, then every layer of them (`layer:<chain id>`: the stack up to that layer), to compare two of. */
export function comparePanel(g: LayerGraph, a: string, b: string, result: ImageComparison | undefined): string {
  const option = (value: string, label: string, sel: string): string => `<option value="${esc(value)}"${value === sel ? ' selected' : ''}>${esc(label)}</option>`;
  const layerLabel = new Map<string, string>();
  for (const i of g.Images) i.Layers.forEach((k, n) => layerLabel.has(k) || layerLabel.set(k, `${short(k)} (layer ${n + 1} of ${imageName(i)})`));
  const opts = (sel: string): string =>
    `<optgroup label="images">${g.Images.map((i) => option(i.Id, imageName(i), sel)).join('')}</optgroup>` +
    `<optgroup label="layers (the stack up to one)">${[...layerLabel].map(([k, label]) => option(`layer:${k}`, label, sel)).join('')}</optgroup>`;
  let body = '';
  if (result) {
    const s = result.Summary;
    const rows = result.Changes.slice(0, 500).map((d) => `<tr class="row${d.Kind}"><td><span class="badge ch${d.Kind}">${d.Kind}</span> ${esc(d.Path)}${d.Type === 'dir' ? '/' : ''}</td><td class="num">${d.Kind === 'D' ? size(d.OldSize) : d.Kind === 'A' ? size(d.Size) : `${size(d.OldSize)} → ${size(d.Size)}`}</td></tr>`);
    body = `<p>Shared layers (drawn once): ${result.SharedLayers.map((k) => `<a data-layer="${esc(k)}" class="mono">${short(k)}</a>`).join(' ') || 'none'}</p>
      <p>Only in A: ${result.OnlyA.map(short).join(' ') || 'none'} · only in B: ${result.OnlyB.map(short).join(' ') || 'none'}</p>
      <p><span class="chA">${s.Added} added (${size(s.AddedBytes)})</span> · <span class="chC">${s.Changed} changed</span> · <span class="chD">${s.Deleted} deleted (${size(s.DeletedBytes)})</span></p>
      <table class="files"><tbody>${rows.join('')}</tbody></table>${result.Changes.length > 500 ? `<p class="dim">${result.Changes.length - 500} more…</p>` : ''}`;
  }
  return `<div class="compare"><label>A <select id="cmp-a">${opts(a)}</select></label><label>B <select id="cmp-b">${opts(b)}</select></label><button id="cmp-go">Compare</button></div>${body}`;
}
