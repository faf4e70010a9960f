// One step of a stage becoming an image, as the legacy builder does it: the step's container
// config (the instruction recorded in Cmd) is looked up in the cache; on a miss the work runs
// (nothing, a RUN container, or a copy into a fresh layer) and the result is committed as a
// child image of the step's starting image, with one more history entry. The step's lines are
// written as Docker writes them.
import type { HistoryEntry, ImageConfig, ImageRunConfig } from '../oci/image-spec.js';
import { hostArchitecture } from '../engine/images/import.js';
import type { BuildImage, BuilderBackend } from './backend.js';
import type { BuildCache } from './cache.js';
import { shellOf, type StageState } from './dispatch.js';

export interface BuildOutput {
  /** A `stream` message (text as Docker writes it, newlines included). */
  stream(text: string): void;
  /** An `aux` message. */
  aux(value: unknown): void;
}

export interface StepContext {
  backend: BuilderBackend;
  cache: BuildCache;
  noCache: boolean;
  out: BuildOutput;
  /** Remove a RUN's container once it succeeded (rm) / also when it failed (forcerm). */
  rm: boolean;
  forceRm: boolean;
  signal: AbortSignal;
  platform?: { os: string; architecture: string; variant?: string };
}

/** The step's image state: the current image, or undefined at the start of FROM scratch. */
export interface StageImage {
  image: BuildImage | undefined;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** The container config a step is recorded (and cached) by: its run config with Cmd = the instruction. */
export function stepConfig(state: StageState, parent: BuildImage | undefined, cmd: string[]): ImageRunConfig {
  return { ...structuredClone(state.runConfig), Cmd: cmd, Image: parent?.id ?? '' };
}

/** Docker's withCmdComment / withCmdCommentString. */
export function nopCmd(state: StageState, comment: string, oneWord = false): string[] {
  return oneWord ? [...shellOf(state), `#(nop) ${comment}`] : [...shellOf(state), '#(nop) ', comment];
}

/** The image config of a step's result (moby's NewChildImage). */
export function childConfig(parent: BuildImage | undefined, state: StageState, step: ImageRunConfig, diffId: string | undefined, container: string, ctx: StepContext): ImageConfig {
  const p = parent?.config;
  const created = new Date().toISOString();
  const entry: HistoryEntry = { created, created_by: (step.Cmd ?? []).join(' ') };
  if (!diffId) entry.empty_layer = true;
  const layers = p?.rootfs.diff_ids ?? [];
  const config: ImageConfig = {
    architecture: p?.architecture ?? ctx.platform?.architecture ?? hostArchitecture(),
    ...(p?.variant ? { variant: p.variant } : ctx.platform?.variant && !p ? { variant: ctx.platform.variant } : {}),
    os: p?.os ?? ctx.platform?.os ?? 'linux',
    ...(state.author ? { author: state.author } : {}),
    config: { ...structuredClone(state.runConfig), Image: parent?.id ?? '' },
    container,
    container_config: { ...step, Hostname: container.slice(0, 12) },
    created,
    history: [...(p?.history ?? []), entry],
    rootfs: { type: 'layers', diff_ids: diffId ? [...layers, diffId] : [...layers] },
  };
  return config;
}

/** Looks the step up in the cache; prints Docker's cache lines on a hit. */
export async function fromCache(ctx: StepContext, parent: BuildImage | undefined, step: ImageRunConfig, state: StageState): Promise<BuildImage | undefined> {
  if (ctx.noCache) return undefined;
  const id = await ctx.cache.probe(parent, step, () => childConfig(parent, state, step, undefined, '', ctx));
  if (!id) return undefined;
  const image = ctx.backend.findImage(id);
  if (!image) return undefined;
  ctx.out.stream(' ---> Using cache\n');
  ctx.out.stream(` ---> ${shortId(image.id)}\n`);
  return image;
}

/**
 * A metadata-only step (or one whose layer is `diffId`): the new image, printed as Docker does.
 * `printRun` (ENV, LABEL, WORKDIR, …): dockerd's legacy builder creates a container for such a
 * step, never started, and commits it; so does this one, so that the ` ---> Running in` and
 * `Removing intermediate container` lines (and the image's `container`) name a real container,
 * kept with rm=false as dockerd keeps it. After FROM scratch the container has no image, as dockerd's.
 */
export async function commitStep(ctx: StepContext, parent: BuildImage | undefined, state: StageState, step: ImageRunConfig, diffId: string | undefined, opts: { container?: string; printRun: boolean }): Promise<BuildImage> {
  const stepContainer = !opts.container && opts.printRun;
  const container = stepContainer ? await stepContainerFor(ctx, parent, step) : (opts.container ?? '');
  let ok = false;
  try {
    const image = await ctx.backend.createImage(childConfig(parent, state, step, diffId, container, ctx), parent?.id);
    ok = true;
    if (stepContainer && ctx.rm) {
      await ctx.backend.removeContainer(container);
      ctx.out.stream(`Removing intermediate container ${container.slice(0, 12)}\n`);
    }
    ctx.out.stream(` ---> ${shortId(image.id)}\n`);
    return image;
  } finally {
    if (stepContainer && !ok && (ctx.forceRm || ctx.rm)) await ctx.backend.removeContainer(container).catch(() => undefined);
  }
}

/** The step's container, created (not started) from its parent with the step's config. */
async function stepContainerFor(ctx: StepContext, parent: BuildImage | undefined, step: ImageRunConfig): Promise<string> {
  const id = await ctx.backend.createContainer({ image: parent?.id ?? '', config: { ...step, Entrypoint: null }, hostConfig: { NetworkMode: 'none' } });
  ctx.out.stream(` ---> Running in ${id.slice(0, 12)}\n`);
  return id;
}
