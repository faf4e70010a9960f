// Volumes: named or anonymous data directories that outlive containers. The service keeps each
// volume's record (labels, creation time), asks the local driver for its data, and knows which
// containers reference it (from their mount points), so that a volume in use is never removed.
import { logger } from '../../util/logger.js';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Labels, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse } from '../../types/api.js';
import { BerthError, ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import { MetadataStore } from '../../store/metadata.js';
import { KeyedLock } from '../../util/lock.js';
import { LocalDriver, validateLocalOptions, validateVolumeName } from '../../volume/local.js';
import type { EventService } from '../events.js';
import { type Filters, filterValues, matchesLabels } from '../filters.js';
import type { IdPair } from '../../util/idmap.js';

/** metadata/volumes/<name>.json */
export interface VolumeRecord {
  name: string;
  driver: 'local';
  labels: Labels;
  options: Record<string, string>;
  createdAt: string;
}

/** Docker 23+ marks the volumes it creates for a container's anonymous mounts with this label. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface VolumeServiceDeps {
  root: string;
  events: EventService;
  /** Ids of the containers whose mount points name the volume. */
  containersUsing: (name: string) => string[];
  /** berthd --userns-remap: new volumes belong to the mapped root. */
  owner?: IdPair;
}

/** Mount attributes reported in the volume's `mount` event. */
export interface VolumeMountInfo {
  container: string;
  destination: string;
  readWrite: boolean;
  propagation: string;
}

/** Prefixes a volume error with the operation, as Docker does ("create x: …"). */
function wrapped<T>(op: string, name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BerthError) err.message = `${op} ${name}: ${err.message}`;
    throw err;
  }
}

function nowRFC3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class VolumeService {
  private readonly records: MetadataStore<VolumeRecord>;
  private readonly volumes = new Map<string, VolumeRecord>();
  /** Volumes claimed by containers being created, before their records say so. */
  private readonly claims = new Map<string, Set<string>>();
  private readonly lock = new KeyedLock();
  readonly driver: LocalDriver;

  constructor(private readonly deps: VolumeServiceDeps) {
    this.records = new MetadataStore(path.join(deps.root, 'metadata', 'volumes'));
    this.driver = new LocalDriver(path.join(deps.root, 'volumes'), deps.owner);
  }

  async init(): Promise<void> {
    await Promise.all([this.records.init(), this.driver.init()]);
    for (const v of await this.records.list()) {
      this.volumes.set(v.name, v);
      // A record whose directory is gone (removed by hand) gets an empty one again rather than failing every mount.
      if (!(await this.driver.exists(v.name))) await this.driver.create(v.name, v.options);
    }
    // A create writes the directory before the record and rm drops the record first: a directory
    // without one is what a create or rm cut short left, holding nothing a container wrote.
    for (const name of await this.driver.names()) {
      if (this.volumes.has(name)) continue;
      logger.info(`removing volume directory ${name}, which has no record (an interrupted create or rm)`);
      await this.driver.remove(name);
    }
  }

  /** Checks a create request without creating anything. */
  validate(req: VolumeCreateRequest): void {
    const name = req.Name ?? '';
    wrapped('create', name, () => {
      if (name) validateVolumeName(name);
      const driver = req.Driver || 'local';
      if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
      if (!this.volumes.has(name)) validateLocalOptions(req.DriverOpts ?? {});
    });
  }

  /** Creates a volume, or returns the existing one of that name (as Docker does). */
  async create(req: VolumeCreateRequest): Promise<Volume> {
    this.validate(req);
    const name = req.Name || randomBytes(32).toString('hex');
    return this.lock.run(name, () => this.createLocked(name, req));
  }

  /**
   * create() for a container being created: the volume cannot be removed until release(), by
   * which time the container's record names it. Returns whether it was made now.
   */
  async claim(req: VolumeCreateRequest & { Name: string }, container: string): Promise<boolean> {
    this.validate(req);
    return this.lock.run(req.Name, async () => {
      const made = !this.volumes.has(req.Name);
      await this.createLocked(req.Name, req);
      const claims = this.claims.get(req.Name) ?? new Set<string>();
      claims.add(container);
      this.claims.set(req.Name, claims);
      return made;
    });
  }

  /** Ends the claims of a container: its record now references its volumes, or it was not created. */
  release(container: string): void {
    for (const [name, claims] of this.claims) {
      claims.delete(container);
      if (claims.size === 0) this.claims.delete(name);
    }
  }

  private users(name: string): string[] {
    return [...new Set([...this.deps.containersUsing(name), ...(this.claims.get(name) ?? [])])];
  }

  private async createLocked(name: string, req: VolumeCreateRequest): Promise<Volume> {
    const existing = this.volumes.get(name);
    if (existing) return this.view(existing);
    const record: VolumeRecord = { name, driver: 'local', labels: { ...(req.Labels ?? {}) }, options: { ...(req.DriverOpts ?? {}) }, createdAt: nowRFC3339() };
    await this.driver.create(name, record.options);
    try {
      await this.records.put(name, record);
    } catch (err) {
      await this.driver.remove(name).catch(() => undefined);
      throw err;
    }
    this.volumes.set(name, record);
    this.deps.events.emit('volume', 'create', name, { driver: record.driver });
    return this.view(record);
  }

  has(name: string): boolean {
    return this.volumes.has(name);
  }

  private find(name: string): VolumeRecord {
    const v = this.volumes.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  inspect(name: string): Volume {
    return this.view(this.find(name));
  }

  private view(v: VolumeRecord): Volume {
    return {
      CreatedAt: v.createdAt,
      Driver: v.driver,
      Labels: Object.keys(v.labels).length ? sortedKeys(v.labels) : null,
      Mountpoint: this.driver.path(v.name),
      Name: v.name,
      Options: Object.keys(v.options).length ? sortedKeys(v.options) : null,
      Scope: 'local',
    };
  }

  list(filters: Filters): VolumeListResponse {
    const match = volumeMatcher(filters, (name) => this.users(name).length > 0);
    const out = [...this.volumes.values()].filter(match).map((v) => this.view(v));
    return { Volumes: out, Warnings: null };
  }

  /** Removes a volume no container references; `force` only makes a missing one not an error. */
  async remove(name: string, force = false): Promise<void> {
    await this.lock.run(name, () => this.removeLocked(name, force));
  }

  private async removeLocked(name: string, force: boolean): Promise<void> {
    const v = this.volumes.get(name);
    if (!v) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.users(name);
    if (users.length) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.volumes.delete(name);
    await this.records.delete(name);
    await this.driver.remove(name);
    this.deps.events.emit('volume', 'destroy', name, { driver: v.driver });
  }

  /**
   * Removes unused volumes: anonymous ones only, unless `all` (API 1.42+; older clients always
   * pruned every unused volume). Filters: label, label!.
   */
  async prune(filters: Filters, all: boolean): Promise<VolumePruneResponse> {
    for (const key of filters.keys()) {
      if (!['label', 'label!', 'all'].includes(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
    }
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of [...this.volumes.values()]) {
      if (!all && !(ANONYMOUS_LABEL in v.labels)) continue;
      if (!matchesLabels(v.labels, filters)) continue;
      if (this.users(v.name).length) continue;
      const size = await this.driver.size(v.name);
      try {
        await this.remove(v.name);
      } catch (err) {
        if (err instanceof ConflictError) continue; // taken by a container created meanwhile
        throw err;
      }
      deleted.push(v.name);
      reclaimed += size;
    }
    this.deps.events.emit('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /** The volume's data directory, its filesystem mounted, for container `info.container`. */
  async mount(name: string, info: VolumeMountInfo): Promise<string> {
    const v = this.find(name);
    const where = await this.driver.mount(name, info.container);
    this.deps.events.emit('volume', 'mount', name, {
      container: info.container,
      destination: info.destination,
      driver: v.driver,
      propagation: info.propagation,
      'read/write': String(info.readWrite),
    });
    return where;
  }

  /** Holds the volume (its filesystem mounted) without events: a copy-up, or a running container after a daemon restart. */
  async attach(name: string, holder: string): Promise<string> {
    this.find(name);
    return this.driver.mount(name, holder);
  }

  async detach(name: string, holder: string): Promise<void> {
    await this.driver.unmount(name, holder);
  }

  async unmount(name: string, container: string): Promise<void> {
    const v = this.volumes.get(name);
    if (!v) return;
    if (!(await this.driver.unmount(name, container))) return;
    this.deps.events.emit('volume', 'unmount', name, { container, driver: v.driver });
  }

  /** Whether the volume holds nothing yet (Docker copies an image's content only into an empty one). */
  async isEmpty(name: string): Promise<boolean> {
    return this.driver.isEmpty(name);
  }

  /** For `system df`: every volume with its size and the containers referencing it. */
  async usage(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const v of this.volumes.values()) {
      out.push({ ...this.view(v), UsageData: { RefCount: this.deps.containersUsing(v.name).length, Size: await this.driver.size(v.name) } });
    }
    return out;
  }
}

/** Go marshals maps with sorted keys; clients compare the JSON. */
function sortedKeys(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const LIST_FILTERS = ['name', 'label', 'dangling', 'driver'];

/** GET /volumes filters: name (substring), label (key or key=value), dangling, driver. */
function volumeMatcher(filters: Filters, inUse: (name: string) => boolean): (v: VolumeRecord) => boolean {
  for (const key of filters.keys()) if (!LIST_FILTERS.includes(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
  const dangling = filterValues(filters, 'dangling').map((d) => {
    if (['true', '1'].includes(d)) return true;
    if (['false', '0'].includes(d)) return false;
    throw new InvalidParameterError(`Invalid filter 'dangling=[${d}]'`);
  });
  const names = filterValues(filters, 'name');
  const drivers = filterValues(filters, 'driver');
  return (v) => {
    if (names.length && !names.some((n) => v.name.includes(n))) return false;
    if (!matchesLabels(v.labels, filters)) return false;
    if (drivers.length && !drivers.includes(v.driver)) return false;
    if (dangling.length && !dangling.some((d) => d === !inUse(v.name))) return false;
    return true;
  };
}
