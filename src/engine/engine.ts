// The daemon's services wired together, and the operations that span more than one of them.
import { promises as fsp, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type {
  ContainerPruneResponse,
  ContainerStatsResponse,
  ContainerSummary,
  ContainerTopResponse,
  EventMessage,
  FilesystemChange,
  ImageSummary,
  LogConfig,
  SystemDataUsageResponse,
  Ulimit,
  VersionResponse,
} from '../types/api.js';
import type { DataRootUsage } from '../types/berth.js';
import { systemInfo, versionInfo } from './system.js';
import { removeAtomicLeftovers } from '../util/fs.js';
import { LOG_DRIVERS } from './logging/drivers.js';
import { LogDrivers } from './logging/service.js';

import { ConflictError, InvalidParameterError, NotImplementedError } from '../errors.js';
import { changes as fsChanges } from '../archive/changes.js';
import { processAlive, Runtime } from '../runtime/runtime.js';
import { emptyBlkio } from '../runtime/cgroups.js';
import type { LogEntry, RuntimeName } from '../runtime/types.js';
import { Snapshotter } from '../snapshot/overlay.js';
import { ContentStore } from '../store/content.js';
import { ReferenceStore } from '../store/references.js';
import { ContainerService } from './containers/container-service.js';
import { ContainerArchive } from './containers/archive.js';
import { type ContainerRecord, isRunning } from './containers/container.js';
import { updateNetworkFiles } from './containers/bundle.js';
import { logger } from '../util/logger.js';
import { HealthMonitor } from './containers/health.js';
import { inspectView, matchesPsFilters, summaryView, validatePsFilters, type ViewContext } from './containers/views.js';
import { EventService } from './events.js';
import { ExecService } from './exec/exec-service.js';
import { filterValues, matchesLabels, parseTime, type Filters } from './filters.js';
import { psTop } from './containers/top.js';
import { applyChanges } from '../build/changes.js';
import { DEFAULT_IMAGE, defaultImageTar } from './images/default-image.js';
import { ImageService } from './images/image-service.js';
import { importConfig, ingestLayer } from './images/import.js';
import { parseImageName } from './images/names.js';
import { commitContainer, type CommitOptions } from './images/commit.js';
import { exportContainer, removeStaleViews } from './containers/export.js';
import { containerLayers, runtimeMountPoints } from './containers/rootfs-layers.js';
import { loadImages, type LoadOptions } from './images/load.js';
import { saveImages } from './images/save.js';
import path from 'node:path';
import type { AuthConfig } from '../distribution/auth.js';
import { defaultRegistryOptions, type RegistryOptions } from '../distribution/endpoint.js';
import type { ProgressSink } from '../distribution/progress.js';
import type { Reference } from '../reference/index.js';
import type { AuthResponse, DistributionInspect, SystemInfo } from '../types/api.js';
import { DistributionMetadata } from './images/distribution-metadata.js';
import { distributionInspect } from './images/distribution-inspect.js';
import { pullImage, type DistributionDeps, type PullOptions } from './images/pull.js';
import { pushImage } from './images/push.js';
import { RegistryService } from './images/registry-service.js';
import { NetworkService } from './networks/network-service.js';
import { SandboxService } from './networks/sandboxes.js';
import type { Subnet } from '../network/ipam.js';
import { LayerService } from './layers/layer-service.js';
import { type HostInfo, probeHost } from '../oci/host-info.js';
import { VolumeService } from './volumes/volume-service.js';
import { builderDir, EngineBuildBackend, removeStaleContexts } from './build-backend.js';
import { CacheMounts } from './build-cache-mounts.js';
import { dataRootUsage, systemDiskUsage, type DiskUsageSources } from './disk-usage.js';
import { openBuildSession, type BuildSession } from './build-session.js';
import type { BuildOptions } from '../build/builder.js';
import { parsePlatform } from '../util/platform.js';
import type { IdMapping } from '../util/idmap.js';

export const BERTH_VERSION = '0.1.0';

export interface EngineOptions {
  dataRoot: string;
  execRoot: string;
  runtime: RuntimeName;
  /** The runtime's binary when not found by its name (daemon.json's default-runtime from "runtimes"). */
  runtimePath?: string;
  /** Create busybox:latest from the host's busybox-static when it is missing. */
  defaultImage: boolean;
  /** The default logging driver and its options (daemon.json log-driver, log-opts). */
  logConfig?: LogConfig;
  /** daemon.json `labels`, shown in /info (SIGHUP reloads them). */
  labels?: string[];
  debug?: boolean;
  liveRestore?: boolean;
  /** daemon.json default-ulimits. */
  defaultUlimits?: Ulimit[];
  /** daemon.json runtimes: listed in /info. */
  runtimes?: Record<string, { path: string }>;
  /** Registry client settings (berthd's --insecure-registry, --registry-mirror, limits, …). */
  registry?: RegistryOptions;
  /** The default bridge (berthd --bridge, --bip) and the pools of other networks (--default-address-pool). */
  network?: { bridgeName?: string; bip?: string; pools?: { base: Subnet; size: number }[] };
  /**
   * berthd --userns-remap: containers get a user namespace with these mappings, and everything
   * under the data root (already `<root>/<uid>.<gid>`) is stored with the mapped ids.
   */
  idMapping?: IdMapping;
}

export class Engine {
  readonly version = BERTH_VERSION;
  readonly events = new EventService();
  readonly content: ContentStore;
  readonly references: ReferenceStore;
  readonly snapshots: Snapshotter;
  readonly runtime: Runtime;
  readonly images: ImageService;
  readonly containers: ContainerService;
  readonly volumes: VolumeService;
  readonly networks: NetworkService;
  readonly sandboxes: SandboxService;
  readonly exec: ExecService;
  readonly logDrivers: LogDrivers;
  /** Healthcheck probes of running containers. */
  readonly health: HealthMonitor;
  /** docker cp: stat, archive and extract paths of a container's filesystem. */
  readonly archive: ContainerArchive;
  private readonly views: ViewContext;
  readonly registries: RegistryService;
  readonly distributionMetadata: DistributionMetadata;
  /** RUN --mount=type=cache directories and who holds them (across builds). */
  private readonly cacheMounts: CacheMounts;
  /** Berth's read-only layer views (/berth/…): graph, union views, efficiency, comparison. */
  readonly layers: LayerService;
  /** The host as containers' specs need it, probed once. */
  readonly host: HostInfo = probeHost();

  constructor(readonly opts: EngineOptions) {
    this.logDrivers = new LogDrivers({
      logPath: (id) => this.containers.logPath(id),
      reopen: (id) => this.runtime.reopenLog(id),
      monitorAlive: (id) => this.monitorAlive(id),
    });
    const containerDefaults = { runtime: opts.runtime, logConfig: this.logConfig, cgroupV2: this.host.cgroupV2, ulimits: opts.defaultUlimits };
    this.content = new ContentStore(opts.dataRoot);
    this.references = new ReferenceStore(path.join(opts.dataRoot, 'metadata'));
    this.snapshots = new Snapshotter(opts.dataRoot, opts.idMapping);
    this.runtime = new Runtime({ name: opts.runtime, runtimePath: opts.runtimePath, execRoot: path.join(opts.execRoot, 'runtime') });
    this.images = new ImageService({
      root: opts.dataRoot,
      content: this.content,
      references: this.references,
      snapshots: this.snapshots,
      events: this.events,
      containersUsing: (id) => this.containers.usingImage(id),
    });
    this.volumes = new VolumeService({ root: opts.dataRoot, events: this.events, containersUsing: (name) => this.containers.usingVolume(name), owner: opts.idMapping?.root });
    this.networks = new NetworkService({ dataRoot: opts.dataRoot, events: this.events, ...opts.network });
    this.sandboxes = new SandboxService(this.networks, this.events, opts.execRoot, opts.idMapping);
    this.containers = new ContainerService({
      root: opts.dataRoot,
      execRoot: opts.execRoot,
      snapshots: this.snapshots,
      images: this.images,
      runtime: this.runtime,
      events: this.events,
      defaults: containerDefaults,
      networking: {
        endpointsForCreate: (req, hc) => this.networks.endpointsForCreate(hc, req.NetworkingConfig, req.MacAddress),
        attach: (c) => this.sandboxes.attach(c),
        release: (c, announceAfter) => this.sandboxes.release(c, announceAfter),
        restore: (c) => this.sandboxes.restore(c),
      },
      host: this.host,
      volumes: this.volumes,
      logDrivers: this.logDrivers,
    });
    this.networks.containers = this.containers;
    // connect/disconnect of a running container: its /etc/hosts and resolv.conf follow.
    const changeNetworks = async (c: ContainerRecord, change: () => Promise<void>): Promise<void> => {
      const before = this.sandboxes.etcNetwork(c);
      await change();
      await updateNetworkFiles(this.containers.containerDir(c.id), c, before, this.sandboxes.etcNetwork(c)).catch((err: Error) => logger.warn(`updating /etc/hosts and resolv.conf of ${c.id.slice(0, 12)}: ${err.message}`));
    };
    this.networks.hooks = {
      connectRunning: (c, name) => changeNetworks(c, () => this.sandboxes.connectRunning(c, name)),
      disconnectRunning: (c, name) => changeNetworks(c, () => this.sandboxes.disconnectRunning(c, name)),
      removing: (n) => this.sandboxes.keepers.remove(n),
    };
    this.registries = new RegistryService(opts.registry ?? defaultRegistryOptions());
    this.distributionMetadata = new DistributionMetadata(opts.dataRoot);
    this.cacheMounts = new CacheMounts(path.join(builderDir(opts.dataRoot), 'cache-mounts'), path.join(opts.dataRoot, 'metadata', 'build-cache'), opts.idMapping);
    this.exec = new ExecService(this.containers, this.runtime, this.snapshots, this.events);
    this.archive = new ContainerArchive(this.containers, this.events);
    this.layers = new LayerService({
      snapshots: this.snapshots,
      events: this.events,
      images: () => this.images.all(),
      resolveImage: (ref) => this.images.resolve(ref),
      repoTags: (id) => this.images.repoTags(id),
      containers: () => this.containers.all(),
      findContainer: (id) => this.containers.find(id),
      changes: (id) => this.changes(id),
    });
    this.views = {
      snapshots: this.snapshots,
      containerDir: (id) => this.containers.containerDir(id),
      logPath: (id) => this.containers.logPath(id),
      defaults: containerDefaults,
      network: (id) => this.networks.get(id),
    };
    this.health = new HealthMonitor({
      probe: (c, cmd, timeoutMs) => this.exec.probe(c.id, cmd, timeoutMs),
      persist: (c) => this.containers.saveIfPresent(c),
      emit: (c, action) => this.containers.emit(c, action),
    });
    this.events.subscribe((e) => {
      if (e.Type !== 'container') return;
      if (e.Action === 'destroy') this.exec.forgetContainer(e.Actor.ID);
      if (e.Action === 'die') void this.logDrivers.stop(e.Actor.ID);
      if (e.Action === 'destroy') this.logDrivers.forget(e.Actor.ID);
      this.followForHealth(e.Action, e.Actor.ID);
    });
  }

  /** Healthchecks follow the container's lifecycle events: probes only while it runs unpaused. */
  private followForHealth(action: string, id: string): void {
    if (action === 'destroy') {
      this.health.forget(id);
      return;
    }
    let c: ContainerRecord;
    try {
      c = this.containers.find(id);
    } catch {
      return;
    }
    if (action === 'start') this.health.start(c);
    else if (action === 'unpause') this.health.resume(c);
    else if (action === 'die' || action === 'pause') {
      const before = c.state.health?.Status;
      this.health.stop(c);
      if (before !== c.state.health?.Status) void this.containers.saveIfPresent(c);
    }
  }

  /** Whether the container's conmon still runs (a zombie does not: init may be slow to reap it). */
  private monitorAlive(id: string): boolean {
    try {
      const pid = this.containers.find(id).state.monitorPid;
      if (!pid) return false;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  }

  get logConfig(): LogConfig {
    return this.opts.logConfig ?? { Type: 'json-file', Config: {} };
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.opts.dataRoot, { recursive: true, mode: 0o711 });
    await fsp.mkdir(this.opts.execRoot, { recursive: true, mode: 0o700 });
    await removeAtomicLeftovers(this.opts.dataRoot);
    await this.content.init();
    await this.cacheMounts.init();
    await this.references.init();
    await this.snapshots.init();
    await this.runtime.init();
    await this.images.init();
    await this.distributionMetadata.init();
    await this.volumes.init();
    await this.networks.init();
    await this.sandboxes.init();
    await this.containers.init();
    await this.sandboxes.removeOrphans(this.containers.all());
    await this.images.removeOrphans(new Set(this.containers.all().map((c) => c.id)));
    for (const c of this.containers.all()) if (c.state.status === 'running') this.health.start(c);
    for (const c of this.containers.all()) await this.logDrivers.resume(c);
    await removeStaleViews(this.snapshots, this.exportViewsDir());
    await removeStaleContexts(this.opts.dataRoot);
    if (this.opts.defaultImage) await this.ensureDefaultImage();
  }

  async ensureDefaultImage(): Promise<void> {
    if (this.images.lookup(DEFAULT_IMAGE)) return;
    const { stream, created } = await defaultImageTar();
    await this.importImage(stream, { repo: 'busybox', tag: 'latest', created, message: 'busybox from the host (Debian busybox-static)', changes: ['CMD ["sh"]'] });
  }

  async importImage(
    input: Readable,
    opts: { repo?: string; tag?: string; message?: string; changes?: string[]; created?: string },
  ): Promise<string> {
    let target: string | undefined;
    if (opts.repo) {
      const name = parseImageName(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo);
      if (name.digest) throw new InvalidParameterError('cannot import digest reference');
      target = name.canonical;
    }
    const config = applyChanges({}, opts.changes ?? []);
    const image = await this.images.creating(async () => {
      const layer = await ingestLayer(this.content, this.snapshots, input, undefined);
      return this.images.create(importConfig(layer.diffId!, { message: opts.message, config, created: opts.created, source: '-' }));
    });
    if (target) await this.images.tag(image.record.id, target);
    this.events.emit('image', 'import', image.record.id, { name: image.record.id });
    return image.record.id;
  }

  /** `docker save`: the images as one archive (Docker 25+'s format), streamed from the content store. */
  saveImages(names: string[]): Promise<Readable> {
    return saveImages({ images: this.images, references: this.references, content: this.content, snapshots: this.snapshots, events: this.events }, names);
  }

  /** `docker load`: images from an archive; resolves with their ids. */
  loadImages(input: Readable, opts: LoadOptions): Promise<string[]> {
    // Layers unpacked before their image is registered must not look unused to a concurrent rmi.
    return this.images.creating(() => loadImages({ images: this.images, references: this.references, content: this.content, snapshots: this.snapshots, events: this.events }, input, opts));
  }

  private get distributionDeps(): DistributionDeps {
    return {
      content: this.content,
      snapshots: this.snapshots,
      images: this.images,
      references: this.references,
      events: this.events,
      metadata: this.distributionMetadata,
      registries: this.registries,
    };
  }

  /** POST /images/create?fromImage: progress goes to `sink` as Docker's JSON messages. */
  pullImage(ref: Reference, opts: PullOptions, sink: ProgressSink): Promise<void> {
    // Layers committed (or found present) before the image is recorded must not look unused to a concurrent rmi.
    return this.images.creating(() => pullImage(this.distributionDeps, ref, opts, sink));
  }

  pushImage(ref: Reference, auth: AuthConfig, sink: ProgressSink): Promise<void> {
    return pushImage(this.distributionDeps, ref, auth, sink);
  }

  login(auth: AuthConfig): Promise<AuthResponse> {
    return this.registries.login(auth);
  }

  distributionInspect(ref: Reference, auth: AuthConfig): Promise<DistributionInspect> {
    return distributionInspect(this.registries, ref, auth);
  }

  /**
   * POST /build: receives the context and plans the Dockerfile (errors here are the client's,
   * before any output); the session then runs the build on the engine's containers.
   */
  openBuild(context: Readable, dockerfile: string, opts: BuildOptions, auth: (registry: string) => AuthConfig, signal: AbortSignal): Promise<BuildSession> {
    return openBuildSession(this.buildBackend(auth), this.images, context, dockerfile, opts, signal);
  }

  /** POST /build/prune: the RUN --mount=type=cache directories (build steps are images here). */
  pruneBuildCache(): Promise<{ ids: string[]; reclaimed: number }> {
    return this.buildBackend(() => ({})).pruneCache();
  }

  private buildBackend(auth: (registry: string) => AuthConfig): EngineBuildBackend {
    return new EngineBuildBackend(
      {
        dataRoot: this.opts.dataRoot,
        content: this.content,
        snapshots: this.snapshots,
        images: this.images,
        containers: this.containers,
        cacheMounts: this.cacheMounts,
        pull: (ref, platform, a, sink) => this.pullImage(ref, { platform: platform ? parsePlatform(platform) : undefined, auth: a }, sink),
      },
      auth,
    );
  }

  /** Containers per image are counted only for `system df`; `/images/json` says -1 (not computed), as Docker does. */
  async listImages(opts: { all: boolean; digests: boolean; filters: Filters; countContainers?: boolean }): Promise<ImageSummary[]> {
    const list = await this.images.summaries(opts);
    if (opts.countContainers) for (const s of list) s.Containers = this.containers.usingImage(s.Id).length;
    return list;
  }

  /**
   * ps's Image, as moby's list: the reference the container was created with while it still names
   * the container's image, else the image's id (the CLI shortens it).
   */
  private imageDisplayName(imageId: string, asGiven: string): string {
    if (asGiven === imageId) return imageId;
    let found;
    try {
      found = this.images.lookup(asGiven);
    } catch {
      found = undefined;
    }
    return found?.record.id === imageId ? asGiven : imageId;
  }

  async listContainers(opts: { all: boolean; limit?: number; size: boolean; filters: Filters }): Promise<ContainerSummary[]> {
    const f = opts.filters;
    validatePsFilters(f);
    let ancestorIds: Set<string> | undefined;
    const ancestors = filterValues(f, 'ancestor');
    if (ancestors.length) {
      ancestorIds = new Set();
      for (const a of ancestors) {
        const img = this.images.lookup(a);
        if (!img) continue;
        ancestorIds.add(img.record.id);
        // Images built on top of the ancestor count too.
        for (const other of this.images.all()) {
          let p = other.record.parent;
          while (p) {
            if (p === img.record.id) ancestorIds.add(other.record.id);
            p = this.images.get(p)?.record.parent;
          }
        }
      }
    }
    const before = filterValues(f, 'before').map((r) => this.containers.find(r));
    const since = filterValues(f, 'since').map((r) => this.containers.find(r));
    const showAll = opts.all || (opts.limit !== undefined && opts.limit > 0) || filterValues(f, 'status').length > 0 || filterValues(f, 'exited').length > 0;
    // Filtered before sorting, each creation time parsed once: `ps` (and the web view's every
    // redraw) lists a few running containers out of hundreds.
    let list = this.containers.all().filter((c) => (showAll || isRunning(c)) && matchesPsFilters(c, f, ancestorIds));
    const created = new Map(list.map((c) => [c.id, Date.parse(c.created)]));
    list = list.filter((c) => before.every((b) => created.get(c.id)! < Date.parse(b.created)) && since.every((s) => created.get(c.id)! > Date.parse(s.created)));
    list.sort((a, b) => created.get(b.id)! - created.get(a.id)! || b.id.localeCompare(a.id));
    if (opts.limit !== undefined && opts.limit > 0) list = list.slice(0, opts.limit);
    return Promise.all(list.map((c) => summaryView(this.views, c, opts.size, this.imageDisplayName(c.imageId, c.image))));
  }

  async inspectContainer(idOrName: string, size: boolean) {
    return inspectView(this.views, this.containers.find(idOrName), size);
  }

  async top(idOrName: string, psArgs: string): Promise<ContainerTopResponse> {
    const c = this.containers.find(idOrName);
    if (c.state.status !== 'running' && c.state.status !== 'paused') throw new ConflictError(`Container ${c.id} is not running`);
    const pids = new Set(
      await this.runtime.pids(c.id).catch((err: Error) => {
        // It exited while being asked (a build step, a short run): not running, not a daemon fault.
        if (!isRunning(c) || !processAlive(c.state.pid)) throw new ConflictError(`Container ${c.id} is not running`);
        throw err;
      }),
    );
    return psTop(pids, psArgs);
  }

  /** `docker diff`: the runtime's mount points are not the container's changes (Docker's init layer). */
  async changes(idOrName: string): Promise<FilesystemChange[]> {
    const c = this.containers.find(idOrName);
    const layers = containerLayers(this.snapshots, c.id);
    if (!layers) return [];
    return fsChanges(layers.upper, layers.lowers, { hide: await runtimeMountPoints(layers) });
  }

  /** `docker commit`: returns the new image's id. */
  commit(opts: CommitOptions): Promise<string> {
    return commitContainer(
      {
        content: this.content,
        snapshots: this.snapshots,
        images: this.images,
        events: this.events,
        findContainer: (id) => this.containers.find(id),
        pause: (id) => this.containers.pause(id, { forCommit: true }),
        unpause: (id) => this.containers.unpause(id),
        locked: (c, fn) => this.containers.locked(c, fn),
      },
      opts,
    );
  }

  /** `docker export`: the container's flattened filesystem as a tar stream; `export` is logged once it is all sent. */
  async exportContainer(idOrName: string): Promise<Readable> {
    const c = this.containers.find(idOrName);
    const tar = await exportContainer({ snapshots: this.snapshots, viewsDir: this.exportViewsDir() }, c);
    tar.once('end', () => this.events.emit('container', 'export', c.id, { image: c.image, name: c.name, ...(c.config.Labels ?? {}) }));
    return tar;
  }

  private exportViewsDir(): string {
    return path.join(this.opts.execRoot, 'export');
  }

  logs(id: string, opts: { follow: boolean; since?: string; until?: string; tail?: number; signal?: AbortSignal }): AsyncIterable<LogEntry> {
    const c = this.containers.find(id);
    if (!this.logDrivers.keepsOutput(c)) throw new NotImplementedError('configured logging driver does not support reading');
    const ac = new AbortController();
    opts.signal?.addEventListener('abort', () => ac.abort());
    if (opts.follow) {
      // Following ends when the container stops, as `docker logs -f` does.
      const stopIfDone = (): void => {
        if (!isRunning(c)) ac.abort();
      };
      const unsubscribe = this.events.subscribe((e) => {
        if (e.Actor.ID === c.id && (e.Action === 'die' || e.Action === 'destroy')) setTimeout(() => ac.abort(), 50);
      });
      ac.signal.addEventListener('abort', unsubscribe);
      setImmediate(stopIfDone);
    }
    return this.logDrivers.read(c.id, {
      follow: opts.follow,
      since: opts.since ? new Date(parseTime(opts.since)) : undefined,
      until: opts.until ? new Date(parseTime(opts.until)) : undefined,
      tail: opts.tail,
      signal: ac.signal,
    });
  }

  async stats(id: string, twoSamples: boolean, prev?: ContainerStatsResponse): Promise<ContainerStatsResponse> {
    const c = this.containers.find(id);
    const sample = async (): Promise<Sample | undefined> => (isRunning(c) ? this.runtime.stats(c.id).catch(() => undefined) : undefined);
    // The host's namespace is not the container's to report (dockerd has no sandbox for it either).
    const withNetworks = c.hostConfig.NetworkMode !== 'host';
    let before = prev;
    if (!before && twoSamples) {
      before = toStats(c.id, c.name, await sample(), undefined, withNetworks);
      await new Promise((r) => setTimeout(r, 1000));
    }
    return toStats(c.id, c.name, await sample(), before, withNetworks);
  }

  async pruneContainers(filters: Filters): Promise<ContainerPruneResponse> {
    const deleted: string[] = [];
    let reclaimed = 0;
    const until = filterValues(filters, 'until').map(parseTime);
    for (const c of this.containers.all()) {
      if (isRunning(c)) continue;
      if (until.some((u) => Date.parse(c.created) >= u)) continue;
      if (!matchesLabels(c.config.Labels ?? {}, filters)) continue;
      const size = await this.snapshots.usage(c.id).catch(() => 0);
      await this.containers.remove(c.id, { force: false, volumes: false });
      deleted.push(c.id);
      reclaimed += size;
    }
    this.events.emit('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  eventMatcher(f: Filters): (e: EventMessage) => boolean {
    const types = filterValues(f, 'type');
    const actions = filterValues(f, 'event');
    const containers = filterValues(f, 'container');
    const images = filterValues(f, 'image');
    return (e) => {
      if (types.length && !types.includes(e.Type)) return false;
      if (actions.length && !actions.some((a) => e.Action === a || e.Action.startsWith(`${a}:`))) return false;
      if (containers.length && (e.Type !== 'container' || !containers.some((c) => e.Actor.ID.startsWith(c) || e.Actor.Attributes.name === c))) return false;
      if (images.length) {
        const img = e.Type === 'image' ? e.Actor.ID : (e.Actor.Attributes.image ?? '');
        const name = e.Actor.Attributes.name ?? '';
        if (!images.some((i) => img === i || name === i || img.startsWith(i) || (e.Type === 'image' && name.startsWith(i)))) return false;
      }
      return matchesLabels(e.Actor.Attributes, f);
    };
  }

  /** The API versions are the API layer's to say; the engine only reports them. */
  versionInfo(api: { version: string; min: string }): Promise<VersionResponse> {
    return versionInfo(api, BERTH_VERSION, this.opts.runtime);
  }

  async info(): Promise<SystemInfo> {
    const all = this.containers.all();
    return systemInfo({
      containers: {
        total: all.length,
        running: all.filter((c) => c.state.status === 'running').length,
        paused: all.filter((c) => c.state.status === 'paused').length,
        stopped: all.filter((c) => !isRunning(c)).length,
      },
      images: this.images.all().length,
      dataRoot: this.opts.dataRoot,
      runtime: this.opts.runtime,
      loggingDriver: this.logConfig.Type,
      logDrivers: LOG_DRIVERS.filter((d) => d !== 'none'),
      registry: this.registries.options,
      labels: this.opts.labels ?? [],
      debug: this.opts.debug ?? false,
      liveRestore: this.opts.liveRestore ?? true,
      runtimes: this.opts.runtimes ?? {},
      swapLimit: this.host.swapLimit,
      serverVersion: BERTH_VERSION,
      userns: !!this.opts.idMapping,
      cgroupMode: this.host.cgroupMode,
    });
  }

  /** GET /system/df, as dockerd answers it. */
  diskUsage(): Promise<SystemDataUsageResponse> {
    return systemDiskUsage(this.diskUsageSources());
  }

  /** GET /berth/system/df: Docker's categories and the rest of the data root, adding up to `du -sbx`. */
  dataRootUsage(): Promise<DataRootUsage> {
    return dataRootUsage(this.diskUsageSources());
  }

  private diskUsageSources(): DiskUsageSources {
    return {
      dataRoot: this.opts.dataRoot,
      images: async () => {
        // As dockerd: the images `docker images` lists (an untagged parent of another is left out).
        const list = await this.listImages({ all: false, digests: false, filters: new Map(), countContainers: true });
        await this.images.fillSharedSizes(list);
        return list;
      },
      layersSize: () => this.images.layersSize(),
      containers: () => this.listContainers({ all: true, size: true, filters: new Map() }),
      volumes: () => this.volumes.usage(),
      buildCache: () => this.cacheMounts.usage(),
      snapshots: () => this.snapshots.list(),
      layerBlobs: () => this.images.layerBlobs(),
    };
  }
}

type Sample = Awaited<ReturnType<Runtime['stats']>>;


/** One stats object in Docker's shape; a stopped container reads as zeros, as with dockerd. */
function toStats(id: string, name: string, s: Sample | undefined, prev: ContainerStatsResponse | undefined, withNetworks: boolean): ContainerStatsResponse {
  const zeroCpu = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  const out: ContainerStatsResponse = {
    id,
    name: `/${name}`,
    read: s ? new Date().toISOString() : '0001-01-01T00:00:00Z',
    preread: prev?.read ?? '0001-01-01T00:00:00Z',
    pids_stats: s ? { current: s.pidsCurrent, ...(s.pidsLimit > 0 ? { limit: s.pidsLimit } : {}) } : {},
    blkio_stats: s ? s.blkio : emptyBlkio(),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: s
      ? {
          cpu_usage: { total_usage: s.cpuTotalNs, ...(s.perCpuNs.length ? { percpu_usage: s.perCpuNs } : {}), usage_in_kernelmode: s.cpuSystemNs, usage_in_usermode: s.cpuUserNs },
          system_cpu_usage: s.systemCpuNs,
          online_cpus: s.onlineCpus,
          throttling_data: { periods: s.cpuPeriods, throttled_periods: s.cpuThrottledPeriods, throttled_time: s.cpuThrottledNs },
        }
      : zeroCpu,
    precpu_stats: prev?.cpu_stats ?? zeroCpu,
    memory_stats: s ? { usage: s.memoryUsage, max_usage: s.memoryMaxUsage, stats: s.memoryStats, limit: s.memoryLimit } : {},
  };
  if (s && withNetworks && Object.keys(s.networks).length > 0) out.networks = s.networks;
  return out;
}
