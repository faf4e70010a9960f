// `docker pull`: resolve the manifest (an index is narrowed to one platform), fetch the config,
// download the missing layers concurrently (verified, resumable) and unpack them in order into
// snapshots, then record the image under its tag and its repo digest. An image is created only
// once every layer is in place; a failure leaves at most verified, reusable layers behind.
import { isNoSpace } from '../../util/fs.js';
import { createReadStream, promises as fsp } from 'node:fs';
import { PassThrough, Transform } from 'node:stream';
import { NotFoundError, RegistryError, UnauthorizedError } from '../../errors.js';
import type { AuthConfig } from '../../distribution/auth.js';
import { downloadBlob } from '../../distribution/download.js';
import { parseManifest } from '../../distribution/manifest.js';
import { platformMatches, selectManifest } from '../../distribution/platform.js';
import { formatPlatform, hostPlatform, normalisePlatform, type PlatformSpec } from '../../util/platform.js';
import { message, ProgressReporter, shortDigest, update, type ProgressSink } from '../../distribution/progress.js';
import { RegistryApiError } from '../../distribution/registry.js';
import { Repository, sha256Of } from '../../distribution/repository.js';
import type { Descriptor, Manifest } from '../../oci/image-spec.js';
import { Reference } from '../../reference/index.js';
import { chainKeyOf } from '../../snapshot/overlay.js';
import type { DetachedLayer, Snapshotter } from '../../snapshot/overlay.js';
import type { ContentStore } from '../../store/content.js';
import type { ReferenceStore } from '../../store/references.js';
import type { EventService } from '../events.js';
import type { DistributionMetadata } from './distribution-metadata.js';
import type { ImageService } from './image-service.js';
import type { ImageConfig } from './image-types.js';
import { ingestLayer, ingestLayerDetached } from './import.js';
import type { RegistryService } from './registry-service.js';

export interface DistributionDeps {
  content: ContentStore;
  snapshots: Snapshotter;
  images: ImageService;
  references: ReferenceStore;
  events: EventService;
  metadata: DistributionMetadata;
  registries: RegistryService;
}

export interface PullOptions {
  /** Requested platform (--platform); the host's when absent. */
  platform?: PlatformSpec;
  auth: AuthConfig;
}

const MAX_CONFIG_SIZE = 8 * 1024 * 1024;

/** moby's translatePullError: the registry's "not there" answers become Docker's 404 messages. */
export function translatePullError(err: unknown, ref: Reference): unknown {
  if (err instanceof RegistryApiError) {
    switch (err.code) {
      case 'DENIED':
        return new NotFoundError(`pull access denied for ${ref.familiarName}, repository does not exist or may require 'docker login': ${err.message}`);
      case 'MANIFEST_UNKNOWN':
        return new NotFoundError(`manifest for ${ref.familiarString} not found: ${err.message}`);
      case 'NAME_UNKNOWN':
        return new NotFoundError(`repository ${ref.familiarName} not found: ${err.message}`);
    }
  }
  if (err instanceof NotFoundError) return new NotFoundError(`manifest for ${ref.familiarString} not found: manifest unknown: manifest unknown`);
  // Docker answers auth failures of a pull with 500; a 401 would make its CLI prompt for a login.
  if (err instanceof UnauthorizedError) return new RegistryError(err.message);
  return err;
}

/** Pulls one tag or digest, or every tag when `ref` has neither; ends with Docker's Status line. */
export async function pullImage(deps: DistributionDeps, ref: Reference, opts: PullOptions, sink: ProgressSink): Promise<void> {
  const target = ref.digest ? new Reference(ref.domain, ref.path, undefined, ref.digest) : ref;
  const registry = deps.registries.registry(target.domain, opts.auth);
  const repo = new Repository(registry, target.path, ['pull']);
  let changed = false;
  if (target.tag !== undefined || target.digest !== undefined) {
    changed = await pullOne(deps, repo, target, opts, sink);
  } else {
    let tags: string[];
    try {
      tags = await repo.tags();
    } catch (err) {
      throw translatePullError(err, target);
    }
    for (const tag of tags) changed = (await pullOne(deps, repo, target.withTag(tag), opts, sink)) || changed;
  }
  sink(message(changed ? `Status: Downloaded newer image for ${target.familiarString}` : `Status: Image is up to date for ${target.familiarString}`));
}

function parseImageConfig(bytes: Buffer, ref: string): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new RegistryError(`invalid image config for ${ref}: ${(err as Error).message}`);
  }
  if (!config || typeof config !== 'object' || !config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
    throw new RegistryError(`invalid image config for ${ref}: no rootfs.diff_ids`);
  }
  if (!config.rootfs.diff_ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new RegistryError(`invalid image config for ${ref}: bad diff id`);
  }
  return config;
}

/** Manifest for the wanted platform: the manifest itself, or the matching entry of an index. */
async function resolveManifest(repo: Repository, ref: Reference, bytes: Buffer, contentType: string, want: PlatformSpec): Promise<{ manifest: Manifest; fromIndex: boolean }> {
  const parsed = parseManifest(bytes, contentType, ref.toString());
  if (parsed.kind === 'manifest') return { manifest: parsed.manifest, fromIndex: false };
  const desc = selectManifest(parsed.index.manifests, want);
  if (!desc) throw new NotFoundError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
  const inner = await repo.getManifest(desc.digest).catch((err: unknown) => {
    throw translatePullError(err, ref);
  });
  if (inner.bytes.length !== desc.size) throw new RegistryError(`manifest ${desc.digest} has ${inner.bytes.length} bytes, the index says ${desc.size}`);
  const child = parseManifest(inner.bytes, inner.contentType || desc.mediaType || '', ref.toString());
  if (child.kind !== 'manifest') throw new RegistryError(`${ref}: a manifest list inside a manifest list is not supported`);
  return { manifest: child.manifest, fromIndex: true };
}

/** Returns true when the reference now names a different image than before. */
async function pullOne(deps: DistributionDeps, repo: Repository, ref: Reference, opts: PullOptions, sink: ProgressSink): Promise<boolean> {
  const tagOrDigest = ref.digest ?? ref.tag!;
  const fetched = await repo.getManifest(tagOrDigest).catch((err: unknown) => {
    throw translatePullError(err, ref);
  });
  sink(message(`Pulling from ${ref.path}`, tagOrDigest));
  const want = opts.platform ?? hostPlatform();
  const { manifest, fromIndex } = await resolveManifest(repo, ref, fetched.bytes, fetched.contentType, want);
  const configBytes = await repo.getBlobBytes(manifest.config.digest, manifest.config.size, MAX_CONFIG_SIZE).catch((err: unknown) => {
    throw translatePullError(err, ref);
  });
  const config = parseImageConfig(configBytes, ref.toString());
  if (!fromIndex && opts.platform && !platformMatches(want, normalisePlatform(config))) {
    throw new NotFoundError(
      `image with reference ${ref} was found but its platform (${formatPlatform(normalisePlatform(config))}) does not match the specified platform (${formatPlatform(want)})`,
    );
  }
  if (config.rootfs.diff_ids.length !== manifest.layers.length) throw new RegistryError(`layers from manifest don't match image configuration`);
  const imageId = sha256Of(configBytes);
  if (!deps.images.get(imageId)) await fetchLayers(deps, repo, ref, manifest.layers, config.rootfs.diff_ids, sink);
  await deps.images.createFromConfigBlob(configBytes, config);
  sink(message(`Digest: ${fetched.digest}`));
  const canonical = ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag}`;
  if (deps.references.get(canonical) === imageId) return false;
  if (!ref.digest) await deps.references.set(`${ref.name}@${fetched.digest}`, imageId);
  await deps.references.set(canonical, imageId);
  deps.events.emit('image', 'pull', ref.familiarString, { name: ref.familiarName });
  return true;
}

function counter(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

async function fetchLayers(deps: DistributionDeps, repo: Repository, ref: Reference, layers: Descriptor[], diffIds: string[], sink: ProgressSink): Promise<void> {
  const reg = deps.registries;
  const keys = diffIds.map((_d, i) => chainKeyOf(diffIds.slice(0, i + 1))!);
  const present = keys.map((k) => deps.snapshots.get(k) !== undefined);
  layers.forEach((l, i) => sink(update(shortDigest(l.digest), present[i] ? 'Already exists' : 'Pulling fs layer')));
  const acquired: Descriptor[] = [];
  const downloads = new Map<string, Promise<void>>();
  // Layers this pull unpacks while they download (into detached directories, committed in
  // layer order below once their blob is verified); by digest, for the first layer using it.
  const staged = new Map<string, { staging: Promise<DetachedLayer>; feed: PassThrough }>();
  /** A download or an unpack failed for a full disk. */
  let noSpace = false;
  for (let i = 0; i < layers.length; i++) {
    const desc = layers[i];
    if (present[i] || downloads.has(desc.digest)) continue;
    reg.acquireFile(desc.digest);
    acquired.push(desc);
    const id = shortDigest(desc.digest);
    let p = reg.inflight.get(desc.digest);
    if (!p) {
      if (reg.downloads.saturated) sink(update(id, 'Waiting'));
      const file = deps.content.partialPath(desc.digest);
      const feed = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
      // Its errors reach the unpacker through its reads; one after the unpacker is done goes nowhere.
      feed.on('error', () => undefined);
      const staging = ingestLayerDetached(deps.content, deps.snapshots, feed);
      staging.catch(() => undefined);
      staged.set(desc.digest, { staging, feed });
      p = reg.downloads
        .run(async () => {
          const reporter = new ProgressReporter(sink, id, 'Downloading', desc.size);
          await downloadBlob(repo, desc, file, (n) => reporter.report(n), (c) => feedChunk(feed, c));
          reporter.report(desc.size, true);
          sink(update(id, 'Verifying Checksum'));
          sink(update(id, 'Download complete'));
        })
        .then(
          () => void feed.end(),
          (err: unknown) => {
            noSpace ||= isNoSpace(err);
            feed.destroy(err as Error);
            throw err;
          },
        )
        .finally(() => reg.downloadEnded(desc.digest));
      reg.inflight.set(desc.digest, p);
    }
    // Failures are seen when the layer's turn to be unpacked comes; never unhandled.
    p.catch(() => undefined);
    downloads.set(desc.digest, p);
  }
  const released = new Set<string>();
  try {
    let parent: string | undefined;
    for (let i = 0; i < layers.length; i++) {
      const desc = layers[i];
      const id = shortDigest(desc.digest);
      if (!present[i]) {
        await downloads.get(desc.digest);
        const key = keys[i];
        const staging = staged.get(desc.digest)?.staging;
        staged.delete(desc.digest);
        let taken = false;
        try {
          await reg.unpackOnce(key, async () => {
            if (staging) {
              taken = true;
              await commitStaged(deps, staging, desc, parent, key, diffIds[i], sink);
            } else if (!deps.snapshots.get(key)) {
              await extract(deps, desc, parent, diffIds[i], sink);
            }
          });
        } finally {
          if (staging && !taken) await discardStaged(deps, staging);
        }
        // Unpacked by a concurrent pull that then failed: not there, so this pull fails too.
        if (!deps.snapshots.get(key)) throw new RegistryError(`layer ${id} could not be unpacked`);
        sink(update(id, 'Pull complete'));
        // Another layer of this image may use the same blob; keep the file until the last one.
        if (!layers.slice(i + 1).some((l, j) => l.digest === desc.digest && !present[i + 1 + j])) {
          released.add(desc.digest);
          await reg.releaseFile(desc.digest, deps.content.partialPath(desc.digest), true);
        }
      }
      await deps.metadata.add(diffIds[i], { digest: desc.digest, size: desc.size, mediaType: desc.mediaType ?? '', repository: ref.name });
      parent = keys[i];
    }
  } catch (err) {
    noSpace ||= isNoSpace(err);
    throw err;
  } finally {
    // Layers unpacked ahead of a failure are never committed: stop them (their downloads go on
    // for the partial files) and remove what they unpacked before the pull reports.
    for (const { feed } of staged.values()) feed.destroy(new RegistryError('pull failed'));
    for (const { staging } of staged.values()) await discardStaged(deps, staging);
    // Partial files are kept for the next pull to resume, unless they are what filled the disk.
    for (const d of acquired) if (!released.has(d.digest)) await reg.releaseFile(d.digest, deps.content.partialPath(d.digest), noSpace);
  }
}

/** Hands a chunk to the unpacker, waiting while it is behind; an unpacker that failed takes nothing more (its error is reported in layer order). */
async function feedChunk(feed: PassThrough, c: Buffer): Promise<void> {
  if (feed.destroyed) return;
  if (feed.write(c)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      feed.off('drain', done);
      feed.off('close', done);
      resolve();
    };
    feed.on('drain', done);
    feed.on('close', done);
  });
}

/** Commits a layer unpacked during its download on top of `parent`, once its blob is verified. */
async function commitStaged(deps: DistributionDeps, staging: Promise<DetachedLayer>, desc: Descriptor, parent: string | undefined, key: string, diffId: string, sink: ProgressSink): Promise<void> {
  const layer = await staging;
  if (layer.diffId !== diffId) {
    await deps.snapshots.discardDetached(layer);
    throw new RegistryError(`layers from manifest don't match image configuration`);
  }
  if (deps.snapshots.get(key)) {
    await deps.snapshots.discardDetached(layer);
    return;
  }
  const info = await deps.snapshots.commitDetached(parent, layer);
  if (info.key !== key) throw new RegistryError(`layers from manifest don't match image configuration`);
  sink(update(shortDigest(desc.digest), 'Extracting'));
}

async function discardStaged(deps: DistributionDeps, staging: Promise<DetachedLayer>): Promise<void> {
  await staging.then((layer) => deps.snapshots.discardDetached(layer)).catch(() => undefined);
}

async function extract(deps: DistributionDeps, desc: Descriptor, parent: string | undefined, diffId: string, sink: ProgressSink): Promise<void> {
  const id = shortDigest(desc.digest);
  const file = deps.content.partialPath(desc.digest);
  const size = (await fsp.stat(file)).size;
  const reporter = new ProgressReporter(sink, id, 'Extracting', size);
  const source = createReadStream(file);
  const input = source.pipe(counter((n) => reporter.report(n)));
  source.on('error', (err) => input.destroy(err));
  const info = await ingestLayer(deps.content, deps.snapshots, input, parent);
  reporter.report(size, true);
  if (info.diffId !== diffId) throw new RegistryError(`layers from manifest don't match image configuration`);
}
