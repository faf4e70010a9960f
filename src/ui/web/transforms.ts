// Seed 001's transforms, worked out from one graph to the next: what appeared (create, pull,
// load, a build's COPY), a writable layer turned read-only (commit, a build's RUN step), a
// container wrapped in its process space or leaving it (start, stop), and a container leaving
// (rm). Each stays drawn for TRANSFORM_MS; a removed container is drawn from its last picture
// (a ghost) meanwhile.
import type { EventMessage } from '../../types/api.js';
import type { GraphContainer, LayerGraph } from '../../types/berth.js';
import { findImage } from './apply.js';

/** How long a transform stays drawn (its CSS animation; redraws in the meantime keep it). */
export const TRANSFORM_MS = 2500;

const RUNNING = new Set(['running', 'paused', 'restarting']);

/** What one frame draws: the graph with its ghosts, and which ids are drawn in which transform. */
export interface Frame {
  graph: LayerGraph;
  fresh: Set<string>;
  committed: Set<string>;
  started: Set<string>;
  stopped: Set<string>;
  leaving: Set<string>;
  /** Removed containers whose writable layer became the layer above their parent (a build step). */
  hardening: Set<string>;
  /** `${imageId} ${tag}` of tags just given. */
  freshTags: Set<string>;
}

interface Ghost {
  container: GraphContainer;
  until: number;
  hardening: boolean;
}

/** A container announced by its create event: drawn even when it goes before any graph shows it. */
interface Announced {
  name: string;
  image: string;
  at: number;
  destroyed: boolean;
}

const ANNOUNCED_MS = 60_000;

class Timed {
  private readonly until = new Map<string, number>();
  set(id: string, now: number): void {
    this.until.set(id, now + TRANSFORM_MS);
  }
  current(now: number): Set<string> {
    for (const [id, until] of this.until) if (until < now) this.until.delete(id);
    return new Set(this.until.keys());
  }
}

export class Transforms {
  private first = true;
  private known = new Set<string>();
  private knownTags = new Set<string>();
  private readonly fresh = new Timed();
  private readonly committed = new Timed();
  private readonly started = new Timed();
  private readonly stopped = new Timed();
  private readonly freshTags = new Timed();
  private readonly states = new Map<string, string>();
  private readonly lastSeen = new Map<string, GraphContainer>();
  private readonly ghosts = new Map<string, Ghost>();
  private readonly announced = new Map<string, Announced>();

  /** Called when a ghost's time is up and the picture needs drawing without it. */
  constructor(private readonly redraw: () => void) {}

  onEvent(ev: EventMessage): void {
    if (ev.Type !== 'container') return;
    if (ev.Action === 'create') this.announced.set(ev.Actor.ID, { name: ev.Actor.Attributes.name ?? '', image: ev.Actor.Attributes.image ?? '', at: Date.now(), destroyed: false });
    const a = this.announced.get(ev.Actor.ID);
    if (a && ev.Action === 'destroy') a.destroyed = true;
  }

  frame(g: LayerGraph, now: number): Frame {
    const ids = new Set([...g.Layers.map((l) => l.Id), ...g.Containers.map((c) => c.Id)]);
    const tags = new Set(g.Images.flatMap((i) => i.RepoTags.map((t) => `${i.Id} ${t}`)));
    if (!this.first) {
      for (const id of ids) if (!this.known.has(id)) this.fresh.set(id, now);
      for (const t of tags) if (!this.knownTags.has(t)) this.freshTags.set(t, now);
      this.hardenNewLayers(g, now);
    }
    this.trackContainers(g, now);
    this.first = false;
    this.known = ids;
    this.knownTags = tags;
    return this.draw(g, now);
  }

  /** A new layer whose image records the container it came from: that writable layer, turned read-only. */
  private hardenNewLayers(g: LayerGraph, now: number): void {
    for (const img of g.Images) {
      const top = img.Layers.at(-1);
      if (!top || this.known.has(top) || !img.Container) continue;
      // A metadata step (ENV, LABEL…) commits its container into no layer: the top is its parent's.
      if (g.Images.find((p) => p.Id === img.Parent)?.Layers.at(-1) === top) continue;
      const ghost = this.ghosts.get(img.Container);
      if (!ghost && !this.states.has(img.Container) && !this.announced.has(img.Container) && !g.Containers.some((c) => c.Id === img.Container)) continue;
      this.committed.set(top, now);
      // Its removal may have been drawn before the graph showed the layer (the event applied at once).
      if (ghost && top !== ghost.container.Parent) ghost.hardening = true;
    }
  }

  private trackContainers(g: LayerGraph, now: number): void {
    const seen = new Set<string>();
    for (const c of g.Containers) {
      seen.add(c.Id);
      this.announced.delete(c.Id);
      this.ghosts.delete(c.Id);
      const before = this.states.get(c.Id);
      if (before !== undefined && !RUNNING.has(before) && RUNNING.has(c.State)) this.started.set(c.Id, now);
      if (before !== undefined && RUNNING.has(before) && !RUNNING.has(c.State)) {
        this.stopped.set(c.Id, now);
        this.redrawAfterwards();
      }
      this.states.set(c.Id, c.State);
      this.lastSeen.set(c.Id, c);
    }
    for (const id of [...this.states.keys()]) {
      if (seen.has(id)) continue;
      this.states.delete(id);
      const last = this.lastSeen.get(id);
      this.lastSeen.delete(id);
      if (last) this.gone(g, last, now);
    }
    // Created and removed between two graphs (a build's quick RUN step, a short run --rm): drawn
    // from its create event, on its image's top layer.
    for (const [id, a] of this.announced) {
      if (now - a.at > ANNOUNCED_MS) this.announced.delete(id);
      if (!a.destroyed) continue;
      this.announced.delete(id);
      const image = findImage(g, a.image);
      if (image) this.gone(g, { Id: id, Name: a.name, Image: a.image, ImageId: image.Id, State: 'exited', Parent: image.Layers.at(-1) ?? '', WritableSize: 0 }, now);
    }
  }

  /**
   * A removed container, drawn leaving; or, when a layer was just committed from it and it went
   * (a build's step), drawn going up into that layer.
   */
  private gone(g: LayerGraph, c: GraphContainer, now: number): void {
    const top = g.Images.find((i) => i.Container === c.Id)?.Layers.at(-1);
    const hardening = top !== undefined && top !== c.Parent && this.committed.current(now).has(top);
    this.ghosts.set(c.Id, { container: c, until: now + TRANSFORM_MS, hardening });
    this.redrawAfterwards();
  }

  /** Ghosts and emptied process spaces are parts of the picture: a redraw takes them away. */
  private redrawAfterwards(): void {
    setTimeout(this.redraw, TRANSFORM_MS + 50);
  }

  private draw(g: LayerGraph, now: number): Frame {
    const layers = new Set(g.Layers.map((l) => l.Id));
    const ghosts: Ghost[] = [];
    for (const [id, x] of this.ghosts) {
      if (x.until < now) this.ghosts.delete(id);
      else if (x.container.Parent === '' || layers.has(x.container.Parent)) ghosts.push(x);
    }
    const committed = this.committed.current(now);
    const fresh = this.fresh.current(now);
    for (const id of committed) fresh.delete(id);
    return {
      graph: ghosts.length ? { ...g, Containers: [...g.Containers, ...ghosts.map((x) => x.container)] } : g,
      fresh,
      committed,
      started: this.started.current(now),
      stopped: this.stopped.current(now),
      leaving: new Set(ghosts.filter((x) => !x.hardening).map((x) => x.container.Id)),
      hardening: new Set(ghosts.filter((x) => x.hardening).map((x) => x.container.Id)),
      freshTags: this.freshTags.current(now),
    };
  }
}
