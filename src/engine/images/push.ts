// `docker push`: every layer is offered to the registry the cheapest way first — already there
// (HEAD), mounted from a sibling repository on the same registry, else gzip-compressed and
// uploaded — then the config and a Docker v2 schema 2 manifest under the tag.
import { ParallelGzip } from '../../archive/parallel-gzip.js';
import { NotFoundError, RegistryError } from '../../errors.js';
import type { AuthConfig } from '../../distribution/auth.js';
import { message, ProgressReporter, shortDigest, update, type ProgressSink } from '../../distribution/progress.js';
import { Repository } from '../../distribution/repository.js';
import { MediaTypes, type Descriptor, type Manifest } from '../../oci/image-spec.js';
import { Reference } from '../../reference/index.js';
import type { LayerBlob } from './distribution-metadata.js';
import type { Image } from './image-types.js';
import { LayerTars } from './layer-tars.js';
import type { DistributionDeps } from './pull.js';

/** Layer media types a schema 2 manifest can carry, as Docker writes them. */
const SCHEMA2_LAYER: Record<string, string> = {
  [MediaTypes.DOCKER_LAYER_GZIP]: MediaTypes.DOCKER_LAYER_GZIP,
  [MediaTypes.OCI_LAYER_GZIP]: MediaTypes.DOCKER_LAYER_GZIP,
  [MediaTypes.DOCKER_LAYER]: MediaTypes.DOCKER_LAYER,
  [MediaTypes.OCI_LAYER]: MediaTypes.DOCKER_LAYER,
};

/** The tags of `ref`'s repository to push: the one named, or all of them. Throws Docker's 404. */
export function tagsToPush(deps: DistributionDeps, ref: Reference): { tag: string; image: Image }[] {
  if (ref.digest) throw new NotFoundError(`An image does not exist locally with the tag: ${ref.familiarName}`);
  const out: { tag: string; image: Image }[] = [];
  const prefix = `${ref.name}:`;
  for (const [r, id] of deps.references.all()) {
    if (!r.startsWith(prefix) || r.slice(prefix.length).includes('/')) continue;
    const tag = r.slice(prefix.length);
    if (ref.tag !== undefined && tag !== ref.tag) continue;
    const image = deps.images.get(id);
    if (image) out.push({ tag, image });
  }
  if (out.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${ref.familiarName}`);
  return out.sort((a, b) => a.tag.localeCompare(b.tag));
}

export async function pushImage(deps: DistributionDeps, ref: Reference, auth: AuthConfig, sink: ProgressSink): Promise<void> {
  const tags = tagsToPush(deps, ref);
  sink(message(`The push refers to repository [${ref.name}]`));
  const registry = deps.registries.registry(ref.domain, auth, true);
  const repo = new Repository(registry, ref.path, ['pull', 'push']);
  for (const { tag, image } of tags) await pushTag(deps, repo, ref, tag, image, sink);
}

async function pushTag(deps: DistributionDeps, repo: Repository, ref: Reference, tag: string, image: Image, sink: ProgressSink): Promise<void> {
  const diffIds = image.config.rootfs.diff_ids;
  const unique = [...new Set(diffIds)];
  for (const d of unique) sink(update(shortDigest(d), 'Preparing'));
  const pushes = new Map<string, Promise<Descriptor>>();
  for (const d of unique) {
    if (deps.registries.uploads.saturated) sink(update(shortDigest(d), 'Waiting'));
    const p = deps.registries.uploads.run(() => pushLayer(deps, repo, ref, d, sink));
    p.catch(() => undefined);
    pushes.set(d, p);
  }
  const layers: Descriptor[] = [];
  for (const d of diffIds) layers.push(await pushes.get(d)!);
  const configBytes = await deps.content.read(image.record.id);
  const configDesc: Descriptor = { mediaType: MediaTypes.DOCKER_CONFIG, size: configBytes.length, digest: image.record.id };
  if ((await repo.blobSize(configDesc.digest)) === undefined) {
    await repo.uploadBlob(configDesc.digest, configBytes, deps.registries.options.uploadChunkSize);
  }
  const manifest: Manifest = { schemaVersion: 2, mediaType: MediaTypes.DOCKER_MANIFEST, config: configDesc, layers };
  // Docker indents schema 2 manifests with three spaces; the same bytes make the same digest.
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  const digest = await repo.putManifest(tag, bytes, MediaTypes.DOCKER_MANIFEST);
  sink(message(`${tag}: digest: ${digest} size: ${bytes.length}`));
  sink({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: bytes.length } });
  await deps.references.set(`${ref.name}@${digest}`, image.record.id);
  deps.events.emit('image', 'push', `${ref.familiarName}:${tag}`, { name: ref.familiarName });
}

function registryOf(repository: string): string {
  return repository.slice(0, repository.indexOf('/'));
}

function pathOf(repository: string): string {
  return repository.slice(repository.indexOf('/') + 1);
}

async function pushLayer(deps: DistributionDeps, repo: Repository, ref: Reference, diffId: string, sink: ProgressSink): Promise<Descriptor> {
  const id = shortDigest(diffId);
  const known = (await deps.metadata.blobsFor(diffId)).filter((b) => SCHEMA2_LAYER[b.mediaType] && registryOf(b.repository) === ref.domain);
  const describe = (b: LayerBlob): Descriptor => ({ mediaType: SCHEMA2_LAYER[b.mediaType], size: b.size, digest: b.digest });
  // 1. Already in this repository?
  for (const b of known.filter((k) => k.repository === ref.name).reverse()) {
    if ((await repo.blobSize(b.digest)) !== undefined) {
      sink(update(id, 'Layer already exists'));
      return describe(b);
    }
  }
  // 2. In a sibling repository of the same registry: mount it.
  for (const b of known.filter((k) => k.repository !== ref.name).reverse()) {
    const from = pathOf(b.repository);
    if (await repo.mountBlob(b.digest, from).catch(() => false)) {
      await deps.metadata.add(diffId, { ...b, repository: ref.name });
      sink(update(id, `Mounted from ${from}`));
      return describe(b);
    }
  }
  // 3. Compress and upload at once: PATCH requests stream the gzip members as they are made.
  const chunkSize = deps.registries.options.uploadChunkSize;
  const tars = new LayerTars(deps.content, deps.snapshots);
  const source = await tars.open(diffId);
  // Compression is the bottleneck: blocks on every core, random-looking ones stored (parallel-gzip.ts).
  const gzip = new ParallelGzip();
  source.on('error', (e) => gzip.destroy(e));
  source.pipe(gzip);
  try {
    const total = (await tars.size(diffId)) ?? 0;
    const reporter = new ProgressReporter(sink, id, 'Pushing', total);
    const sent = await repo.uploadStream(gzip, chunkSize, (n) => reporter.report(Math.min(n, total)));
    reporter.report(total, true);
    sink(update(id, 'Pushed'));
    const blob: LayerBlob = { digest: sent.digest, size: sent.size, mediaType: MediaTypes.DOCKER_LAYER_GZIP, repository: ref.name };
    await deps.metadata.add(diffId, blob);
    return describe(blob);
  } catch (err) {
    if (err instanceof RegistryError || err instanceof NotFoundError) throw err;
    throw new RegistryError(`pushing layer ${id}: ${(err as Error).message}`);
  } finally {
    source.destroy();
    gzip.destroy();
  }
}
