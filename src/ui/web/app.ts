// The page: draws the layer graph, follows /events and redraws what changed, drawn as seed 001's
// transforms (transforms.ts: create adds a writable layer, commit turns one into a read-only
// layer, rm drops it).
// Timings go to window.berthPerf for the browser tests and bench/ui.ts.
import type { ContainerSummary, ContainerTopResponse, EventMessage, FilesystemChange } from '../../types/api.js';
import type { Efficiency, ImageComparison, LayerGraph, UnionView } from '../../types/berth.js';
import { ACTIONS_ALLOWED, act, ApiError, followEvents, get } from './api.js';
import { esc, short } from './format.js';
import { comparePanel, detailsPanel, efficiencyPanel, filesPanel, imageName } from './panels.js';
import { applyEvent } from './apply.js';
import { EMPTY_PICTURE, renderStacks, type Selection } from './stacks.js';
import { Transforms } from './transforms.js';

type Tab = 'details' | 'files' | 'efficiency' | 'compare' | 'events';

interface Update {
  action: string;
  /** From the event's arrival in the page to the redrawn stacks (browser clock). */
  ms: number;
  /** Drawn from the event itself (apply.ts), before the reads; confirmedMs is after them. */
  local: boolean;
  confirmedMs?: number;
  /** From the daemon's event timestamp to the redrawn stacks (same host: same clock). */
  sinceEventMs: number;
  /** Of which: reading the graph and the container list, and drawing. */
  loadMs: number;
  drawMs: number;
}

interface Perf {
  firstRender?: number;
  updates: Update[];
  renders: number;
}

const perf: Perf = { updates: [], renders: 0 };
(window as unknown as { berthPerf: Perf }).berthPerf = perf;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const stacksEl = $('stacks');
const panelEl = $('panel');

const state = {
  graph: { Layers: [], Images: [], Containers: [] } as LayerGraph,
  summaries: new Map<string, ContainerSummary>(),
  tops: new Map<string, ContainerTopResponse>(),
  selected: undefined as Selection | undefined,
  tab: 'details' as Tab,
  path: '/',
  showHidden: true,
  compare: { a: '', b: '', result: undefined as ImageComparison | undefined },
  actionsOn: false,
  log: [] as string[],
};

/** At most this many running containers get their processes listed in the picture. */
const TOP_LIMIT = 24;

async function load(): Promise<void> {
  // The graph carries every container's state and writable layer; the Engine API's list adds
  // status, ports and mounts, which only running containers draw: listing those alone keeps a
  // redraw's reads small with hundreds of stopped containers.
  const from = eventSeq;
  const [graph, list] = await Promise.all([get<LayerGraph>('/berth/layers'), get<ContainerSummary[]>('/containers/json')]);
  // Events drawn at once that came while reading may be missing from what was read: applied again.
  applied = applied.filter((a) => a.seq > from);
  state.graph = applied.reduce((g, a) => applyEvent(g, a.ev) ?? g, graph);
  state.summaries = new Map(list.map((c) => [c.Id, c]));
}

/** Events drawn before the reads that confirm them (apply.ts), numbered as they came. */
let eventSeq = 0;
let applied: { ev: EventMessage; seq: number }[] = [];

const transforms = new Transforms(() => draw());

/** The root branches as last drawn: a redraw replaces only those that changed. */
let drawnBranches: string[] = [];

/**
 * Puts the picture's root branches in the page, replacing only the ones whose HTML changed: an
 * event usually touches one stack, and rebuilding every stack's boxes (hundreds of layers and
 * containers) cost most of a redraw; it also restarted every transform's animation.
 */
function patchForest(branches: string[]): void {
  const forest = stacksEl.querySelector<HTMLElement>(':scope > .forest');
  if (!branches.length) {
    stacksEl.innerHTML = EMPTY_PICTURE;
    drawnBranches = [];
    return;
  }
  if (!forest) {
    stacksEl.innerHTML = `<div class="forest">${branches.join('')}</div>`;
    drawnBranches = branches;
    return;
  }
  const tpl = document.createElement('template');
  branches.forEach((html, i) => {
    if (drawnBranches[i] === html) return;
    tpl.innerHTML = html;
    const old = forest.children[i];
    if (old) old.replaceWith(tpl.content);
    else forest.append(tpl.content);
  });
  while (forest.children.length > branches.length) forest.lastElementChild!.remove();
  drawnBranches = branches;
}

function draw(): void {
  const g = state.graph;
  const frame = transforms.frame(g, Date.now());
  patchForest(renderStacks({ ...frame, summaries: state.summaries, tops: state.tops, selected: state.selected }));
  const running = g.Containers.filter((c) => c.State === 'running').length;
  $('counts').textContent = `${g.Images.length} images · ${g.Layers.length} layers · ${g.Containers.length} containers (${running} running)`;
  perf.renders++;
}

/**
 * Processes are re-read when a container's events say they changed (start, exec), and otherwise
 * at most this often: `top` runs ps in the daemon (a process spawned per container), which is not
 * cheap, and every running container's read competed with the redraws' own reads.
 */
const TOP_EVERY_MS = 15_000;
/** Container actions after which its processes are re-read at once. */
const PROCESSES_CHANGE = /^(start|restart|unpause|exec_start|exec_die)/;
const topsRead = new Map<string, number>();
let readingTops = false;

/**
 * Lists the processes of running containers, one request at a time (a browser opens six
 * connections per host: parallel tops would queue the redraw's own reads behind them).
 */
async function refreshTops(): Promise<void> {
  if (readingTops) return;
  readingTops = true;
  try {
    const running = state.graph.Containers.filter((c) => c.State === 'running' || c.State === 'paused');
    const wanted = running.length <= TOP_LIMIT ? running : running.filter((c) => state.selected?.id === c.Id);
    const ids = new Set(wanted.map((c) => c.Id));
    let changed = false;
    for (const id of [...state.tops.keys()]) if (!ids.has(id)) changed = state.tops.delete(id) || changed;
    for (const c of wanted) {
      if (Date.now() - (topsRead.get(c.Id) ?? 0) < TOP_EVERY_MS && state.tops.has(c.Id)) continue;
      topsRead.set(c.Id, Date.now());
      const t = await get<ContainerTopResponse>(`/containers/${c.Id}/top`).catch(() => undefined);
      if (t) state.tops.set(c.Id, t);
      changed = true;
    }
    if (changed) draw();
  } finally {
    readingTops = false;
  }
}

async function drawPanel(): Promise<void> {
  document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('on', (b as HTMLElement).dataset.tab === state.tab));
  const sel = state.selected;
  try {
    panelEl.innerHTML = await panelHtml(sel);
  } catch (e) {
    panelEl.innerHTML = `<p class="error">${esc((e as Error).message)}</p>`;
  }
  const bar = panelEl.querySelector<HTMLElement>('.bar .used');
  if (bar) bar.style.width = `${bar.dataset.pct}%`;
}

async function panelHtml(sel: Selection | undefined): Promise<string> {
  switch (state.tab) {
    case 'events':
      return `<ul class="events">${state.log.map((l) => `<li>${l}</li>`).join('') || '<li class="dim">Nothing yet: events appear here as they happen.</li>'}</ul>`;
    case 'compare': {
      const images = state.graph.Images;
      state.compare.a ||= images[1]?.Id ?? images[0]?.Id ?? '';
      state.compare.b ||= images[0]?.Id ?? '';
      return comparePanel(state.graph, state.compare.a, state.compare.b, state.compare.result);
    }
    case 'files': {
      if (!sel) return '<p class="hint">Pick an image, a layer or a container to browse its files.</p>';
      const base = sel.kind === 'image' ? `/berth/images/${sel.id}` : sel.kind === 'layer' ? `/berth/layers/${sel.id}` : `/berth/containers/${sel.id}`;
      const v = await get<UnionView>(`${base}/files?path=${encodeURIComponent(state.path)}`);
      return filesPanel(v, state.showHidden);
    }
    case 'efficiency': {
      const img = sel?.kind === 'image' ? state.graph.Images.find((i) => i.Id === sel.id) : sel?.kind === 'container' ? state.graph.Images.find((i) => i.Id === state.graph.Containers.find((c) => c.Id === sel.id)?.ImageId) : undefined;
      if (!img) return '<p class="hint">Pick an image (or a container) to see its wasted space.</p>';
      return efficiencyPanel(await get<Efficiency>(`/berth/images/${img.Id}/efficiency`), imageName(img));
    }
    default: {
      let changes: FilesystemChange[] | undefined;
      if (sel?.kind === 'container' && state.graph.Containers.some((c) => c.Id === sel.id)) changes = (await get<FilesystemChange[] | null>(`/containers/${sel.id}/changes`)) ?? [];
      return detailsPanel(state.graph, sel, { summary: sel ? state.summaries.get(sel.id) : undefined, top: sel ? state.tops.get(sel.id) : undefined, changes, actions: ACTIONS_ALLOWED && state.actionsOn });
    }
  }
}

function select(sel: Selection, tab?: Tab): void {
  state.selected = sel;
  state.path = '/';
  if (tab) state.tab = tab;
  draw();
  void drawPanel();
}

/** One redraw for a burst of events: a redraw in flight is followed by one more, not one per event. */
let refreshing: Promise<void> | undefined;
let again = false;
const waiting: { ev: EventMessage; at: number; update?: Update }[] = [];

function scheduleRefresh(): void {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = (async () => {
    do {
      again = false;
      const batch = waiting.splice(0);
      const t0 = performance.now();
      await load();
      const t1 = performance.now();
      draw();
      const now = performance.now();
      for (const { ev, at, update } of batch) {
        if (update) update.confirmedMs = now - at;
        else perf.updates.push({ action: `${ev.Type} ${ev.Action}`, ms: now - at, local: false, confirmedMs: now - at, sinceEventMs: Date.now() - ev.timeNano / 1e6, loadMs: t1 - t0, drawMs: now - t1 });
      }
      if (perf.updates.length > 500) perf.updates.splice(0, perf.updates.length - 500);
    } while (again);
    refreshing = undefined;
    void refreshTops();
    if (state.tab !== 'files' && state.tab !== 'compare') void drawPanel();
  })().then(
    () => {
      if (following) setStatus('live', 'ok');
    },
    (e) => {
      // A failed read (the daemon busy or restarting): said, and tried again, not left stale.
      refreshing = undefined;
      setStatus(`error: ${(e as Error).message}`, 'bad');
      setTimeout(scheduleRefresh, 1000);
    },
  );
}

const TRANSFORMS: Record<string, string> = {
  create: 'adds a writable layer on',
  start: 'wraps in a process space:',
  die: 'leaves its process space:',
  stop: 'stops:',
  commit: 'turns its writable layer into a read-only layer:',
  destroy: 'drops its writable layer:',
  pull: 'brings layers:',
  load: 'loads layers:',
  import: 'adds a base layer:',
  build: 'stacks new layers:',
  tag: 'names',
  untag: 'unnames',
  delete: 'removes',
};

/**
 * Whether an event can change the picture: containers' and images' own changes. Networks and
 * volumes are drawn from the containers' events; a redraw for an event that changes nothing
 * would only delay the next one (a redraw in flight is followed by one more, not joined).
 */
function changesPicture(ev: EventMessage): boolean {
  if (ev.Type === 'container') return !/^(exec_|top|attach|resize|archive-path|extract|copy|export|kill)/.test(ev.Action);
  if (ev.Type === 'image') return !['push', 'save'].includes(ev.Action);
  return false;
}

function onEvent(ev: EventMessage): void {
  const name = ev.Actor.Attributes.name ?? short(ev.Actor.ID);
  const verb = TRANSFORMS[ev.Action.split(':')[0]];
  if (verb) {
    const time = new Date(ev.timeNano / 1e6).toLocaleTimeString();
    state.log.unshift(`<span class="dim">${time}</span> <b>${esc(ev.Type)} ${esc(ev.Action)}</b> ${esc(verb)} ${esc(name)}`);
    state.log.length = Math.min(state.log.length, 100);
  }
  transforms.onEvent(ev);
  if (ev.Type === 'container' && PROCESSES_CHANGE.test(ev.Action)) topsRead.delete(ev.Actor.ID);
  if (!changesPicture(ev)) {
    if (ev.Type === 'container' && ev.Action.startsWith('exec_')) void refreshTops();
    return;
  }
  const at = performance.now();
  eventSeq++;
  const next = applyEvent(state.graph, ev);
  let update: Update | undefined;
  if (next) {
    applied.push({ ev, seq: eventSeq });
    state.graph = next;
    const t = performance.now();
    draw();
    const now = performance.now();
    update = { action: `${ev.Type} ${ev.Action}`, ms: now - at, local: true, sinceEventMs: Date.now() - ev.timeNano / 1e6, loadMs: 0, drawMs: now - t };
    perf.updates.push(update);
  }
  waiting.push({ ev, at, update });
  scheduleRefresh();
}

function setStatus(text: string, cls: 'ok' | 'bad' | ''): void {
  const s = $('status');
  s.textContent = text;
  s.className = `status ${cls}`;
}

/** Whether the page is following /events (the status says "live" only then). */
let following = false;

async function follow(): Promise<void> {
  for (;;) {
    try {
      await followEvents(onEvent, () => {
        following = true;
        setStatus('live', 'ok');
        scheduleRefresh();
      });
    } catch (e) {
      following = false;
      setStatus(e instanceof ApiError ? e.message : 'disconnected', 'bad');
    }
    following = false;
    setStatus('reconnecting…', 'bad');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function runAction(kind: string): Promise<void> {
  const sel = state.selected;
  if (!sel || sel.kind !== 'container' || !state.actionsOn) return;
  if (kind === 'rm' && !confirm('Remove this container and its writable layer?')) return;
  const c = encodeURIComponent(sel.id);
  try {
    if (kind === 'start') await act('POST', `/containers/${c}/start`);
    if (kind === 'stop') await act('POST', `/containers/${c}/stop`);
    if (kind === 'rm') await act('DELETE', `/containers/${c}`);
    if (kind === 'commit') await act('POST', `/commit?container=${c}`, {});
  } catch (e) {
    alert((e as Error).message);
  }
}

function wire(): void {
  stacksEl.addEventListener('click', (ev) => {
    const t = ev.target as HTMLElement;
    const image = t.closest<HTMLElement>('[data-image]');
    if (image) return select({ kind: 'image', id: image.dataset.image! });
    const ctr = t.closest<HTMLElement>('[data-container]');
    if (ctr) return select({ kind: 'container', id: ctr.dataset.container! });
    const layer = t.closest<HTMLElement>('[data-layer]');
    if (layer) select({ kind: 'layer', id: layer.dataset.layer! });
  });
  $('tabs').addEventListener('click', (ev) => {
    const tab = (ev.target as HTMLElement).dataset.tab as Tab | undefined;
    if (!tab) return;
    state.tab = tab;
    void drawPanel();
  });
  panelEl.addEventListener('click', (ev) => {
    const t = ev.target as HTMLElement;
    const dir = t.closest<HTMLElement>('[data-path]');
    if (dir) {
      state.path = dir.dataset.path!;
      void drawPanel();
      return;
    }
    const act = t.closest<HTMLElement>('[data-act]');
    if (act) return void runAction(act.dataset.act!);
    if (t.id === 'cmp-go') {
      state.compare.a = ($('cmp-a') as unknown as HTMLSelectElement).value;
      state.compare.b = ($('cmp-b') as unknown as HTMLSelectElement).value;
      void get<ImageComparison>(`/berth/images/compare?a=${encodeURIComponent(state.compare.a)}&b=${encodeURIComponent(state.compare.b)}`).then((r) => {
        state.compare.result = r;
        void drawPanel();
      });
      return;
    }
    const image = t.closest<HTMLElement>('[data-image]');
    if (image) return select({ kind: 'image', id: image.dataset.image! }, 'details');
    const ctr = t.closest<HTMLElement>('[data-container]');
    if (ctr) return select({ kind: 'container', id: ctr.dataset.container! }, 'details');
    const layer = t.closest<HTMLElement>('[data-layer]');
    if (layer) select({ kind: 'layer', id: layer.dataset.layer! }, 'details');
  });
  panelEl.addEventListener('change', (ev) => {
    if ((ev.target as HTMLElement).id === 'show-hidden') {
      state.showHidden = (ev.target as HTMLInputElement).checked;
      void drawPanel();
    }
  });
  // Hovering a file lights up the layer it comes from in the picture.
  panelEl.addEventListener('mouseover', (ev) => {
    const row = (ev.target as HTMLElement).closest<HTMLElement>('[data-origin]');
    document.querySelectorAll('.layer.origin').forEach((el) => el.classList.remove('origin'));
    if (row?.dataset.origin) stacksEl.querySelector(`[data-layer="${CSS.escape(row.dataset.origin)}"]`)?.classList.add('origin');
  });
  if (ACTIONS_ALLOWED) {
    $('actions-switch').hidden = false;
    $('actions-on').addEventListener('change', (ev) => {
      state.actionsOn = (ev.target as HTMLInputElement).checked;
      void drawPanel();
    });
  }
}

async function start(): Promise<void> {
  wire();
  try {
    await load();
  } catch (e) {
    setStatus((e as Error).message, 'bad');
    return;
  }
  draw();
  perf.firstRender = performance.now();
  void refreshTops();
  setInterval(() => void refreshTops(), TOP_EVERY_MS / 3);
  void follow();
}

void start();
