// `docker save`'s archive, as Docker 25+ writes it: an OCI image layout (oci-layout, index.json,
// blobs/sha256/…) that also carries manifest.json and repositories, so Docker before 25 and
// skopeo's docker-archive reader load it too. Entries, their order, contents and mtimes follow
// dockerd's (moby image/tarexport/save.go), so the same images give the same bytes.
import { createHash } from 'node:crypto';
import { SystemError } from '../../errors.js';
import { Annotations, MediaTypes } from '../../oci/image-spec.js';
import { parseReference } from '../../reference/index.js';
import { goMap, goMarshal, unixSeconds } from './go-json.js';
import { legacyLayerConfigs } from './legacy-v1.js';
import { END_OF_ARCHIVE, outerHeader, padding } from './tar-header.js';

export interface SaveLayer {
  /** sha256 of the uncompressed layer tar; the blob is stored (and saved) under this digest. */
  diffId: string;
  size: number;
}

export interface SaveImage {
  /** The image id: the config blob's digest. */
  id: string;
  /** The config blob, byte for byte. */
  config: Buffer;
  layers: SaveLayer[];
  /** Canonical tagged references ("docker.io/library/busybox:latest"), in the order to write them. */
  tags: string[];
  /** Id of the image's parent when that image is saved too (manifest.json's Parent). */
  parent?: string;
}

export type ArchiveEntry =
  | { name: string; type: 'dir'; mtime: number }
  | { name: string; type: 'file'; mtime: number; size: number; data: Buffer }
  | { name: string; type: 'file'; mtime: number; size: number; blob: string };

const OCI_LAYOUT = '{"imageLayoutVersion": "1.0.0"}';
const BLOBS = 'blobs/sha256';

const sha256Hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : `sha256:${sha256Hex(`${out[out.length - 1]} ${d}`)}`);
  return out;
}

interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, { mediaType: string; digest: string; size: number }>;
}

/** What goes into the archive, in archive order. Blobs are named; their bytes come from the store. */
export function saveLayout(images: SaveImage[]): ArchiveEntry[] {
  const blobs = new Map<string, ArchiveEntry>();
  // A blob written for an earlier image keeps that image's time, as dockerd skips it the second time.
  const addData = (data: Buffer, mtime: number): string => {
    const hex = sha256Hex(data);
    if (!blobs.has(hex)) blobs.set(hex, { name: `${BLOBS}/${hex}`, type: 'file', mtime, size: data.length, data });
    return hex;
  };
  const manifest: ManifestItem[] = [];
  const index: object[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  let blobsDirTime = 0;
  const saved = new Set(images.map((i) => i.id));

  for (const image of images) {
    if (image.layers.length === 0) throw new SystemError(`empty export - not implemented`);
    const config = JSON.parse(image.config.toString('utf8')) as Record<string, unknown>;
    const ts = unixSeconds(typeof config['created'] === 'string' ? config['created'] : undefined);
    const diffIds = image.layers.map((l) => l.diffId);
    for (const legacy of legacyLayerConfigs(config, chainIds(diffIds))) addData(legacy.json, ts);
    for (const l of image.layers) {
      const hex = hexOf(l.diffId);
      if (!blobs.has(hex)) blobs.set(hex, { name: `${BLOBS}/${hex}`, type: 'file', mtime: ts, size: l.size, blob: l.diffId });
    }
    addData(image.config, ts);
    blobsDirTime = ts;

    const layerDescs = image.layers.map((l) => ({ mediaType: MediaTypes.OCI_LAYER, digest: l.diffId, size: l.size }));
    const ociManifest = Buffer.from(
      goMarshal({
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        config: { mediaType: MediaTypes.OCI_CONFIG, digest: image.id, size: image.config.length },
        layers: layerDescs,
      }),
    );
    const manifestHex = addData(ociManifest, 0);
    const desc = { mediaType: MediaTypes.OCI_MANIFEST, digest: `sha256:${manifestHex}`, size: ociManifest.length };

    const repoTags: string[] = [];
    for (const tag of image.tags) {
      const ref = parseReference(tag);
      (repositories[ref.familiarName] ??= {})[ref.tag!] = hexOf(diffIds[diffIds.length - 1]);
      repoTags.push(ref.familiarString);
      index.push({ ...desc, annotations: goMap({ [Annotations.CONTAINERD_IMAGE_NAME]: ref.toString(), [Annotations.REF_NAME]: ref.tag! }) });
    }
    // Untagged images (saved by id) are listed too, without names.
    if (image.tags.length === 0) index.push(desc);

    const item: ManifestItem = { Config: `${BLOBS}/${hexOf(image.id)}`, RepoTags: repoTags.length ? repoTags : null, Layers: diffIds.map((d) => `${BLOBS}/${hexOf(d)}`) };
    if (image.parent && saved.has(image.parent) && image.parent !== image.id) item.Parent = image.parent;
    item.LayerSources = goMap(Object.fromEntries(layerDescs.map((d) => [d.digest, d])));
    manifest.push(item);
  }

  const entries: ArchiveEntry[] = [];
  if (blobs.size > 0) {
    entries.push({ name: 'blobs', type: 'dir', mtime: blobsDirTime }, { name: BLOBS, type: 'dir', mtime: 0 });
    for (const hex of [...blobs.keys()].sort()) entries.push(blobs.get(hex)!);
  }
  const file = (name: string, text: string): ArchiveEntry => {
    const data = Buffer.from(text);
    return { name, type: 'file', mtime: 0, size: data.length, data };
  };
  entries.push(file('index.json', goMarshal({ schemaVersion: 2, mediaType: MediaTypes.OCI_INDEX, manifests: index.length ? index : null })));
  entries.push(file('manifest.json', goMarshal(manifest.length ? manifest : null) + '\n'));
  entries.push(file('oci-layout', OCI_LAYOUT));
  if (Object.keys(repositories).length > 0) {
    const repos = goMap(Object.fromEntries(Object.entries(repositories).map(([k, v]) => [k, goMap(v)])));
    entries.push(file('repositories', goMarshal(repos) + '\n'));
  }
  return entries;
}

/** The archive's bytes: headers, contents (blobs read through `openBlob`), padding, end marker. */
export async function* writeArchive(entries: ArchiveEntry[], openBlob: (digest: string) => AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for (const e of entries) {
    yield outerHeader({ name: e.name, type: e.type, size: e.type === 'file' ? e.size : 0, mtime: e.mtime });
    if (e.type === 'dir') continue;
    if ('data' in e) {
      yield e.data;
    } else {
      let n = 0;
      for await (const chunk of openBlob(e.blob)) {
        n += chunk.length;
        if (n > e.size) break;
        yield chunk;
      }
      // A blob that changed size under us would corrupt every entry after it.
      if (n !== e.size) throw new SystemError(`blob ${e.blob} changed while it was being saved (${n} bytes, expected ${e.size})`);
    }
    yield padding(e.size);
  }
  yield END_OF_ARCHIVE;
}
