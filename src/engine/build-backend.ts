// The builder's backend on the engine's own services: RUN steps are ordinary containers (created,
// attached, started, waited for, committed, removed), COPY/ADD write into a temporary writable
// snapshot on the step's image that is committed the same way, and images, tags and pulls are
// the image service's. Build-cache mounts and contexts live under <data-root>/builder/.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BuildImage, BuilderBackend, CacheMountRequest, HeldCacheMount, RunOptions } from '../build/backend.js';
import type { CacheMounts } from './build-cache-mounts.js';
import { InvalidParameterError } from '../errors.js';
import { parsePlatform } from '../util/platform.js';
import type { ImageConfig } from '../oci/image-spec.js';
import { parsePullReference } from '../reference/index.js';
import type { JSONMessage } from '../types/api.js';
import { logger } from '../util/logger.js';
import type { ContainerService } from './containers/container-service.js';
import { commitSnapshotLayer } from './images/commit.js';
import type { Image } from './images/image-types.js';
import type { ImageService } from './images/image-service.js';
import type { Snapshotter } from '../snapshot/overlay.js';
import type { ContentStore } from '../store/content.js';
import type { IdMapping } from '../util/idmap.js';
import type { AuthConfig } from '../distribution/auth.js';

export interface BuildBackendDeps {
  dataRoot: string;
  content: ContentStore;
  snapshots: Snapshotter;
  images: ImageService;
  containers: ContainerService;
  cacheMounts: CacheMounts;
  pull: (ref: ReturnType<typeof parsePullReference>, platform: string | undefined, auth: AuthConfig, sink: (m: JSONMessage) => void) => Promise<void>;
}

function view(image: Image): BuildImage {
  return { id: image.record.id, config: image.config, parent: image.record.parent };
}

/** Where the builder keeps its directories; cleared of contexts at start-up. */
export function builderDir(dataRoot: string): string {
  return path.join(dataRoot, 'builder');
}

export async function removeStaleContexts(dataRoot: string): Promise<void> {
  await fsp.rm(path.join(builderDir(dataRoot), 'contexts'), { recursive: true, force: true });
}

export class EngineBuildBackend implements BuilderBackend {
  constructor(
    private readonly deps: BuildBackendDeps,
    /** Registry credentials the client sent (X-Registry-Config), by registry host. */
    private readonly auth: (registry: string) => AuthConfig = () => ({}),
  ) {}

  get ids(): IdMapping | undefined {
    return this.deps.snapshots.ids;
  }

  findImage(ref: string): BuildImage | undefined {
    try {
      const image = this.deps.images.lookup(ref);
      return image ? view(image) : undefined;
    } catch {
      return undefined;
    }
  }

  async pullImage(ref: string, platform: string | undefined, output: (line: string) => void): Promise<BuildImage> {
    const parsed = parsePullReference(ref);
    if (platform) parsePlatform(platform);
    await this.deps.pull(parsed, platform, this.auth(parsed.domain), (m) => {
      if (m.status && !m.progressDetail?.total) output(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
    });
    const image = this.findImage(parsed.toString());
    if (!image) throw new InvalidParameterError(`pull access denied for ${ref}, repository does not exist or may require 'docker login'`);
    return image;
  }

  children(parent: string): BuildImage[] {
    return this.deps.images
      .all()
      .filter((i) => (i.record.parent ?? '') === parent)
      .map(view);
  }

  async createContainer(opts: Omit<RunOptions, 'output' | 'signal'>): Promise<string> {
    const hc = opts.hostConfig;
    const res = await this.deps.containers.create(
      {
        ...opts.config,
        Image: opts.image,
        Entrypoint: opts.config.Entrypoint ?? [],
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          NetworkMode: hc.NetworkMode,
          ShmSize: hc.ShmSize,
          Memory: hc.Memory,
          MemorySwap: hc.MemorySwap,
          CpuShares: hc.CpuShares,
          CpusetCpus: hc.CpusetCpus,
          CpuPeriod: hc.CpuPeriod,
          CpuQuota: hc.CpuQuota,
          ExtraHosts: hc.ExtraHosts,
          Mounts: hc.Mounts?.map((m) => ({ Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly })),
        },
      } as never,
      undefined,
      // A metadata step of FROM scratch: a container of no image, as dockerd's builder makes.
      { fromScratch: opts.image === '' },
    );
    return res.Id;
  }

  async runContainer(id: string, output: RunOptions['output'], signal: AbortSignal): Promise<number> {
    if (signal.aborted) throw new InvalidParameterError('build cancelled');
    // The attach is connected right after the container's create, before it starts, and the
    // listeners go on as soon as it resolves (a microtask, before any output can arrive).
    const attaching = this.deps.containers.attach(id, signal).then((stream) => {
      const drained = new Promise<void>((resolve) => {
        stream.on('data', (s: 1 | 2, chunk: Buffer) => output(s, chunk));
        stream.once('end', () => resolve());
      });
      return { stream, drained };
    });
    attaching.catch(() => undefined);
    const kill = (): void => void this.deps.containers.kill(id, 'SIGKILL').catch(() => undefined);
    signal.addEventListener('abort', kill, { once: true });
    let attached: Awaited<typeof attaching> | undefined;
    try {
      await this.deps.containers.start(id);
      attached = await attaching;
      const { StatusCode } = await this.deps.containers.wait(id, 'not-running');
      await attached.drained;
      return StatusCode;
    } finally {
      signal.removeEventListener('abort', kill);
      attached?.stream.close();
    }
  }

  async commitContainer(id: string, consume: boolean): Promise<string | undefined> {
    return commitSnapshotLayer(this.deps, id, { inPlace: consume });
  }

  async removeContainer(id: string): Promise<void> {
    await this.deps.containers.remove(id, { force: true, volumes: true });
  }

  async layerOn(image: string, write: (rootfs: string) => Promise<void>): Promise<string | undefined> {
    const key = `build-${randomBytes(16).toString('hex')}`;
    await this.deps.snapshots.prepare(key, this.topLayer(image));
    try {
      await write(await this.deps.snapshots.mount(key));
      await this.deps.snapshots.unmount(key);
      return await commitSnapshotLayer(this.deps, key, { inPlace: true });
    } finally {
      await this.deps.snapshots.remove(key).catch((err: Error) => logger.warn(`build: removing ${key}: ${err.message}`));
    }
  }

  async mountImage(image: string): Promise<{ rootfs: string; release: () => Promise<void> }> {
    const key = `build-ro-${randomBytes(16).toString('hex')}`;
    await this.deps.snapshots.prepare(key, this.topLayer(image));
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await this.deps.snapshots.remove(key).catch((err: Error) => logger.warn(`build: removing ${key}: ${err.message}`));
    };
    try {
      return { rootfs: await this.deps.snapshots.mount(key), release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  private topLayer(image: string): string | undefined {
    if (!image) return undefined;
    const found = this.deps.images.get(image);
    if (!found) throw new InvalidParameterError(`No such image: ${image}`);
    return found.topLayer;
  }

  async createImage(config: ImageConfig, parent: string | undefined): Promise<BuildImage> {
    return view(await this.deps.images.create(config, parent));
  }

  async tag(id: string, ref: string): Promise<void> {
    await this.deps.images.tag(id, ref);
  }

  cacheMount(req: CacheMountRequest): Promise<HeldCacheMount> {
    return this.deps.cacheMounts.acquire(req);
  }

  pruneCache(): Promise<{ ids: string[]; reclaimed: number }> {
    return this.deps.cacheMounts.prune();
  }

  async contextDir(): Promise<string> {
    const dir = path.join(builderDir(this.deps.dataRoot), 'contexts', randomBytes(16).toString('hex'));
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }
}
