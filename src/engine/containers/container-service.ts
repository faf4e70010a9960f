// Containers: the daemon's face for them. The records and names live in ContainerTable; creation
// in create.ts, the life from start to exit in lifecycle.ts, removal in remove.ts, and what the
// daemon finds at start-up in recovery.ts. Small operations (rename, update, wait, resize, the
// rootfs for docker cp) are here.
import { promises as fsp } from 'node:fs';
import type { ContainerCreateRequest, ContainerCreateResponse, ContainerUpdateRequest, ContainerWaitResponse } from '../../types/api.js';
import type { IdMapping } from '../../util/idmap.js';
import { ConflictError, InvalidParameterError, noSuchContainer } from '../../errors.js';
import { applyUpdate, validateUpdate } from './update.js';
import { shortId, validateContainerName } from '../../reference/index.js';
import type { AttachStream, ExitInfo } from '../../runtime/types.js';
import { type ContainerRecord, isRunning } from './container.js';
import type { WaitCondition } from './exit-signals.js';
import { parseLinkName, withoutLink } from './links.js';
import { volumeNames } from './mount-points.js';
import { logger } from '../../util/logger.js';
import { ContainerTable, type ContainerServiceDeps } from './container-table.js';
import { ContainerLifecycle, type StopOptions } from './lifecycle.js';
import { createContainer, type CreateOptions } from './create.js';
import { removeContainer, type RemoveOptions } from './remove.js';
import { recoverContainers } from './recovery.js';

export type { ContainerNetworking, ContainerServiceDeps } from './container-table.js';
export type { WaitCondition } from './exit-signals.js';

export class ContainerService {
  private readonly t: ContainerTable;
  private readonly lifecycle: ContainerLifecycle;

  constructor(deps: ContainerServiceDeps) {
    this.t = new ContainerTable(deps);
    this.lifecycle = new ContainerLifecycle(this.t, (id) => this.remove(id, { force: false, volumes: true }));
  }

  async init(): Promise<void> {
    const t = this.t;
    await t.records.init();
    await fsp.mkdir(t.containersDir(), { recursive: true });
    for (const c of await t.records.list()) {
      t.containers.set(c.id, c);
      t.names.set(c.name, c.id);
    }
    t.deps.runtime.on('exit', (id: string, info: ExitInfo) => {
      // A record that cannot be saved (a full disk) must not take the daemon down: the state in memory is right.
      this.lifecycle.handleExit(id, info).catch((err: Error) => logger.error(`recording the exit of ${shortId(id)}: ${err.message}`));
    });
    await recoverContainers(t, this.lifecycle);
  }

  containerDir(id: string): string {
    return this.t.containerDir(id);
  }

  logPath(id: string): string {
    return this.t.logPath(id);
  }

  bundleDir(id: string): string {
    return this.t.bundleDir(id);
  }

  all(): ContainerRecord[] {
    return this.t.all();
  }

  /** Docker's lookup: full id, exact name, then a unique id prefix. */
  find(idOrName: string): ContainerRecord {
    return this.t.find(idOrName);
  }

  usingImage(imageId: string): { id: string; running: boolean }[] {
    return this.all()
      .filter((c) => c.imageId === imageId)
      .map((c) => ({ id: c.id, running: isRunning(c) }));
  }

  /** Ids of the containers whose mounts use volume `name`. */
  usingVolume(name: string): string[] {
    return this.all()
      .filter((c) => volumeNames(c).includes(name))
      .map((c) => c.id);
  }

  async save(c: ContainerRecord): Promise<void> {
    await this.t.save(c);
  }

  /** Runs `fn` under the container's lock: no start, exit, stop or removal meanwhile. */
  locked<T>(c: ContainerRecord, fn: () => Promise<T>): Promise<T> {
    return this.t.lock.run(c.id, fn);
  }

  /** Saves a record changed outside the service's own operations (health), unless it was removed meanwhile. */
  async saveIfPresent(c: ContainerRecord): Promise<void> {
    await this.t.lock.run(c.id, async () => {
      if (this.t.containers.has(c.id)) await this.t.save(c);
    });
  }

  /** A container event with Docker's attributes (image, name, labels). */
  emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.t.emit(c, action, extra);
  }

  create(req: ContainerCreateRequest, name: string | undefined, opts: CreateOptions = {}): Promise<ContainerCreateResponse> {
    return createContainer(this.t, req, name, opts);
  }

  start(idOrName: string): Promise<void> {
    return this.lifecycle.start(idOrName);
  }

  /** A stream on the container's stdio: now if it runs, else from its next start (no output lost). */
  attach(idOrName: string, signal?: AbortSignal): Promise<AttachStream> {
    return this.lifecycle.attach(idOrName, signal);
  }

  stop(idOrName: string, opts: StopOptions): Promise<void> {
    return this.lifecycle.stop(idOrName, opts);
  }

  /** Sends the signal; for SIGKILL (as dockerd) returns only once the exit is recorded. */
  kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    return this.lifecycle.kill(idOrName, signal);
  }

  restart(idOrName: string, opts: StopOptions): Promise<void> {
    return this.lifecycle.restart(idOrName, opts);
  }

  pause(idOrName: string, opts: { forCommit?: boolean } = {}): Promise<void> {
    return this.lifecycle.pause(idOrName, opts);
  }

  unpause(idOrName: string): Promise<void> {
    return this.lifecycle.unpause(idOrName);
  }

  remove(idOrName: string, opts: RemoveOptions): Promise<void> {
    return removeContainer(this.t, this.lifecycle, idOrName, opts);
  }

  /** DELETE /containers/{/parent/alias}?link=true: the parent forgets that link. */
  async removeLink(fullName: string): Promise<void> {
    const { parent, alias } = parseLinkName(fullName);
    const c = this.t.find(parent);
    await this.t.lock.run(c.id, async () => {
      c.hostConfig.Links = withoutLink(c, alias, fullName);
      await this.t.save(c);
    });
  }

  /**
   * `docker update`: limits and restart policy merged by Docker's rules, written to the cgroup of a
   * running container first (the record changes only if that worked), then recorded.
   */
  async update(idOrName: string, body: ContainerUpdateRequest): Promise<string[]> {
    const c = this.t.find(idOrName);
    const warnings = validateUpdate(body, this.t.deps.host);
    await this.t.lock.run(c.id, async () => {
      if (c.state.status === 'removing' || c.state.status === 'dead') {
        throw new ConflictError(`Cannot update container ${c.id}: container is marked for removal and cannot be "update"`);
      }
      const running = c.state.status === 'running' || c.state.status === 'paused';
      c.hostConfig = await applyUpdate({ runtime: this.t.deps.runtime, host: this.t.deps.host }, c.id, c.hostConfig, body, running);
      await this.t.save(c);
    });
    this.t.emit(c, 'update');
    return warnings;
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const c = this.t.find(idOrName);
    if (!newName) throw new InvalidParameterError('Neither old nor new names may be empty');
    validateContainerName(newName);
    const name = newName.replace(/^\//, '');
    if (name === c.name) throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
    await this.t.lock.run(c.id, async () => {
      this.t.reserveName(name, c.id);
      const old = c.name;
      this.t.names.set(name, c.id);
      c.name = name;
      try {
        await this.t.save(c);
      } catch (err) {
        c.name = old;
        this.t.names.delete(name);
        throw err;
      }
      this.t.names.delete(old);
      this.t.emit(c, 'rename', { oldName: `/${old}` });
    });
  }

  async wait(idOrName: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaitResponse> {
    const c = this.t.find(idOrName);
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    if (condition === 'not-running' && !isRunning(c)) return { StatusCode: c.state.exitCode, Error: null };
    return this.t.signals.wait(c.id, condition, c.state.exitCode, signal);
  }

  /** berthd --userns-remap: how container ids are stored on the host (docker cp shifts through it). */
  get ids(): IdMapping | undefined {
    return this.t.deps.snapshots.ids;
  }

  /**
   * Runs `fn` with the container's root filesystem mounted, under the container's lock so that
   * no start, exit, stop or removal happens meanwhile: a running container's own mount, or for a
   * stopped one a mount made for `fn` and removed after it (docker cp, archive).
   */
  async withRootfs<T>(idOrName: string, fn: (c: ContainerRecord, rootfs: string) => Promise<T>): Promise<T> {
    const c = this.t.find(idOrName);
    return this.t.lock.run(c.id, async () => {
      if (!this.t.containers.has(c.id)) throw noSuchContainer(idOrName);
      const wasMounted = isRunning(c);
      const rootfs = await this.t.deps.snapshots.mount(c.id);
      try {
        return await fn(c, rootfs);
      } finally {
        if (!wasMounted) await this.t.deps.snapshots.unmount(c.id).catch(() => undefined);
      }
    });
  }

  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const c = this.t.find(idOrName);
    if (!isRunning(c)) throw new ConflictError(`Container ${c.id} is not running`);
    await this.t.deps.runtime.resize(c.id, { height, width });
  }
}

