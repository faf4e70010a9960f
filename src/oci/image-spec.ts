// Types for the OCI image specification (and the Docker image manifest v2 schema 2 it grew from):
// the image config JSON, descriptors, manifests and indexes, plus their media types.

// ---- media types ----

export const MediaTypes = {
  // OCI
  OCI_DESCRIPTOR: 'application/vnd.oci.descriptor.v1+json',
  OCI_LAYOUT_HEADER: 'application/vnd.oci.layout.header.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_NONDISTRIBUTABLE: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OCI_LAYER_NONDISTRIBUTABLE_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OCI_LAYER_NONDISTRIBUTABLE_ZSTD: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  // Docker v2 schema 2
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER: 'application/vnd.docker.image.rootfs.diff.tar',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_LAYER_FOREIGN: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DOCKER_PLUGIN_CONFIG: 'application/vnd.docker.plugin.v1+json',
  // Docker v2 schema 1 (legacy, only to recognise and refuse it)
  DOCKER_MANIFEST_V1: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_MANIFEST_V1_SIGNED: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type MediaType = (typeof MediaTypes)[keyof typeof MediaTypes];

export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST];
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST];
export const CONFIG_MEDIA_TYPES: readonly string[] = [MediaTypes.OCI_CONFIG, MediaTypes.DOCKER_CONFIG];
export const LAYER_MEDIA_TYPES: readonly string[] = [
  MediaTypes.OCI_LAYER,
  MediaTypes.OCI_LAYER_GZIP,
  MediaTypes.OCI_LAYER_ZSTD,
  MediaTypes.OCI_LAYER_NONDISTRIBUTABLE,
  MediaTypes.OCI_LAYER_NONDISTRIBUTABLE_GZIP,
  MediaTypes.OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
  MediaTypes.DOCKER_LAYER,
  MediaTypes.DOCKER_LAYER_GZIP,
  MediaTypes.DOCKER_LAYER_FOREIGN,
];

/** Annotation keys defined by the OCI image spec that Berth reads or writes. */
export const Annotations = {
  REF_NAME: 'org.opencontainers.image.ref.name',
  CREATED: 'org.opencontainers.image.created',
  BASE_NAME: 'org.opencontainers.image.base.name',
  BASE_DIGEST: 'org.opencontainers.image.base.digest',
  // containerd / docker use this for the full reference in OCI layouts
  CONTAINERD_IMAGE_NAME: 'io.containerd.image.name',
} as const;

// ---- content descriptors ----

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  /** "sha256:<hex>" */
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** oci-layout file at the root of an OCI image layout. */
export interface ImageLayout {
  imageLayoutVersion: '1.0.0';
}

// ---- image config ----

export interface ImageHealthcheck {
  Test?: string[];
  /** Nanoseconds. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The "config" member of the image JSON: the container defaults the image carries. */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  // Docker extensions (not in the OCI spec but present in images Docker builds)
  Healthcheck?: ImageHealthcheck;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  // Legacy Docker fields some images still carry
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
}

export interface RootFS {
  type: 'layers';
  /** Uncompressed layer digests, bottom first. */
  diff_ids: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image JSON (application/vnd.oci.image.config.v1+json or the Docker equivalent). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ImageRunConfig;
  rootfs: RootFS;
  history?: HistoryEntry[];
  // Docker extensions
  container?: string;
  container_config?: ImageRunConfig;
  docker_version?: string;
  comment?: string;
  parent?: string;
  id?: string;
}
