// The build cache, as Docker's legacy builder keeps it: a step's result is an image whose
// parent is the step's starting image and whose recorded container config (the instruction as
// `#(nop) …` or the RUN command with its build args, COPY/ADD with their sources' checksum)
// equals the step's. Images live in the image store, so the cache survives a daemon restart
// and goes when they are removed. --cache-from images are also used: where the parent's history
// and layers are a prefix of theirs and their next history entry is this step.
import type { HistoryEntry, ImageConfig, ImageRunConfig } from '../oci/image-spec.js';
import type { BuildImage, BuilderBackend } from './backend.js';

/** The fields of a container config that make two steps the same (moby's compare, plus a few). */
function cacheKey(c: ImageRunConfig | undefined): string {
  if (!c) return '';
  const labels = Object.entries(c.Labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([
    c.Cmd ?? [],
    c.Entrypoint ?? [],
    c.Env ?? [],
    labels,
    Object.keys(c.ExposedPorts ?? {}).sort(),
    Object.keys(c.Volumes ?? {}).sort(),
    c.User ?? '',
    c.WorkingDir ?? '',
    c.Shell ?? [],
    c.OnBuild ?? [],
    c.StopSignal ?? '',
    c.Healthcheck ?? null,
  ]);
}

export class BuildCache {
  constructor(
    private readonly backend: BuilderBackend,
    /** --cache-from images (resolved), oldest first as given. */
    private readonly sources: BuildImage[],
  ) {}

  /** The cached result of a step from `parent` ('' for scratch) with this container config. */
  async probe(parent: BuildImage | undefined, stepConfig: ImageRunConfig, next: () => ImageConfig): Promise<string | undefined> {
    const key = cacheKey(stepConfig);
    const local = this.backend
      .children(parent?.id ?? '')
      .filter((img) => cacheKey(img.config.container_config) === key)
      .sort((a, b) => Date.parse(b.config.created ?? '') - Date.parse(a.config.created ?? ''));
    if (local.length > 0) return local[0].id;
    return this.fromSources(parent, stepConfig, next);
  }

  /**
   * A --cache-from image whose history continues the parent's with this step: the step's image
   * is made from the parent, that history entry and (unless it is an empty layer) its layer.
   */
  private async fromSources(parent: BuildImage | undefined, stepConfig: ImageRunConfig, next: () => ImageConfig): Promise<string | undefined> {
    const createdBy = (stepConfig.Cmd ?? []).join(' ');
    const parentHistory = parent?.config.history ?? [];
    const parentLayers = parent?.config.rootfs.diff_ids ?? [];
    for (const src of this.sources) {
      const history = src.config.history ?? [];
      const layers = src.config.rootfs.diff_ids;
      if (history.length <= parentHistory.length) continue;
      if (!parentHistory.every((h, i) => sameEntry(h, history[i]))) continue;
      if (!parentLayers.every((d, i) => layers[i] === d)) continue;
      const entry = history[parentHistory.length];
      if ((entry.created_by ?? '') !== createdBy) continue;
      const layer = entry.empty_layer ? undefined : layers[parentLayers.length];
      if (!entry.empty_layer && layer === undefined) continue;
      if (history.length === parentHistory.length + 1 && src.parent === parent?.id) return src.id;
      const config = next();
      config.history = [...parentHistory, entry];
      config.rootfs = { type: 'layers', diff_ids: layer ? [...parentLayers, layer] : [...parentLayers] };
      config.created = entry.created ?? config.created;
      const made = await this.backend.createImage(config, parent?.id);
      return made.id;
    }
    return undefined;
  }
}

function sameEntry(a: HistoryEntry, b: HistoryEntry | undefined): boolean {
  return !!b && (a.created_by ?? '') === (b.created_by ?? '') && !!a.empty_layer === !!b.empty_layer;
}
