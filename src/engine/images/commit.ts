// `docker commit`: a container's changes become one new layer on top of its image's layers, and
// its configuration (with --change applied) the new image's. The parent's layers are shared,
// never copied: the new snapshot's parent is the image's top layer.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContainerConfig } from '../../types/api.js';
import { OVERLAY_OPAQUE_XATTR } from '../../archive/apply.js';
import { packDirectory } from '../../archive/pack.js';
import { readXattrs } from '../../archive/xattr.js';
import { ConflictError, InvalidParameterError, noSuchContainer, noSuchImage } from '../../errors.js';
import { parseRepositoryTag, type Reference } from '../../reference/index.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import { directorySize } from '../../util/fs.js';
import { runCommand } from '../../util/exec.js';
import { logger } from '../../util/logger.js';
import type { ContainerRecord } from '../containers/container.js';
import { mergeEnv, mergeHealthcheck } from '../containers/create-config.js';
import { containerLayers, type ContainerLayers, runtimeMountPoints } from '../containers/rootfs-layers.js';
import type { EventService } from '../events.js';
import { applyChanges } from '../../build/changes.js';
import type { ImageService } from './image-service.js';
import type { HistoryEntry, ImageConfig, ImageRunConfig } from './image-types.js';
import { ingestLayer } from './import.js';
import { hashLayer, hashLayerHeaders } from './layer-tars.js';

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
 * becomes the committed layer, as containerd commits an active snapshot; otherwise it is copied.
 */
export async function commitSnapshotLayer(deps: LayerDeps, key: string, opts: { inPlace?: boolean } = {}): Promise<string | undefined> {
  const layers = containerLayers(deps.snapshots, key);
  if (!layers) throw noSuchContainer(key);
  // A build's RUN container has exited: nothing runs in it.
  if (!opts.inPlace) return commitLayer(deps, layers, true);
  const hidden = await runtimeMountPoints(layers);
  if (!(await hasChanges(layers.upper, hidden))) return undefined;
  await removeRuntimeMountPoints(layers.upper, hidden);
  const [hashed, size] = await Promise.all([hashLayer(layers.upper, deps.snapshots.ids), directorySize(layers.upper, { links: false })]);
  const layer = await deps.snapshots.detachUpper(key, { ...hashed, size });
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
  /** Runs `fn` under the container's lock: no start, unpause, exit or removal meanwhile. */
  locked: <T>(c: ContainerRecord, fn: () => Promise<T>) => Promise<T>;
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
      const diffId = await commitFrozenOrStreamed(deps, c, layers);
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

/** The layer, copied under the container's lock when nothing in it can run, else streamed. */
async function commitFrozenOrStreamed(deps: CommitDeps, c: ContainerRecord, layers: ContainerLayers): Promise<string | undefined> {
  const frozen = (): boolean => c.state.status === 'paused' || c.state.status === 'created' || c.state.status === 'exited';
  const copied = await deps.locked(c, async () => (frozen() ? { diffId: await commitLayer(deps, layers, true) } : undefined));
  return copied ? copied.diffId : commitLayer(deps, layers, false);
}

async function tagCommitted(deps: CommitDeps, id: string, target: Reference): Promise<string> {
  await deps.images.tag(id, target.toString());
  return target.familiarString;
}

/**
 * The upper dir becomes a committed snapshot on the image's top layer. An upper dir with no
 * changes gives no layer (undefined), as Docker's empty diff does.
 *
 * `frozen` (nothing in the container can run: it is stopped, or paused, under its lock): the
 * upper dir is copied as it is (`cp -a`: owners, modes, times, xattrs, hard links, whiteout
 * devices; a reflink where the filesystem has them) into the new layer's directory, which is then
 * hashed as its tar for the diff id. No tar is stored: save and push regenerate it from that
 * directory (layer-tars.ts), so the data is written once.
 *
 * Otherwise (`pause=false` on a running container) the container could swap a directory for a
 * symlink while `cp` walks the tree by path, so the upper dir is packed by `packDirectory`, which
 * never follows one, stored and unpacked (the tar is kept: it is what was hashed).
 */
async function commitLayer(deps: LayerDeps, layers: ContainerLayers, frozen: boolean): Promise<string | undefined> {
  const hidden = await runtimeMountPoints(layers);
  if (!(await hasChanges(layers.upper, hidden))) return undefined;
  if (!frozen) return commitLayerStreamed(deps, layers, hidden);
  const exclude = (rel: string): boolean => hidden.has(`/${rel}`);
  const ids = deps.snapshots.ids;
  const layer = await deps.snapshots.unpackDetached(async (dir) => {
    // cp (its own process) and the hash of what it copies run at once. The copy is what save
    // regenerates from: its tar headers are checked against the source's (the files' bytes are
    // equal when cp succeeds), else it is hashed itself.
    const [, source] = await Promise.all([runCommand('cp', ['-a', '--reflink=auto', '--', `${layers.upper}/.`, dir]), hashLayer(layers.upper, ids, exclude)]);
    await removeRuntimeMountPoints(dir, hidden);
    const [copied, expected, size] = await Promise.all([hashLayerHeaders(dir, ids), hashLayerHeaders(layers.upper, ids, exclude), directorySize(dir, { links: false })]);
    if (copied !== expected) logger.warn(`commit: the copy of ${layers.upper} differs from it in metadata; hashing the copy`);
    return { ...(copied === expected ? source : await hashLayer(dir, ids)), size };
  });
  return (await deps.snapshots.commitDetached(layers.parent, layer)).diffId;
}

async function commitLayerStreamed(deps: LayerDeps, layers: ContainerLayers, hidden: Set<string>): Promise<string> {
  const tar = packDirectory(layers.upper, { overlayUpper: true, exclude: (rel) => hidden.has(`/${rel}`), ids: deps.snapshots.ids });
  // ingestLayer reports any failure as a bad archive; a failure to read the upper dir is ours.
  let packError: Error | undefined;
  tar.once('error', (err: Error) => (packError = err));
  try {
    return (await ingestLayer(deps.content, deps.snapshots, tar, layers.parent)).diffId!;
  } catch (err) {
    throw packError ?? err;
  }
}

/**
 * The runtime's mount points go from a layer directory; their parents keep their times, which
 * the layer's tar records.
 */
async function removeRuntimeMountPoints(dir: string, hidden: Set<string>): Promise<void> {
  const deepestFirst = [...hidden].sort((a, b) => b.length - a.length);
  const parents = new Map<string, { atime: Date; mtime: Date }>();
  for (const p of deepestFirst) {
    const parent = path.posix.dirname(p);
    if (parents.has(parent)) continue;
    // Only real directories: a container may have made /etc a symlink to anywhere.
    const st = await fsp.lstat(`${dir}${parent}`).catch(() => undefined);
    if (st?.isDirectory() && (await realDirs(dir, parent))) parents.set(parent, { atime: st.atime, mtime: st.mtime });
  }
  for (const p of deepestFirst) if (parents.has(path.posix.dirname(p))) await fsp.rm(`${dir}${p}`, { recursive: true, force: true });
  // A parent that was itself a mount point (/etc holding only stubs) is gone too.
  for (const [p, t] of parents) if (!hidden.has(p)) await fsp.lutimes(`${dir}${p}`, t.atime, t.mtime);
}

/** Whether every directory from `dir` down to `rel` ("/etc") is a directory, not a symlink. */
async function realDirs(dir: string, rel: string): Promise<boolean> {
  let at = dir;
  for (const part of rel.split('/').filter(Boolean)) {
    at = `${at}/${part}`;
    if (!(await fsp.lstat(at).catch(() => undefined))?.isDirectory()) return false;
  }
  return true;
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
