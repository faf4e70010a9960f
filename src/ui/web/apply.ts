// A container event applied to the picture at once, before the reads that confirm it: create
// puts a writable layer on its image, start/die/pause/unpause change its state, destroy takes
// it away. The reads that follow bring what an event does not carry (sizes, status, ports,
// processes); image events always wait for them (new layers are only known from the graph).
import type { EventMessage } from '../../types/api.js';
import type { GraphContainer, GraphImage, LayerGraph } from '../../types/berth.js';

const STATE_AFTER: Record<string, string> = { start: 'running', restart: 'running', unpause: 'running', die: 'exited', pause: 'paused' };

/** The graph with the event applied, or undefined when the event changes nothing it can draw. */
export function applyEvent(g: LayerGraph, ev: EventMessage): LayerGraph | undefined {
  if (ev.Type !== 'container') return undefined;
  const id = ev.Actor.ID;
  const i = g.Containers.findIndex((c) => c.Id === id);
  const withContainers = (containers: GraphContainer[]): LayerGraph => ({ ...g, Containers: containers });
  if (ev.Action === 'create') {
    const ref = ev.Actor.Attributes.image ?? '';
    const image = findImage(g, ref);
    if (i >= 0 || !image) return undefined;
    return withContainers([...g.Containers, { Id: id, Name: ev.Actor.Attributes.name ?? '', Image: ref, ImageId: image.Id, State: 'created', Parent: image.Layers.at(-1) ?? '', WritableSize: 0 }]);
  }
  if (ev.Action === 'destroy') return i < 0 ? undefined : withContainers(g.Containers.filter((c) => c.Id !== id));
  const state = STATE_AFTER[ev.Action];
  if (i < 0 || !state || g.Containers[i].State === state) return undefined;
  const containers = [...g.Containers];
  containers[i] = { ...containers[i], State: state };
  return withContainers(containers);
}

/** An image by the reference an event names: its id, or one of its tags. */
export function findImage(g: LayerGraph, ref: string): GraphImage | undefined {
  if (!ref) return undefined;
  const tagged = ref.includes(':') ? ref : `${ref}:latest`;
  return g.Images.find((i) => i.Id === ref || i.Id === `sha256:${ref}` || i.RepoTags.includes(ref) || i.RepoTags.includes(tagged));
}
