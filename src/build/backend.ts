// What the builder needs from the engine (moby's builder.Backend): images to start from and to
// create, containers to run RUN steps in, and layers committed from a container or from a
// directory tree the builder writes into (COPY/ADD). The engine implements it on its own
// containers and commit (engine/images/build-backend.ts).
import type { ImageConfig, ImageRunConfig } from '../oci/image-spec.js';
import type { IdMapping } from '../util/idmap.js';

export interface BuildImage {
  id: string;
  config: ImageConfig;
  /** The image this one was built or committed from. */
  parent?: string;
}

export interface RunHostConfig {
  NetworkMode?: string;
  ShmSize?: number;
  Memory?: number;
  MemorySwap?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  CpuPeriod?: number;
  CpuQuota?: number;
  ExtraHosts?: string[];
  /** RUN --mount: bind and tmpfs mounts (cache mounts are binds of daemon-kept directories). */
  Mounts?: RunMount[];
}

export interface RunMount {
  Type: 'bind' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
}

export interface CacheMountRequest {
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  /** For a directory made now (BuildKit: 0755, 0, 0). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** A directory a new cache starts as a copy of (`from` and `source`), and what names it. */
  seed?: string;
  seedKey?: string;
  /** What `system df -v` says the cache is (BuildKit's "cached mount /x from exec …"). */
  description?: string;
}

export interface HeldCacheMount {
  dir: string;
  release(): void;
}

export interface RunOptions {
  /** The image the container is made from; '' for none (a metadata step of FROM scratch). */
  image: string;
  config: ImageRunConfig;
  hostConfig: RunHostConfig;
  /** The step's output, as it comes (1 stdout, 2 stderr). */
  output: (stream: 1 | 2, chunk: Buffer) => void;
  signal: AbortSignal;
}

export interface BuilderBackend {
  /** A local image by name or id, or undefined. */
  findImage(ref: string): BuildImage | undefined;
  /** Pulls an image (FROM of a missing image, or --pull); progress lines go to `output`. */
  pullImage(ref: string, platform: string | undefined, output: (line: string) => void, signal: AbortSignal): Promise<BuildImage>;
  /** Images whose parent is `parent` ('' for images without one): the cache's candidates. */
  children(parent: string): BuildImage[];
  /** Creates a container for a RUN step; returns its id. */
  createContainer(opts: Omit<RunOptions, 'output' | 'signal'>): Promise<string>;
  /** Starts it with its output attached; resolves with the exit code. Aborting kills it. */
  runContainer(id: string, output: RunOptions['output'], signal: AbortSignal): Promise<number>;
  /**
   * The container's changes as a layer: its diff id, or undefined when there are none. With
   * `consume` the container is about to be removed, so its writable layer may become the
   * committed layer in place instead of being copied.
   */
  commitContainer(id: string, consume: boolean): Promise<string | undefined>;
  removeContainer(id: string): Promise<void>;
  /**
   * Gives `write` a writable root filesystem of `image` ('' for scratch); what it changes is
   * committed as a layer (diff id, or undefined when nothing changed).
   */
  layerOn(image: string, write: (rootfs: string) => Promise<void>): Promise<string | undefined>;
  /** berthd --userns-remap: how ids are stored in layers (files a step writes are owned by the mapped ids). */
  readonly ids?: IdMapping;
  /** Mounts the root filesystem of `image` read-only (COPY --from, RUN --mount from=) until released. */
  mountImage(image: string): Promise<{ rootfs: string; release: () => Promise<void> }>;
  /** Stores an image whose layers exist (the last diff id may be one just committed). */
  createImage(config: ImageConfig, parent: string | undefined): Promise<BuildImage>;
  tag(id: string, ref: string): Promise<void>;
  /** The daemon-kept directory of a RUN --mount=type=cache (made on first use), held until released. */
  cacheMount(req: CacheMountRequest): Promise<HeldCacheMount>;
  /** Removes the build cache directories; returns the bytes freed and their ids. */
  pruneCache(): Promise<{ ids: string[]; reclaimed: number }>;
  /** Where a build keeps its context while it runs (removed after it). */
  contextDir(): Promise<string>;
}
