// Manifests and indexes as they come off the wire: media type resolution, schema 1 refused with
// Docker's message, and every descriptor checked before anything is fetched through it.
import { InvalidParameterError, RegistryError } from '../errors.js';
import { CONFIG_MEDIA_TYPES, INDEX_MEDIA_TYPES, LAYER_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaTypes, type Descriptor, type Index, type Manifest } from '../oci/image-spec.js';

/** containerd's limit: a manifest bigger than this is not a manifest. */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

/** What we ask registries for; schema 1 is accepted only to refuse it with a clear message. */
export const ACCEPTED_MANIFEST_TYPES = [
  MediaTypes.DOCKER_MANIFEST,
  MediaTypes.DOCKER_MANIFEST_LIST,
  MediaTypes.OCI_MANIFEST,
  MediaTypes.OCI_INDEX,
  MediaTypes.DOCKER_MANIFEST_V1_SIGNED,
  MediaTypes.DOCKER_MANIFEST_V1,
];

export type ParsedManifest = { kind: 'manifest'; mediaType: string; manifest: Manifest } | { kind: 'index'; mediaType: string; index: Index };

/** moby's DeprecatedSchema1ImageError. */
export function schema1Error(ref: string): InvalidParameterError {
  return new InvalidParameterError(
    `Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of ${ref} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`,
  );
}

const MAX_BLOB_SIZE = 2 ** 46;

export function validateDescriptor(d: unknown, what: string): Descriptor {
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw new RegistryError(`invalid manifest: ${what} is not a descriptor`);
  const desc = d as Descriptor;
  if (typeof desc.digest !== 'string') throw new RegistryError(`invalid manifest: ${what} has no digest`);
  if (!/^sha256:[a-f0-9]{64}$/.test(desc.digest)) {
    if (/^sha(384|512):/.test(desc.digest)) throw new RegistryError(`invalid manifest: ${what}: unsupported digest algorithm in ${desc.digest}`);
    throw new RegistryError(`invalid manifest: ${what} has an invalid digest ${JSON.stringify(desc.digest).slice(0, 100)}`);
  }
  if (typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0 || desc.size > MAX_BLOB_SIZE) {
    throw new RegistryError(`invalid manifest: ${what} has an invalid size`);
  }
  if (desc.mediaType !== undefined && typeof desc.mediaType !== 'string') throw new RegistryError(`invalid manifest: ${what} has an invalid media type`);
  return desc;
}

/**
 * Parses manifest bytes. `ref` names the image in errors. The media type is the body's, else
 * the Content-Type; a body that says one type and a header that says another known one is refused.
 */
export function parseManifest(bytes: Buffer, contentType: string, ref: string): ParsedManifest {
  if (contentType === MediaTypes.DOCKER_MANIFEST_V1 || contentType === MediaTypes.DOCKER_MANIFEST_V1_SIGNED) throw schema1Error(ref);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new RegistryError(`invalid manifest for ${ref}: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RegistryError(`invalid manifest for ${ref}: not a JSON object`);
  if (body['schemaVersion'] === 1) throw schema1Error(ref);
  if (body['schemaVersion'] !== 2) throw new RegistryError(`invalid manifest for ${ref}: unsupported schemaVersion ${JSON.stringify(body['schemaVersion'])}`);
  const known = [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES];
  const bodyType = typeof body['mediaType'] === 'string' ? (body['mediaType'] as string) : undefined;
  if (bodyType && known.includes(contentType) && bodyType !== contentType) {
    throw new RegistryError(`invalid manifest for ${ref}: its mediaType ${bodyType} does not match the Content-Type ${contentType}`);
  }
  let mediaType = bodyType ?? (known.includes(contentType) ? contentType : undefined);
  // OCI allows the mediaType to be left out; the shape tells.
  mediaType ??= Array.isArray(body['manifests']) ? MediaTypes.OCI_INDEX : body['config'] ? MediaTypes.OCI_MANIFEST : undefined;
  if (!mediaType || !known.includes(mediaType)) {
    throw new RegistryError(`unsupported manifest media type for ${ref}: ${mediaType ?? (contentType || 'none')}`);
  }
  if (INDEX_MEDIA_TYPES.includes(mediaType)) {
    if (!Array.isArray(body['manifests'])) throw new RegistryError(`invalid manifest list for ${ref}: no manifests`);
    const manifests = (body['manifests'] as unknown[]).map((d, i) => validateDescriptor(d, `manifests[${i}]`));
    return { kind: 'index', mediaType, index: { ...(body as unknown as Index), manifests } };
  }
  const config = validateDescriptor(body['config'], 'config');
  if (!Array.isArray(body['layers'])) throw new RegistryError(`invalid manifest for ${ref}: no layers`);
  const layers = (body['layers'] as unknown[]).map((d, i) => validateDescriptor(d, `layers[${i}]`));
  if (config.mediaType && !CONFIG_MEDIA_TYPES.includes(config.mediaType)) {
    throw new InvalidParameterError(`${ref} is not a container image: its config media type is ${config.mediaType}`);
  }
  for (const l of layers) {
    if (l.mediaType && !LAYER_MEDIA_TYPES.includes(l.mediaType)) throw new InvalidParameterError(`${ref}: unsupported layer media type ${l.mediaType}`);
    if (l.urls && l.urls.length > 0 && (l.mediaType === MediaTypes.DOCKER_LAYER_FOREIGN || l.mediaType?.includes('nondistributable'))) {
      throw new InvalidParameterError(`${ref}: foreign layers (${l.digest}) are not supported`);
    }
  }
  return { kind: 'manifest', mediaType, manifest: { ...(body as unknown as Manifest), config, layers } };
}
