// Containers: the state machine (created → running ⇄ paused → exited → removed) over a writable
// snapshot and a monitored runtime process. One operation at a time per container.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContainerCreateRequest, ContainerCreateResponse, ContainerUpdateRequest, ContainerWaitResponse, HostConfig } from '../../types/api.js';
import type { EndpointRecord } from '../networks/network.js';
import type { Sandbox } from '../networks/sandboxes.js';
import type { IdMapping } from '../../util/idmap.js';
import { ConflictError, InvalidParameterError, noSuchContainer, NotFoundError, NotModifiedError } from '../../errors.js';
import { applyUpdate, validateUpdate } from './update.js';
import { removeContainerLeftovers } from './leftovers.js';
import { dockerStartError, restartingError } from './start-errors.js';
import { shortId, validateContainerName } from '../../reference/index.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { AttachStream, ExitInfo } from '../../runtime/types.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import { MetadataStore } from '../../store/metadata.js';
import { newId } from '../../util/ids.js';
import { isNoSpace } from '../../util/fs.js';
import type { EventService } from '../events.js';
import type { ImageService } from '../images/image-service.js';
import { type ContainerRecord, initialState, isRunning, ZERO_TIME } from './container.js';
import { RestartPolicies } from './restart-manager.js';
import { PendingAttaches } from './pending-attach.js';
import { ExitSignals, type WaitCondition } from './exit-signals.js';
import { mergeConfig } from './create-config.js';
import { linkEnv, parseLinkName, recordLinks, withoutLink } from './links.js';
import type { ContainerDefaults } from './defaults.js';
import type { LogDrivers } from '../logging/service.js';
import { randomName } from './names.js';
import { prepareBundle } from './bundle.js';
import { planMountPoints, volumeNames } from './mount-points.js';
import { adoptMounts, populateVolumes, releaseMounts } from './mounts.js';
import type { VolumeService } from '../volumes/volume-service.js';
import { parseSignal } from '../../oci/signals.js';
import type { HostInfo } from '../../oci/host-info.js';
import { adaptResources, validateHostConfig } from './validate-host-config.js';
import { resolveBlockIO } from '../../oci/devices.js';
import { KeyedLock } from '../../util/lock.js';
import { logger } from '../../util/logger.js';

/** What containers need of the network layer (the engine's networks/ services). */
export interface ContainerNetworking {
  /** Checks NetworkMode, NetworkingConfig and PortBindings at create; the container's endpoints. */
  endpointsForCreate(req: ContainerCreateRequest, hostConfig: HostConfig): Record<string, EndpointRecord>;
  /** Addresses, namespace and ports for a starting container (nothing left behind on failure). */
  attach(c: ContainerRecord): Promise<Sandbox>;
  /** Undoes attach (exit, failed start, removal). */
  release(c: ContainerRecord): Promise<void>;
  /** After a daemon restart, for a container that still runs. */
  restore(c: ContainerRecord): Promise<void>;
}

export interface ContainerServiceDeps {
  root: string;
  execRoot: string;
  snapshots: Snapshotter;
  images: ImageService;
  runtime: Runtime;
  events: EventService;
  /** What the daemon fills in for fields a create request leaves out. */
  defaults: ContainerDefaults;
  /** The containers' logging drivers (receivers connected before a start). */
  logDrivers: LogDrivers;
  networking: ContainerNetworking;
  /** The host, probed once when the daemon starts. */
  host: HostInfo;
  volumes: VolumeService;
}

export type { WaitCondition } from './exit-signals.js';

const DEFAULT_STOP_TIMEOUT = 10;
/** How long a SIGKILL may take to show as an exit before kill, stop or rm -f give up (dockerd: 10 s, then again). */
const KILL_WAIT_MS = 30_000;

export class ContainerService {
  private readonly records: MetadataStore<ContainerRecord>;
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly names = new Map<string, string>();
  private readonly lock = new KeyedLock();
  private readonly signals = new ExitSignals();
  private readonly pendingAttach = new PendingAttaches();
  /** Restart policy state per container, from one user start to the next. */
  private readonly restarts = new RestartPolicies();

  constructor(private readonly deps: ContainerServiceDeps) {
    this.records = new MetadataStore(path.join(deps.root, 'metadata', 'containers'));
  }

  async init(): Promise<void> {
    await this.records.init();
    await fsp.mkdir(this.containersDir(), { recursive: true });
    for (const c of await this.records.list()) {
      this.containers.set(c.id, c);
      this.names.set(c.name, c.id);
    }
    this.deps.runtime.on('exit', (id: string, info: ExitInfo) => {
      // A record that cannot be saved (a full disk) must not take the daemon down: the state in memory is right.
      this.handleExit(id, info).catch((err: Error) => logger.error(`recording the exit of ${shortId(id)}: ${err.message}`));
    });
    for (const c of this.containers.values()) {
      // One container that cannot be reconciled (its record not writable: a full disk) does not keep the daemon down.
      await this.reconcile(c).catch((err: Error) => logger.error(`reconciling ${shortId(c.id)}: ${err.message}`));
    }
    await this.removeUnknownRuntimeState();
    await removeContainerLeftovers(this.containersDir(), this.bundlesDir(), (id) => this.containers.has(id));
    // Not awaited: the daemon serves while the policy's containers come up.
    for (const c of this.containers.values()) void this.restartAtBoot(c);
  }

  /**
   * At daemon start, a stopped container whose policy wants it running is started again
   * (`always` even after a user stop, as in Docker); one that was waiting out its back-off too.
   */
  private async restartAtBoot(c: ContainerRecord): Promise<void> {
    if (c.state.status !== 'exited' || c.state.startedAt === ZERO_TIME) return;
    if (!this.restarts.of(c).restartsAtBoot(c.hostConfig.RestartPolicy, c.state.exitCode, !!c.state.stoppedByUser)) return;
    await this.lock.run(c.id, async () => {
      if (c.state.status !== 'exited' || !this.containers.has(c.id)) return;
      c.restartCount++;
      // Seen as restarting while it starts, as after a back-off.
      c.state.status = 'restarting';
      // What the last run or a start cut short by the daemon's death may have left behind.
      await this.deps.runtime.delete(c.id).catch(() => undefined);
      await this.deps.networking.release(c).catch(() => undefined);
      await this.startLocked(c);
    }).catch((err: Error) => logger.warn(`restart ${shortId(c.id)} at daemon start: ${err.message}`));
  }

  /**
   * The user stopped, killed or removed the container: no restart until its next start. One that
   * was waiting out its back-off is stopped at once. Called under the container's lock.
   */
  private async cancelRestart(c: ContainerRecord): Promise<boolean> {
    this.restarts.of(c).cancel();
    if (c.state.status !== 'restarting') return false;
    c.state = { ...c.state, status: 'exited', stoppedByUser: true };
    await this.save(c);
    return true;
  }

  /** After a daemon restart: re-adopt what still runs, record exits that happened while we were down. */
  private async reconcile(c: ContainerRecord): Promise<void> {
    if (c.state.status === 'removing') {
      await this.removeNow(c);
      return;
    }
    if (c.state.status === 'restarting') {
      // Waiting out its back-off when the daemon went away, or caught mid-restart: one that runs
      // is adopted, else restartAtBoot starts it anew.
      const state = await this.deps.runtime.state(c.id).catch(() => null);
      c.state.status = state?.status === 'running' || state?.status === 'paused' ? 'running' : 'exited';
      if (c.state.status === 'exited') return;
    }
    if (!isRunning(c)) {
      await this.undoInterruptedStart(c);
      return;
    }
    const exit = await this.deps.runtime.exitInfo(c.id);
    if (exit) {
      await this.handleExit(c.id, exit);
      return;
    }
    if (!(await this.deps.runtime.monitorAlive(c.id))) {
      if (await this.deps.runtime.hasState(c.id)) {
        // Its monitor was killed while the daemon was down: killed too, exit 137, as while it runs.
        await this.deps.runtime.takeOverLostMonitor(c.id);
        const lost = await this.deps.runtime.exitInfo(c.id);
        if (lost) await this.handleExit(c.id, lost);
        return;
      }
      // The monitor is gone without an exit file (host reboot: the exec root is a tmpfs).
      await this.handleExit(c.id, { exitCode: 255, oomKilled: false, finishedAt: new Date() }, 'container monitor lost (host reboot or runtime failure)');
      return;
    }
    const state = await this.deps.runtime.state(c.id).catch(() => null);
    c.state.status = state?.status === 'paused' ? 'paused' : 'running';
    if (state?.pid) c.state.pid = state.pid;
    if (c.state.status === 'paused' && c.state.pausedForCommit) {
      // The commit that paused it died with the daemon: its client got no image, the container runs on.
      await this.deps.runtime.resume(c.id).catch((err: Error) => logger.warn(`resuming ${shortId(c.id)} after an interrupted commit: ${err.message}`));
      c.state.status = 'running';
    }
    delete c.state.pausedForCommit;
    await this.deps.networking.restore(c);
    await adoptMounts(c, this.deps.volumes);
  }

  /**
   * A start cut short by the daemon's death (between the runtime's create and the record's save)
   * leaves a monitor, runtime state and the rootfs mount of a container recorded as not running.
   * Its client never got an answer, so the start did not happen: all of it is undone.
   */
  private async undoInterruptedStart(c: ContainerRecord): Promise<void> {
    if (await this.deps.runtime.hasState(c.id)) {
      logger.info(`undoing the interrupted start of ${shortId(c.id)}`);
      await this.deps.runtime.delete(c.id).catch((err: Error) => logger.warn(`deleting ${shortId(c.id)} from the runtime: ${err.message}`));
    }
    await this.deps.snapshots.unmount(c.id).catch(() => undefined);
    // A sandbox is recorded only with a running state; one in the record now is stale.
    if (c.sandbox) await this.deps.networking.release(c).catch(() => undefined);
  }

  /** Monitors and runtime state of containers that have no record (never saved, or removed midway). */
  private async removeUnknownRuntimeState(): Promise<void> {
    for (const id of await this.deps.runtime.knownIds()) {
      if (this.containers.has(id)) continue;
      logger.info(`removing runtime state of unknown container ${shortId(id)}`);
      await this.deps.runtime.delete(id).catch((err: Error) => logger.warn(`deleting ${shortId(id)} from the runtime: ${err.message}`));
    }
  }

  private containersDir(): string {
    return path.join(this.deps.root, 'containers');
  }

  containerDir(id: string): string {
    return path.join(this.containersDir(), id);
  }

  logPath(id: string): string {
    return path.join(this.containerDir(id), 'container.log');
  }

  private bundlesDir(): string {
    return path.join(this.deps.execRoot, 'bundles');
  }

  bundleDir(id: string): string {
    return path.join(this.bundlesDir(), id);
  }

  all(): ContainerRecord[] {
    return [...this.containers.values()];
  }

  /** Docker's lookup: full id, exact name, then a unique id prefix. */
  find(idOrName: string): ContainerRecord {
    const key = idOrName.startsWith('/') ? idOrName.slice(1) : idOrName;
    const byId = this.containers.get(key);
    if (byId) return byId;
    const byName = this.names.get(key);
    if (byName) return this.containers.get(byName)!;
    if (/^[a-f0-9]+$/.test(key) && key.length > 0) {
      const matches = [...this.containers.keys()].filter((id) => id.startsWith(key));
      if (matches.length === 1) return this.containers.get(matches[0])!;
      if (matches.length > 1) throw new InvalidParameterError(`Multiple IDs found with provided prefix: ${key}`);
    }
    throw noSuchContainer(idOrName);
  }

  usingImage(imageId: string): { id: string; running: boolean }[] {
    return this.all()
      .filter((c) => c.imageId === imageId)
      .map((c) => ({ id: c.id, running: isRunning(c) }));
  }

  async save(c: ContainerRecord): Promise<void> {
    await this.records.put(c.id, c);
  }

  /** Runs `fn` under the container's lock: no start, exit, stop or removal meanwhile. */
  locked<T>(c: ContainerRecord, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(c.id, fn);
  }

  /** Saves a record changed outside the service's own operations (health), unless it was removed meanwhile. */
  async saveIfPresent(c: ContainerRecord): Promise<void> {
    await this.lock.run(c.id, async () => {
      if (this.containers.has(c.id)) await this.save(c);
    });
  }

  /** A container event with Docker's attributes (image, name, labels). */
  emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.deps.events.emit('container', action, c.id, { image: c.image, name: c.name, ...(c.config.Labels ?? {}), ...extra });
  }

  async create(req: ContainerCreateRequest, name: string | undefined): Promise<ContainerCreateResponse> {
    if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new InvalidParameterError('invalid container config');
    if (!req.Image) throw new InvalidParameterError('No image specified');
    if (name) {
      validateContainerName(name);
      name = name.replace(/^\//, '');
    }
    const image = this.deps.images.resolve(req.Image);
    const id = newId();
    const merged = mergeConfig(req, image.config.config ?? {}, id, this.deps.defaults);
    const warnings = validateHostConfig(merged.hostConfig, this.deps.host, !!this.deps.snapshots.ids);
    adaptResources(merged.hostConfig);
    // The per-device block I/O settings name devices: refuse a bad path now, not at start.
    resolveBlockIO(merged.hostConfig);
    const networks = this.deps.networking.endpointsForCreate(req, merged.hostConfig);
    const volumes = this.deps.volumes;
    const mounts = planMountPoints(merged.config, merged.hostConfig, { validate: (r) => volumes.validate(r), path: (n) => volumes.driver.path(n) }, (n) => this.find(n));
    if (name) this.reserveName(name, id);
    else name = randomName((n) => this.names.has(n));
    merged.hostConfig.Links = recordLinks(merged.hostConfig.Links, merged.hostConfig.NetworkMode, name, (n) => this.find(n));
    this.names.set(name, id);
    const record: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString(),
      image: req.Image,
      imageId: image.record.id,
      config: merged.config,
      hostConfig: merged.hostConfig,
      path: merged.path,
      args: merged.args,
      state: initialState(),
      restartCount: 0,
      networks,
      mountPoints: mounts.points,
    };
    const madeVolumes: string[] = [];
    try {
      for (const v of mounts.volumes) if (await volumes.claim(v, id)) madeVolumes.push(v.Name);
      await fsp.mkdir(this.containerDir(id), { recursive: true, mode: 0o710 });
      await this.deps.snapshots.prepare(id, image.topLayer);
      await populateVolumes(record, volumes, async (fn) => {
        const rootfs = await this.deps.snapshots.mount(id);
        try {
          await fn(rootfs);
        } finally {
          await this.deps.snapshots.unmount(id).catch(() => undefined);
        }
      });
      await this.save(record);
    } catch (err) {
      this.names.delete(name);
      await this.deps.snapshots.remove(id).catch(() => undefined);
      await fsp.rm(this.containerDir(id), { recursive: true, force: true });
      volumes.release(id);
      for (const name of madeVolumes) await volumes.remove(name).catch(() => undefined);
      throw err;
    }
    this.containers.set(id, record);
    volumes.release(id);
    this.emit(record, 'create');
    return { Id: id, Warnings: warnings };
  }

  private reserveName(name: string, id: string): void {
    const holder = this.names.get(name);
    if (holder && holder !== id) {
      throw new ConflictError(
        `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
  }

  async start(idOrName: string): Promise<void> {
    const c = this.find(idOrName);
    try {
      await this.lock.run(c.id, async () => {
        if (c.state.status === 'paused') throw new ConflictError(`cannot start a paused container, try unpause instead`);
        if (isRunning(c)) throw new NotModifiedError(`container ${c.id} is already running`);
        if (c.state.status === 'removing' || c.state.status === 'dead') throw new ConflictError(`container ${c.id} is marked for removal and cannot be started`);
        this.restarts.reset(c);
        await this.startLocked(c);
      });
    } catch (err) {
      // As Docker does, a --rm container whose start failed is removed: `docker run --rm` waits for that.
      if ((err instanceof InvalidParameterError || err instanceof ConflictError || err instanceof NotFoundError) && c.hostConfig.AutoRemove && this.containers.has(c.id) && !isRunning(c)) {
        await this.remove(c.id, { force: false, volumes: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  private async startLocked(c: ContainerRecord): Promise<void> {
    const runtime = this.deps.runtime;
    let created = false;
    const t0 = performance.now();
    const phases: string[] = [];
    const mark = (name: string): void => {
      phases.push(`${name}=${(performance.now() - t0).toFixed(1)}ms`);
    };
    let sandbox: Sandbox | undefined;
    try {
      await this.deps.logDrivers.prepare(c);
      sandbox = await this.deps.networking.attach(c);
      mark('network');
      const rootfs = await this.deps.snapshots.mount(c.id);
      mark('mount');
      const bundle = await prepareBundle({
        container: c,
        rootfs,
        sandbox,
        bundleDir: this.bundleDir(c.id),
        containerDir: this.containerDir(c.id),
        linkEnv: linkEnv(c, (n) => this.find(n)),
        defaultUlimits: this.deps.defaults.ulimits,
        host: this.deps.host,
        volumes: this.deps.volumes,
        ids: this.deps.snapshots.ids,
        prepareSpec: (spec) => runtime.prepareSpec(spec),
      });
      mark('bundle');
      // conmon appends to the log, so output of earlier runs stays, as with Docker's json-file.
      const res = await runtime.create({
        id: c.id,
        bundle,
        logPath: this.deps.logDrivers.keepsOutput(c) ? this.logPath(c.id) : undefined,
        tty: c.config.Tty ?? false,
        openStdin: c.config.OpenStdin ?? false,
        stdinOnce: c.config.StdinOnce ?? false,
      });
      created = true;
      mark('create');
      await this.pendingAttach.connect(c.id, () => runtime.attach(c.id));
      await sandbox.ready;
      mark('network-ready');
      const startedAt = new Date().toISOString();
      await runtime.start(c.id);
      mark('start');
      c.state = {
        ...c.state,
        status: 'running',
        pid: res.pid,
        monitorPid: res.monitorPid,
        exitCode: 0,
        error: '',
        oomKilled: false,
        startedAt,
        stoppedByUser: false,
      };
      await this.save(c);
      mark('saved');
      logger.debug(`start ${shortId(c.id)}: ${phases.join(' ')}`);
    } catch (err) {
      const msg = dockerStartError((err as Error).message, c.path);
      this.pendingAttach.fail(c.id, err as Error);
      if (created) await runtime.delete(c.id).catch(() => undefined);
      await sandbox?.ready.catch(() => undefined);
      await this.deps.networking.release(c).catch(() => undefined);
      await this.deps.snapshots.unmount(c.id).catch(() => undefined);
      await releaseMounts(c, this.deps.volumes);
      c.state = { ...c.state, status: c.state.status === 'created' ? 'created' : 'exited', exitCode: 127, error: msg };
      await this.save(c);
      this.emit(c, 'die', { exitCode: '127' });
      // The network's refusals (port taken, address in use, network gone) are Docker's own words.
      if (err instanceof ConflictError || err instanceof NotFoundError) throw err;
      throw new InvalidParameterError(`failed to create task for container: ${msg}`);
    }
    this.emit(c, 'start');
  }

  /** A stream on the container's stdio: now if it runs, else from its next start (no output lost). */
  async attach(idOrName: string, signal?: AbortSignal): Promise<AttachStream> {
    const c = this.find(idOrName);
    // Decide under the lock, but never wait for the start while holding it: start takes it too.
    const waiting = await this.lock.run(c.id, async () => {
      if (c.state.status === 'running' || c.state.status === 'paused') return undefined;
      // Wrapped in an object so that the lock is released without awaiting the start.
      return { p: this.pendingAttach.add(c.id, signal) };
    });
    if (waiting) return waiting.p;
    return this.deps.runtime.attach(c.id);
  }

  private async handleExit(id: string, info: ExitInfo, error = ''): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    let restartDelay: number | undefined;
    await this.lock.run(id, async () => {
      if (c.state.status !== 'running' && c.state.status !== 'paused') return;
      // The network's teardown goes on in the background: `run --rm` need not wait for it.
      void this.deps.networking.release(c).catch((err: Error) => logger.warn(`releasing the network of ${shortId(id)}: ${err.message}`));
      await Promise.all([this.deps.runtime.delete(id).catch(() => undefined), this.deps.snapshots.unmount(id).catch(() => undefined)]);
      await releaseMounts(c, this.deps.volumes);
      const ranFor = info.finishedAt.getTime() - Date.parse(c.state.startedAt);
      restartDelay = this.restarts.of(c).shouldRestart(c.hostConfig.RestartPolicy, info.exitCode, !!c.state.stoppedByUser, ranFor);
      if (restartDelay !== undefined) c.restartCount++;
      c.state = {
        ...c.state,
        status: restartDelay === undefined ? 'exited' : 'restarting',
        pid: 0,
        monitorPid: 0,
        exitCode: info.exitCode,
        oomKilled: info.oomKilled,
        error,
        finishedAt: info.finishedAt.toISOString(),
      };
      await this.save(c).catch((err: unknown) => {
        // A full disk (the container's own writes, often): the exit is known in memory and waiters are told.
        if (!isNoSpace(err)) throw err;
        logger.error(`recording the exit of ${shortId(id)}: ${(err as Error).message}`);
      });
      if (info.oomKilled) this.emit(c, 'oom');
      this.emit(c, 'die', { exitCode: String(info.exitCode) });
    });
    this.signals.exited(id, info.exitCode);
    if (restartDelay !== undefined) this.restarts.of(c).schedule(restartDelay, () => void this.restartAfterBackoff(c));
    if (c.hostConfig.AutoRemove && this.containers.has(id)) {
      await this.remove(id, { force: false, volumes: true }).catch(() => undefined);
    }
  }

  private async restartAfterBackoff(c: ContainerRecord): Promise<void> {
    await this.lock
      .run(c.id, async () => {
        if (c.state.status !== 'restarting' || !this.containers.has(c.id)) return;
        await this.startLocked(c);
      })
      .catch((err: Error) => logger.warn(`restart ${shortId(c.id)}: ${err.message}`));
  }

  async stop(idOrName: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const c = this.find(idOrName);
    if (!isRunning(c)) throw new NotModifiedError(`container ${c.id} is already stopped`);
    await this.stopContainer(c, opts);
  }

  private async stopContainer(c: ContainerRecord, opts: { timeout?: number; signal?: string }): Promise<void> {
    const signal = opts.signal || c.config.StopSignal || 'SIGTERM';
    parseSignal(signal);
    const timeout = opts.timeout ?? c.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const exited = this.signals.waitForExit(c.id, timeout < 0 ? undefined : timeout * 1000);
    const wasRestarting = await this.lock.run(c.id, async () => {
      if (await this.cancelRestart(c)) return true;
      if (!isRunning(c)) return false;
      c.state.stoppedByUser = true;
      if (c.state.status === 'paused') {
        // A frozen process cannot act on a signal: deliver it, then thaw.
        await this.deps.runtime.kill(c.id, signal).catch(() => undefined);
        await this.deps.runtime.resume(c.id).catch(() => undefined);
      } else {
        await this.deps.runtime.kill(c.id, signal).catch(() => undefined);
      }
      return false;
    });
    if (isRunning(c) && (await exited) === undefined && isRunning(c)) {
      const killed = this.signals.waitForExit(c.id, KILL_WAIT_MS);
      await this.deps.runtime.kill(c.id, 'SIGKILL').catch(() => undefined);
      if ((await killed) === undefined && isRunning(c)) throw new ConflictError(`container ${c.id} did not exit after SIGKILL`);
    }
    this.emit(c, 'stop');
  }

  /** Sends the signal; for SIGKILL (as dockerd) returns only once the exit is recorded. */
  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    parseSignal(signal); // a bad signal is refused as it is, before the container is looked at
    try {
      await this.killContainer(idOrName, signal);
    } catch (err) {
      // dockerd's wording names the container twice: "Cannot kill container: x: No such container: x"
      if (err instanceof Error) err.message = `Cannot kill container: ${idOrName}: ${err.message}`;
      throw err;
    }
  }

  private async killContainer(idOrName: string, signal: string): Promise<void> {
    const c = this.find(idOrName);
    const sig = parseSignal(signal);
    let exited: Promise<number | undefined> | undefined;
    await this.lock.run(c.id, async () => {
      if (!isRunning(c)) throw new ConflictError(`Container ${c.id} is not running`);
      // Docker: any signal from the user counts as a manual stop; the stop signal and SIGKILL also end the policy.
      c.state.stoppedByUser = true;
      if (sig === 9 || !c.config.StopSignal || sig === parseSignal(c.config.StopSignal)) {
        if (await this.cancelRestart(c)) return;
      }
      if (c.state.status === 'restarting') return;
      if (sig === 9) {
        exited = this.signals.waitForExit(c.id, KILL_WAIT_MS);
        await this.killThawed(c, true);
      } else {
        await this.deps.runtime.kill(c.id, signal);
      }
    });
    this.emit(c, 'kill', { signal: String(sig) });
    if (exited && (await exited) === undefined && isRunning(c)) throw new ConflictError(`container ${c.id} did not exit after SIGKILL`);
  }

  /**
   * SIGKILL, then a paused container is thawed: a frozen process never acts on a signal, so
   * without the thaw `rm -f` or `kill` of a paused container would wait for an exit forever.
   */
  private async killThawed(c: ContainerRecord, throwIfGone = false): Promise<void> {
    const killed = this.deps.runtime.kill(c.id, 'SIGKILL');
    if (throwIfGone) await killed;
    else await killed.catch(() => undefined);
    if (c.state.status === 'paused') await this.deps.runtime.resume(c.id).catch(() => undefined);
  }

  async restart(idOrName: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const c = this.find(idOrName);
    // A start racing this restart can make it run again between the stop and the lock: stop again then.
    for (let attempt = 0; ; attempt++) {
      if (isRunning(c)) await this.stopContainer(c, opts);
      const started = await this.lock.run(c.id, async () => {
        if (isRunning(c) && attempt < 3) return false;
        this.restarts.reset(c);
        await this.startLocked(c);
        return true;
      });
      if (started) break;
    }
    this.emit(c, 'restart');
  }

  async pause(idOrName: string, opts: { forCommit?: boolean } = {}): Promise<void> {
    const c = this.find(idOrName);
    await this.lock.run(c.id, async () => {
      if (!isRunning(c)) throw new ConflictError(`Container ${c.id} is not running`);
      if (c.state.status === 'restarting') throw restartingError(c.id);
      if (c.state.status === 'paused') throw new ConflictError(`Container ${c.id} is already paused`);
      await this.deps.runtime.pause(c.id);
      c.state.status = 'paused';
      if (opts.forCommit) c.state.pausedForCommit = true;
      await this.save(c);
    });
    this.emit(c, 'pause');
  }

  async unpause(idOrName: string): Promise<void> {
    const c = this.find(idOrName);
    await this.lock.run(c.id, async () => {
      if (c.state.status !== 'paused') throw new ConflictError(`Container ${c.id} is not paused`);
      await this.deps.runtime.resume(c.id);
      c.state.status = 'running';
      delete c.state.pausedForCommit;
      await this.save(c);
    });
    this.emit(c, 'unpause');
  }

  /** DELETE /containers/{/parent/alias}?link=true: the parent forgets that link. */
  async removeLink(fullName: string): Promise<void> {
    const { parent, alias } = parseLinkName(fullName);
    const c = this.find(parent);
    await this.lock.run(c.id, async () => {
      c.hostConfig.Links = withoutLink(c, alias, fullName);
      await this.save(c);
    });
  }

  async remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const c = this.find(idOrName);
    if (c.state.status === 'removing') throw new ConflictError(`removal of container ${c.id} is already in progress`);
    // A restart policy may bring the container back between the kill and the removal (its own
    // exit was being handled when the kill came): kill it again, a few times at most.
    for (let attempt = 0; ; attempt++) {
      if (isRunning(c)) {
        if (!opts.force) {
          throw new ConflictError(`cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
        }
        const exited = this.signals.waitForExit(c.id, 30_000);
        const wasRestarting = await this.lock.run(c.id, () => this.cancelRestart(c));
        if (!wasRestarting) {
          c.state.stoppedByUser = true;
          await this.killThawed(c);
          await exited;
        }
      }
      const removed = await this.lock.run(c.id, async () => {
        if (!this.containers.has(c.id)) return true;
        if (isRunning(c)) {
          if (opts.force && attempt < 3) return false;
          throw new ConflictError(`cannot remove container "/${c.name}": container is running`);
        }
        const before = c.state.status;
        c.state.status = 'removing';
        await this.save(c).catch((err: unknown) => {
          // On a full disk the removal that frees space goes on without its marker (the record goes last).
          if (isNoSpace(err)) return;
          c.state.status = before;
          throw err;
        });
        await this.removeNow(c);
        return true;
      });
      if (removed) break;
    }
    if (opts.volumes) await this.removeAnonymousVolumes(c);
  }

  /** rm -v, run --rm: the container's anonymous volumes go, unless another container uses one. */
  private async removeAnonymousVolumes(c: ContainerRecord): Promise<void> {
    for (const mp of c.mountPoints ?? []) {
      if (mp.Type === 'volume' && mp.Anonymous) await this.deps.volumes.remove(mp.Name!).catch(() => undefined);
    }
  }

  /** Ids of the containers whose mounts use volume `name`. */
  usingVolume(name: string): string[] {
    return this.all()
      .filter((c) => volumeNames(c).includes(name))
      .map((c) => c.id);
  }

  private async removeNow(c: ContainerRecord): Promise<void> {
    await this.deps.runtime.delete(c.id).catch(() => undefined);
    await this.deps.networking.release(c).catch(() => undefined);
    await this.deps.snapshots.remove(c.id);
    await fsp.rm(this.containerDir(c.id), { recursive: true, force: true });
    await fsp.rm(this.bundleDir(c.id), { recursive: true, force: true });
    await this.records.delete(c.id);
    this.restarts.forget(c.id);
    this.containers.delete(c.id);
    if (this.names.get(c.name) === c.id) this.names.delete(c.name);
    this.emit(c, 'destroy');
    this.signals.removed(c.id);
  }

  /**
   * `docker update`: limits and restart policy merged by Docker's rules, written to the cgroup of a
   * running container first (the record changes only if that worked), then recorded.
   */
  async update(idOrName: string, body: ContainerUpdateRequest): Promise<string[]> {
    const c = this.find(idOrName);
    const warnings = validateUpdate(body, this.deps.host);
    await this.lock.run(c.id, async () => {
      if (c.state.status === 'removing' || c.state.status === 'dead') {
        throw new ConflictError(`Cannot update container ${c.id}: container is marked for removal and cannot be "update"`);
      }
      const running = c.state.status === 'running' || c.state.status === 'paused';
      c.hostConfig = await applyUpdate({ runtime: this.deps.runtime, host: this.deps.host }, c.id, c.hostConfig, body, running);
      await this.save(c);
    });
    this.emit(c, 'update');
    return warnings;
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const c = this.find(idOrName);
    if (!newName) throw new InvalidParameterError('Neither old nor new names may be empty');
    validateContainerName(newName);
    const name = newName.replace(/^\//, '');
    if (name === c.name) throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
    await this.lock.run(c.id, async () => {
      this.reserveName(name, c.id);
      const old = c.name;
      this.names.set(name, c.id);
      c.name = name;
      try {
        await this.save(c);
      } catch (err) {
        c.name = old;
        this.names.delete(name);
        throw err;
      }
      this.names.delete(old);
      this.emit(c, 'rename', { oldName: `/${old}` });
    });
  }

  async wait(idOrName: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaitResponse> {
    const c = this.find(idOrName);
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    if (condition === 'not-running' && !isRunning(c)) return { StatusCode: c.state.exitCode, Error: null };
    return this.signals.wait(c.id, condition, c.state.exitCode, signal);
  }

  /**
   * Runs `fn` with the container's root filesystem mounted, under the container's lock so that
   * no start, exit, stop or removal happens meanwhile: a running container's own mount, or for a
   * stopped one a mount made for `fn` and removed after it (docker cp, archive).
   */
  /** berthd --userns-remap: how container ids are stored on the host (docker cp shifts through it). */
  get ids(): IdMapping | undefined {
    return this.deps.snapshots.ids;
  }

  async withRootfs<T>(idOrName: string, fn: (c: ContainerRecord, rootfs: string) => Promise<T>): Promise<T> {
    const c = this.find(idOrName);
    return this.lock.run(c.id, async () => {
      if (!this.containers.has(c.id)) throw noSuchContainer(idOrName);
      const wasMounted = isRunning(c);
      const rootfs = await this.deps.snapshots.mount(c.id);
      try {
        return await fn(c, rootfs);
      } finally {
        if (!wasMounted) await this.deps.snapshots.unmount(c.id).catch(() => undefined);
      }
    });
  }

  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const c = this.find(idOrName);
    if (!isRunning(c)) throw new ConflictError(`Container ${c.id} is not running`);
    await this.deps.runtime.resize(c.id, { height, width });
  }
}

