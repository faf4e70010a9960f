// `docker commit`: a container's changes become one new layer on top of its image's layers, and
// its configuration (with --change applied) the new image's. The parent's layers are shared,
// never copied: the new snapshot's parent is the image's top layer.
import { promises as fsp } from 'node:fs';
import type { ContainerConfig } from '../../types/api.js';
import { OVERLAY_OPAQUE_XATTR } from '../../archive/apply.js';
import { packDirectory } from '../../archive/pack.js';
import { readXattrs } from '../../archive/xattr.js';
import { ConflictError, InvalidParameterError, noSuchContainer, noSuchImage } from '../../errors.js';
import { parseRepositoryTag, type Reference } from '../../reference/index.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import { directorySize } from '../../util/fs.js';
import { logger } from '../../util/logger.js';
import type { ContainerRecord } from '../containers/container.js';
import { mergeEnv, mergeHealthcheck } from '../containers/create-config.js';
import { containerLayers, runtimeMountPoints } from '../containers/rootfs-layers.js';
import type { EventService } from '../events.js';
import { applyChanges } from '../../build/changes.js';
import type { ImageService } from './image-service.js';
import type { HistoryEntry, ImageConfig, ImageRunConfig } from './image-types.js';
import { ingestLayer } from './import.js';

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Pause a running container while its layer is written (Docker's default). */
  pause: boolean;
  /** Dockerfile instructions (`--change`). */
  changes: string[];
  /** Config overrides from the request body, used instead of the container's own config. */
  config?: ContainerConfig | null;
}

type LayerDeps = Pick<CommitDeps, 'content' | 'snapshots'>;

/**
 * A build step's layer: the changes of an active snapshot (a RUN container's, or one a COPY
 * wrote into) committed on its parent. Returns the diff id, or undefined when nothing changed.
 * `inPlace` (the snapshot is about to be removed, nothing has it mounted): the upper dir itself
 * becomes the committed layer and only the tar (for the content store) is written, instead of
 * writing the tar and unpacking it again.
 */
export async function commitSnapshotLayer(deps: LayerDeps, key: string, opts: { inPlace?: boolean } = {}): Promise<string | undefined> {
  const layers = containerLayers(deps.snapshots, key);
  if (!layers) throw noSuchContainer(key);
  if (!opts.inPlace) return commitLayer(deps, layers.upper, layers.lowers, layers.parent);
  const hidden = await runtimeMountPoints(layers);
  if (!(await hasChanges(layers.upper, hidden))) return undefined;
  const writer = await deps.content.writer();
  let diffId: string;
  try {
    await writer.writeStream(packDirectory(layers.upper, { overlayUpper: true, exclude: (rel) => hidden.has(`/${rel}`), ids: deps.snapshots.ids }));
    diffId = (await writer.commit()).digest;
  } catch (err) {
    await writer.abort();
    throw err;
  }
  // What the tar leaves out (the runtime's mount points) goes from the directory too, deepest first.
  for (const p of [...hidden].sort((a, b) => b.length - a.length)) await fsp.rm(`${layers.upper}${p}`, { recursive: true, force: true });
  const layer = await deps.snapshots.detachUpper(key, diffId, await directorySize(layers.upper));
  return (await deps.snapshots.commitDetached(layers.parent, layer)).diffId;
}

export interface CommitDeps {
  content: ContentStore;
  snapshots: Snapshotter;
  images: ImageService;
  events: EventService;
  findContainer: (idOrName: string) => ContainerRecord;
  pause: (id: string) => Promise<void>;
  unpause: (id: string) => Promise<void>;
}

/** Creates the image; returns its id. Nothing is left behind when it fails. */
export async function commitContainer(deps: CommitDeps, opts: CommitOptions): Promise<string> {
  // Docker's order: the body, the reference, then the container and the changes.
  if (opts.config !== undefined && opts.config !== null && (typeof opts.config !== 'object' || Array.isArray(opts.config))) {
    throw new InvalidParameterError('invalid container config: a JSON object is expected');
  }
  const target = parseRepositoryTag(opts.repo, opts.tag);
  if (!opts.container) throw new InvalidParameterError('invalid name or ID supplied: ""');
  const c = deps.findContainer(opts.container);
  if (c.state.status === 'dead') throw new ConflictError(`You cannot commit container ${c.id} which is Dead`);
  if (c.state.status === 'removing') throw new ConflictError(`You cannot commit container ${c.id} which is being removed`);
  const parent = deps.images.get(c.imageId);
  if (!parent) throw noSuchImage(c.imageId);
  const layers = containerLayers(deps.snapshots, c.id);
  if (!layers) throw noSuchContainer(opts.container);

  const base = (opts.config ?? c.config) as ImageRunConfig;
  const config = mergeContainerConfig(applyChanges(base, opts.changes), c.config as ImageRunConfig);

  const pausedHere = opts.pause && c.state.status === 'running';
  if (pausedHere) await deps.pause(c.id).catch((err: Error) => logger.debug(`commit ${c.id}: pause failed: ${err.message}`));
  let id: string;
  try {
    id = await deps.images.creating(async () => {
      const diffId = await commitLayer(deps, layers.upper, layers.lowers, layers.parent);
      const image = await deps.images.create(childConfig(parent.config, c, config, diffId, opts), c.imageId);
      return image.record.id;
    });
  } catch (err) {
    // A layer left without its image is removed with its tar.
    await deps.images.removeUnusedLayers().catch(() => undefined);
    throw err;
  } finally {
    if (pausedHere) await deps.unpause(c.id).catch((err: Error) => logger.debug(`commit ${c.id}: unpause failed: ${err.message}`));
  }
  deps.events.emit('image', 'create', id, { name: id });
  const imageRef = target ? await tagCommitted(deps, id, target) : '';
  deps.events.emit('container', 'commit', c.id, { image: c.image, name: c.name, ...(c.config.Labels ?? {}), comment: opts.comment ?? '', imageID: id, imageRef });
  return id;
}

async function tagCommitted(deps: CommitDeps, id: string, target: Reference): Promise<string> {
  await deps.images.tag(id, target.toString());
  return target.familiarString;
}

/**
 * The upper dir as one uncompressed layer tar (whiteouts as `.wh.` entries, opaque directories
 * with `.wh..wh..opq`), stored in the content store and unpacked as a committed snapshot on
 * `parent` in one pass. An upper dir with no changes gives no layer (undefined), as Docker's
 * empty diff does.
 */
async function commitLayer(deps: LayerDeps, upper: string, lowers: string[], parent: string | undefined): Promise<string | undefined> {
  const hidden = await runtimeMountPoints({ upper, lowers, parent });
  const exclude = (rel: string): boolean => hidden.has(`/${rel}`);
  if (!(await hasChanges(upper, hidden))) return undefined;
  const tar = packDirectory(upper, { overlayUpper: true, exclude, ids: deps.snapshots.ids });
  // ingestLayer reports any failure as a bad archive; a failure to read the upper dir is ours.
  let packError: Error | undefined;
  tar.once('error', (err: Error) => (packError = err));
  try {
    const info = await ingestLayer(deps.content, deps.snapshots, tar, parent);
    return info.diffId!;
  } catch (err) {
    throw packError ?? err;
  }
}

async function hasChanges(upper: string, hidden: Set<string>): Promise<boolean> {
  const names = await fsp.readdir(upper).catch(() => [] as string[]);
  if (names.some((n) => !hidden.has(`/${n}`))) return true;
  // An opaque root (everything below deleted) is a change with no entries of its own.
  const x = await readXattrs([upper], `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`);
  return x.get(upper)?.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
}

/**
 * The new image's config (moby's NewChildImage): the parent's platform, history and layers,
 * one more history entry (created_by is the container's command, empty_layer when there was
 * nothing to commit), and the container recorded as `container` / `container_config`.
 */
function childConfig(parent: ImageConfig, c: ContainerRecord, config: ImageRunConfig, diffId: string | undefined, opts: CommitOptions): ImageConfig {
  const created = new Date().toISOString();
  const history: HistoryEntry = { created };
  if (opts.author) history.author = opts.author;
  const createdBy = (c.config.Cmd ?? []).join(' ');
  if (createdBy) history.created_by = createdBy;
  if (opts.comment) history.comment = opts.comment;
  if (!diffId) history.empty_layer = true;
  const out: ImageConfig = {
    architecture: parent.architecture,
    ...(parent.variant ? { variant: parent.variant } : {}),
    os: parent.os || 'linux',
    ...(parent['os.version'] ? { 'os.version': parent['os.version'] } : {}),
    ...(parent['os.features'] ? { 'os.features': parent['os.features'] } : {}),
    ...(opts.author ? { author: opts.author } : {}),
    config,
    container: c.id,
    container_config: c.config as ImageRunConfig,
    created,
    history: [...(parent.history ?? []), history],
    rootfs: { type: 'layers', diff_ids: diffId ? [...parent.rootfs.diff_ids, diffId] : [...parent.rootfs.diff_ids] },
  };
  return out;
}

/**
 * moby's merge(): what the commit's config leaves unset comes from the container's config
 * (which itself came from the image): user, ports, env, labels, command, healthcheck,
 * working dir, volumes, stop signal.
 */
export function mergeContainerConfig(user: ImageRunConfig, from: ImageRunConfig): ImageRunConfig {
  const out: ImageRunConfig = structuredClone(user);
  if (!out.User) out.User = from.User;
  out.ExposedPorts = Object.keys(out.ExposedPorts ?? {}).length === 0 ? from.ExposedPorts : { ...(from.ExposedPorts ?? {}), ...out.ExposedPorts };
  if (!out.Env || out.Env.length === 0) out.Env = from.Env;
  else out.Env = [...out.Env, ...mergeEnv(from.Env).filter((e) => !out.Env!.some((u) => u.split('=')[0] === e.split('=')[0]))];
  out.Labels = { ...(from.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = from.Cmd;
    if (out.Entrypoint === undefined || out.Entrypoint === null) out.Entrypoint = from.Entrypoint;
  }
  out.Healthcheck = mergeHealthcheck(out.Healthcheck, from.Healthcheck);
  if (!out.WorkingDir) out.WorkingDir = from.WorkingDir;
  out.Volumes = Object.keys(out.Volumes ?? {}).length === 0 ? from.Volumes : { ...out.Volumes, ...(from.Volumes ?? {}) };
  if (!out.StopSignal) out.StopSignal = from.StopSignal;
  return out;
}
