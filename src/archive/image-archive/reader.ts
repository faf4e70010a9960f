// What a spooled image archive holds, whichever tool wrote it: Docker's manifest.json (Docker
// 1.10–24, Docker 25+ and skopeo's docker-archive, Berth) or, without it, an OCI image layout's
// index.json (skopeo's oci-archive, umoci, containerd). Everything is validated here; nothing is
// stored. Layer contents are checked against their diff ids later, when they are unpacked.
import { InvalidParameterError } from '../../errors.js';
import { Annotations, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, type ImageConfig, type Platform } from '../../oci/image-spec.js';
import { parseReference } from '../../reference/index.js';
import type { SpooledArchive, SpooledFile } from './spool.js';

/** manifest.json, index.json, image configs and manifests bigger than this are refused. */
export const MAX_JSON_SIZE = 16 * 1024 * 1024;
const MAX_INDEX_DEPTH = 4;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export interface LoadLayer {
  file: SpooledFile;
  /** From the image config: sha256 of the uncompressed layer. */
  diffId: string;
}

export interface LoadImage {
  /** sha256 of the config bytes: the image id. */
  id: string;
  config: Buffer;
  parsed: ImageConfig;
  layers: LoadLayer[];
  /** Canonical tagged references. */
  tags: string[];
  /** Parent image id named by manifest.json. */
  parent?: string;
}

export interface ArchiveContents {
  format: 'docker' | 'oci';
  images: LoadImage[];
}

function bad(msg: string): InvalidParameterError {
  return new InvalidParameterError(`invalid archive: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateConfig(v: unknown, where: string): ImageConfig {
  if (!isObject(v)) throw bad(`${where} is not a JSON object`);
  const rootfs = v['rootfs'];
  if (!isObject(rootfs) || rootfs['type'] !== 'layers' || !Array.isArray(rootfs['diff_ids'])) {
    throw bad(`${where} has no rootfs of type "layers" with diff_ids`);
  }
  for (const d of rootfs['diff_ids'] as unknown[]) {
    if (typeof d !== 'string' || !DIGEST_RE.test(d)) throw bad(`${where} has an invalid diff id ${JSON.stringify(d)}`);
  }
  const os = v['os'];
  if (os !== undefined && typeof os !== 'string') throw bad(`${where} has an invalid os`);
  if (os && os !== 'linux') throw new InvalidParameterError(`cannot load ${os} image on linux`);
  if (v['history'] !== undefined && v['history'] !== null && !Array.isArray(v['history'])) throw bad(`${where} has an invalid history`);
  return v as unknown as ImageConfig;
}

/** A tag from a name given in the archive; undefined when it is no tagged reference. */
function tagOf(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  try {
    const ref = parseReference(name);
    if (ref.digest !== undefined || ref.tag === undefined) return undefined;
    return ref.toString();
  } catch {
    return undefined;
  }
}

class ImageSet {
  private readonly byId = new Map<string, LoadImage>();

  add(image: LoadImage): void {
    const seen = this.byId.get(image.id);
    if (!seen) {
      this.byId.set(image.id, image);
      return;
    }
    for (const t of image.tags) if (!seen.tags.includes(t)) seen.tags.push(t);
    seen.parent ??= image.parent;
  }

  list(): LoadImage[] {
    return [...this.byId.values()];
  }
}

async function readConfig(archive: SpooledArchive, file: SpooledFile, where: string): Promise<{ bytes: Buffer; parsed: ImageConfig }> {
  const { value, bytes } = await archive.readJson<unknown>(file, where, MAX_JSON_SIZE);
  return { bytes, parsed: validateConfig(value, `${where} ${JSON.stringify(file.name)}`) };
}

// ---- Docker: manifest.json ----

async function readDockerArchive(archive: SpooledArchive, manifestFile: SpooledFile): Promise<LoadImage[]> {
  const { value } = await archive.readJson<unknown>(manifestFile, 'manifest', MAX_JSON_SIZE);
  if (value === null) return [];
  if (!Array.isArray(value)) throw bad('manifest.json is not a list of images');
  const images = new ImageSet();
  for (const [i, item] of value.entries()) {
    const where = `manifest.json entry ${i}`;
    if (!isObject(item)) throw bad(`${where} is not an object`);
    const { Config, Layers, RepoTags, Parent } = item;
    if (typeof Config !== 'string') throw bad(`${where} has no Config`);
    if (!Array.isArray(Layers) || Layers.some((l) => typeof l !== 'string')) throw bad(`${where} has no list of Layers`);
    if (RepoTags !== undefined && RepoTags !== null && (!Array.isArray(RepoTags) || RepoTags.some((t) => typeof t !== 'string'))) {
      throw bad(`${where} has invalid RepoTags`);
    }
    if (Parent !== undefined && Parent !== '' && (typeof Parent !== 'string' || !DIGEST_RE.test(Parent))) throw bad(`${where} has an invalid Parent`);
    const configFile = archive.mustResolve(Config, 'image config');
    const { bytes, parsed } = await readConfig(archive, configFile, 'image config');
    const diffIds = parsed.rootfs.diff_ids;
    if (diffIds.length !== Layers.length) {
      throw bad(`invalid manifest, layers length mismatch: expected ${Layers.length}, got ${diffIds.length}`);
    }
    const layers = (Layers as string[]).map((l, n) => ({ file: archive.mustResolve(l, `layer ${n + 1}`), diffId: diffIds[n] }));
    const tags: string[] = [];
    for (const t of (RepoTags as string[] | null | undefined) ?? []) {
      const tag = tagOf(t);
      if (!tag) throw new InvalidParameterError(`invalid tag ${JSON.stringify(t)} in manifest.json`);
      if (!tags.includes(tag)) tags.push(tag);
    }
    images.add({ id: configFile.digest, config: bytes, parsed, layers, tags, parent: (Parent as string | undefined) || undefined });
  }
  return images.list();
}

// ---- OCI image layout: index.json ----

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, unknown>;
  platform?: Partial<Platform>;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw bad(`${where} is not a descriptor`);
  const { digest, size, mediaType } = v;
  if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) throw bad(`${where} has an invalid digest`);
  if (!digest.startsWith('sha256:')) throw bad(`${where}: unsupported digest algorithm in ${digest}`);
  if (!DIGEST_RE.test(digest)) throw bad(`${where} has an invalid digest ${JSON.stringify(digest)}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(`${where} has an invalid size`);
  if (mediaType !== undefined && typeof mediaType !== 'string') throw bad(`${where} has an invalid mediaType`);
  return v as unknown as Descriptor;
}

/** A blob of the layout, checked against its descriptor. */
function blob(archive: SpooledArchive, desc: Descriptor, what: string): SpooledFile {
  const name = `blobs/sha256/${desc.digest.slice('sha256:'.length)}`;
  const file = archive.resolve(name);
  if (!file) throw bad(`${what} ${desc.digest} is missing (no ${name} in the archive)`);
  if (file.digest !== desc.digest) throw bad(`${what} ${name} does not match its digest (its content is ${file.digest})`);
  if (file.size !== desc.size) throw bad(`${what} ${name} is ${file.size} bytes, its descriptor says ${desc.size}`);
  return file;
}

function hostPlatform(): { os: string; architecture: string } {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: map[process.arch] ?? process.arch };
}

/** The image manifests an index entry stands for: itself, or this host's image of a nested index. */
async function manifestsOf(archive: SpooledArchive, desc: Descriptor, where: string, depth: number): Promise<Descriptor[]> {
  if (desc.mediaType === undefined || MANIFEST_MEDIA_TYPES.includes(desc.mediaType)) return [desc];
  if (!INDEX_MEDIA_TYPES.includes(desc.mediaType)) return []; // artifacts and the like: not images
  if (depth >= MAX_INDEX_DEPTH) throw bad(`${where}: indexes nested too deeply`);
  const { value } = await archive.readJson<unknown>(blob(archive, desc, 'image index'), 'image index', MAX_JSON_SIZE);
  if (!isObject(value) || !Array.isArray(value['manifests'])) throw bad(`${where}: image index ${desc.digest} has no manifests`);
  const host = hostPlatform();
  const children = (value['manifests'] as unknown[]).map((m, i) => descriptor(m, `${where} manifest ${i}`));
  const fits = children.filter((c) => !c.platform || (c.platform.os === host.os && c.platform.architecture === host.architecture));
  for (const c of fits) {
    const found = await manifestsOf(archive, c, where, depth + 1);
    if (found.length) return found.slice(0, 1);
  }
  throw bad(`${where}: image index ${desc.digest} has no image for ${host.os}/${host.architecture}`);
}

/** The name an index.json entry gives its image: containerd's full name, else a ref.name that is a full reference. */
function indexTag(desc: Descriptor): string | undefined {
  const a = isObject(desc.annotations) ? desc.annotations : {};
  const full = tagOf(a[Annotations.CONTAINERD_IMAGE_NAME]);
  if (full) return full;
  // OCI's ref.name is often just a tag ("latest"); only a name with a repository can become a tag here.
  const ref = a[Annotations.REF_NAME];
  return typeof ref === 'string' && /[:/]/.test(ref) ? tagOf(ref) : undefined;
}

async function readOciLayout(archive: SpooledArchive, indexFile: SpooledFile): Promise<LoadImage[]> {
  const layoutFile = archive.resolve('oci-layout');
  if (layoutFile) {
    const { value } = await archive.readJson<unknown>(layoutFile, 'oci-layout', 4096);
    if (!isObject(value) || typeof value['imageLayoutVersion'] !== 'string') throw bad('oci-layout has no imageLayoutVersion');
  }
  const { value } = await archive.readJson<unknown>(indexFile, 'index', MAX_JSON_SIZE);
  if (!isObject(value) || (value['manifests'] !== null && !Array.isArray(value['manifests']))) throw bad('index.json has no list of manifests');
  const images = new ImageSet();
  for (const [i, m] of ((value['manifests'] as unknown[] | null) ?? []).entries()) {
    const where = `index.json entry ${i}`;
    const top = descriptor(m, where);
    const tag = indexTag(top);
    for (const mdesc of await manifestsOf(archive, top, where, 0)) {
      const { value: manifest } = await archive.readJson<unknown>(blob(archive, mdesc, 'image manifest'), 'image manifest', MAX_JSON_SIZE);
      if (!isObject(manifest) || !Array.isArray(manifest['layers'])) throw bad(`${where}: manifest ${mdesc.digest} has no layers`);
      const configFile = blob(archive, descriptor(manifest['config'], `${where} config`), 'image config');
      const { bytes, parsed } = await readConfig(archive, configFile, 'image config');
      const layerDescs = (manifest['layers'] as unknown[]).map((l, n) => descriptor(l, `${where} layer ${n + 1}`));
      const diffIds = parsed.rootfs.diff_ids;
      if (diffIds.length !== layerDescs.length) {
        throw bad(`${where}: manifest lists ${layerDescs.length} layers, its config ${diffIds.length}`);
      }
      const layers = layerDescs.map((d, n) => ({ file: blob(archive, d, `layer ${n + 1}`), diffId: diffIds[n] }));
      images.add({ id: configFile.digest, config: bytes, parsed, layers, tags: tag ? [tag] : [] });
    }
  }
  return images.list();
}

/** The images in a spooled archive, validated, with their tags. */
export async function readImageArchive(archive: SpooledArchive): Promise<ArchiveContents> {
  const manifest = archive.resolve('manifest.json');
  if (manifest) return { format: 'docker', images: await readDockerArchive(archive, manifest) };
  const index = archive.resolve('index.json');
  if (index) return { format: 'oci', images: await readOciLayout(archive, index) };
  if (archive.resolve('repositories')) throw bad('legacy image archives (before Docker 1.10, without manifest.json) are not supported');
  throw bad('neither manifest.json nor index.json found: this is not an image archive');
}
