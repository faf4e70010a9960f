// Builds images by hand (layers, config, manifests, indexes in Docker or OCI form) and pushes
// them to a plain-http test registry with raw distribution API calls: the other side of Berth's
// client, independent of it.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { makeTar, type TarEntry } from '../harness.js';

export const sha256 = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

export interface BuiltImage {
  config: Buffer;
  configDigest: string;
  layers: { blob: Buffer; digest: string; diffId: string; mediaType: string }[];
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
}

export function buildImage(opts: { layers: TarEntry[][]; architecture?: string; os?: string; variant?: string; oci?: boolean; cmd?: string[]; gzip?: boolean }): BuiltImage {
  const oci = opts.oci ?? false;
  const layers = opts.layers.map((entries) => {
    const tar = makeTar(entries);
    const blob = opts.gzip === false ? tar : gzipSync(tar);
    const mediaType = oci ? (opts.gzip === false ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip') : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
    return { blob, digest: sha256(blob), diffId: sha256(tar), mediaType };
  });
  const configObj: Record<string, unknown> = {
    architecture: opts.architecture ?? 'amd64',
    os: opts.os ?? 'linux',
    created: '2024-01-02T03:04:05Z',
    config: { Cmd: opts.cmd ?? ['sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'test' })),
  };
  if (opts.variant) configObj['variant'] = opts.variant;
  const config = Buffer.from(JSON.stringify(configObj));
  const mediaType = oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
    }),
  );
  return { config, configDigest: sha256(config), layers, manifest, manifestDigest: sha256(manifest), mediaType };
}

export async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`start upload: ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, base);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: "PUT", body: new Uint8Array(data), headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`put blob: ${put.status} ${await put.text()}`);
  return digest;
}

export async function pushManifest(base: string, repo: string, ref: string, body: Buffer, mediaType: string): Promise<void> {
  const r = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: "PUT", body: new Uint8Array(body), headers: { 'Content-Type': mediaType } });
  if (r.status !== 201) throw new Error(`put manifest: ${r.status} ${await r.text()}`);
}

export async function pushImage(base: string, repo: string, tag: string | undefined, img: BuiltImage): Promise<void> {
  for (const l of img.layers) await pushBlob(base, repo, l.blob);
  await pushBlob(base, repo, img.config);
  await pushManifest(base, repo, tag ?? img.manifestDigest, img.manifest, img.mediaType);
}

export function buildIndex(entries: { img: BuiltImage; platform: Record<string, string> }[], oci = true): { bytes: Buffer; digest: string; mediaType: string } {
  const mediaType = oci ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((e) => ({ mediaType: e.img.mediaType, size: e.img.manifest.length, digest: e.img.manifestDigest, platform: e.platform })),
    }),
  );
  return { bytes, digest: sha256(bytes), mediaType };
}
