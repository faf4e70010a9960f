// The daemon's containers in memory: records by id, names, the per-container lock, and what every
// operation on them shares (exit signals, attaches waiting for a start, restart policy state).
// create.ts, lifecycle.ts, remove.ts and recovery.ts work on this table; ContainerService is their face.
import path from 'node:path';
import type { ContainerCreateRequest, HostConfig } from '../../types/api.js';
import type { EndpointRecord } from '../networks/network.js';
import type { Sandbox } from '../networks/sandboxes.js';
import { ConflictError, InvalidParameterError, noSuchContainer } from '../../errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import { MetadataStore } from '../../store/metadata.js';
import type { EventService } from '../events.js';
import type { ImageService } from '../images/image-service.js';
import type { ContainerRecord } from './container.js';
import { RestartPolicies } from './restart-manager.js';
import { PendingAttaches } from './pending-attach.js';
import { ExitSignals } from './exit-signals.js';
import type { ContainerDefaults } from './defaults.js';
import type { LogDrivers } from '../logging/service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { HostInfo } from '../../oci/host-info.js';
import { KeyedLock } from '../../util/lock.js';

/** What containers need of the network layer (the engine's networks/ services). */
export interface ContainerNetworking {
  /** Checks NetworkMode, NetworkingConfig and PortBindings at create; the container's endpoints. */
  endpointsForCreate(req: ContainerCreateRequest, hostConfig: HostConfig): Record<string, EndpointRecord>;
  /** Addresses, namespace and ports for a starting container (nothing left behind on failure). */
  attach(c: ContainerRecord): Promise<Sandbox>;
  /**
   * Undoes attach (exit, failed start, removal). Its `network disconnect` events wait for
   * `announceAfter` when given (an exit: dockerd reports `die` first).
   */
  release(c: ContainerRecord, announceAfter?: Promise<void>): Promise<void>;
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

export class ContainerTable {
  readonly records: MetadataStore<ContainerRecord>;
  readonly containers = new Map<string, ContainerRecord>();
  readonly names = new Map<string, string>();
  readonly lock = new KeyedLock();
  readonly signals = new ExitSignals();
  readonly pendingAttach = new PendingAttaches();
  /** Restart policy state per container, from one user start to the next. */
  readonly restarts = new RestartPolicies();

  constructor(readonly deps: ContainerServiceDeps) {
    this.records = new MetadataStore(path.join(deps.root, 'metadata', 'containers'));
  }

  containersDir(): string {
    return path.join(this.deps.root, 'containers');
  }

  containerDir(id: string): string {
    return path.join(this.containersDir(), id);
  }

  logPath(id: string): string {
    return path.join(this.containerDir(id), 'container.log');
  }

  bundlesDir(): string {
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

  /** Refuses a name another container holds. */
  reserveName(name: string, id: string): void {
    const holder = this.names.get(name);
    if (holder && holder !== id) {
      throw new ConflictError(
        `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
  }

  async save(c: ContainerRecord): Promise<void> {
    await this.records.put(c.id, c);
  }

  /** A container event with Docker's attributes (image, name, labels). */
  emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    // A container of no image (a build step after FROM scratch) has no image attribute, as in dockerd.
    this.deps.events.emit('container', action, c.id, { ...(c.image ? { image: c.image } : {}), name: c.name, ...(c.config.Labels ?? {}), ...extra });
  }
}
