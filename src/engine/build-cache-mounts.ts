// RUN --mount=type=cache: directories the daemon keeps across builds (under
// <data-root>/builder/cache-mounts), shared between concurrent steps as BuildKit shares them:
// `shared` steps use the same directory at once, a `locked` step has it to itself (the others
// wait), a `private` step takes an instance nobody holds (a new, empty one if all are held).
// `mode`, `uid` and `gid` apply when a directory is made, as do `from`/`source` (its first
// contents); a cache with any of them is another cache than the plain one of the same id, since
// BuildKit keys a cache on its id and its base.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { CacheMountRequest, HeldCacheMount } from '../build/backend.js';
import { MetadataStore } from '../store/metadata.js';
import type { BuildCacheRecord } from '../types/api.js';
import { directorySize } from '../util/fs.js';
import { logger } from '../util/logger.js';
import type { IdMapping } from '../util/idmap.js';
import { runCommand } from '../util/exec.js';

/** What `system df` reports of a cache directory (BuildKit keeps the same in its cache records). */
interface CacheRecord {
  name: string;
  description: string;
  createdAt: string;
  lastUsedAt: string;
  usageCount: number;
}

/** A directory being made (`ensure`): a crash leaves it behind, never a cache. */
const MAKING = /\.new-\d+-\d+$/;

interface Instance {
  users: number;
  locked: boolean;
  waiting: (() => void)[];
}

export class CacheMounts {
  private readonly instances = new Map<string, Instance>();
  private readonly records: MetadataStore<CacheRecord>;

  constructor(
    readonly root: string,
    metadataDir: string,
    /** berthd --userns-remap: a new cache's owner is stored as its mapped (host) ids. */
    private readonly ids?: IdMapping,
  ) {
    this.records = new MetadataStore(metadataDir);
  }

  /** At start-up: directories a crash left half-made go, and so do records of caches that are gone. */
  async init(): Promise<void> {
    await this.records.init();
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    for (const n of names.filter((n) => MAKING.test(n))) {
      logger.info(`removing half-made build cache directory ${n}`);
      await fsp.rm(path.join(this.root, n), { recursive: true, force: true });
    }
    for (const r of await this.records.list()) if (!names.includes(r.name)) await this.records.delete(r.name);
  }

  /** `system df`: a record per cache directory, as BuildKit reports its cache mounts (`exec.cachemount`). */
  async usage(): Promise<BuildCacheRecord[]> {
    const out: BuildCacheRecord[] = [];
    for (const name of await fsp.readdir(this.root).catch(() => [] as string[])) {
      if (MAKING.test(name)) continue;
      const dir = path.join(this.root, name);
      const st = await fsp.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      const r = await this.records.get(name);
      const created = r?.createdAt ?? st.birthtime.toISOString();
      out.push({
        ID: name,
        Parent: '',
        Type: 'exec.cachemount',
        Description: r?.description ?? 'cached mount',
        InUse: this.instances.has(name),
        Shared: false,
        Size: await directorySize(dir).catch(() => 0),
        CreatedAt: created,
        LastUsedAt: r?.lastUsedAt ?? created,
        UsageCount: r?.usageCount ?? 1,
      });
    }
    return out;
  }

  async acquire(req: CacheMountRequest): Promise<HeldCacheMount> {
    const key = cacheKey(req);
    const name = req.sharing === 'private' ? this.freeInstance(key) : key;
    const inst = this.instance(name);
    // A locked holder has the directory alone; a locked request waits for every other holder.
    while (inst.locked || (req.sharing === 'locked' && inst.users > 0)) await new Promise<void>((r) => inst.waiting.push(r));
    inst.users++;
    if (req.sharing === 'locked') inst.locked = true;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      inst.users--;
      if (req.sharing === 'locked') inst.locked = false;
      for (const wake of inst.waiting.splice(0)) wake();
      if (inst.users === 0 && inst.waiting.length === 0) this.instances.delete(name);
    };
    try {
      const dir = await this.ensure(path.join(this.root, name), req);
      await this.used(name, req.description);
      return { dir, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private async used(name: string, description = 'cached mount'): Promise<void> {
    const now = new Date().toISOString();
    const r = (await this.records.get(name)) ?? { name, description, createdAt: now, lastUsedAt: now, usageCount: 0 };
    await this.records.put(name, { ...r, lastUsedAt: now, usageCount: r.usageCount + 1 });
  }

  /** Removes every cache directory nobody holds; returns their names and the bytes freed. */
  async prune(): Promise<{ ids: string[]; reclaimed: number }> {
    const ids: string[] = [];
    let reclaimed = 0;
    for (const n of await fsp.readdir(this.root).catch(() => [] as string[])) {
      if (this.instances.has(n)) continue;
      const dir = path.join(this.root, n);
      reclaimed += await directorySize(dir).catch(() => 0);
      await fsp.rm(dir, { recursive: true, force: true });
      await this.records.delete(n);
      ids.push(n);
    }
    return { ids, reclaimed };
  }

  private instance(name: string): Instance {
    let inst = this.instances.get(name);
    if (!inst) this.instances.set(name, (inst = { users: 0, locked: false, waiting: [] }));
    return inst;
  }

  /** The first of `key`, `key.1`, `key.2`, … that no step holds (BuildKit's private sharing). */
  private freeInstance(key: string): string {
    for (let n = 0; ; n++) {
      const name = n === 0 ? key : `${key}.${n}`;
      const inst = this.instances.get(name);
      if (!inst || (inst.users === 0 && !inst.locked)) return name;
    }
  }

  /** The directory, made (mode, owner, first contents) when it does not exist yet. */
  private async ensure(dir: string, req: CacheMountRequest): Promise<string> {
    if (await fsp.lstat(dir).then((s) => s.isDirectory(), () => false)) return dir;
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    const tmp = `${dir}.new-${process.pid}-${Date.now()}`;
    await fsp.mkdir(tmp);
    try {
      if (req.seed) await runCommand('cp', ['-a', '--reflink=auto', '--', `${req.seed}/.`, tmp]);
      if (!req.seed || req.mode !== undefined) await fsp.chmod(tmp, req.mode ?? 0o755);
      if (!req.seed || req.uid !== undefined || req.gid !== undefined) {
        const owner = { uid: req.uid ?? 0, gid: req.gid ?? 0 };
        const host = this.ids ? this.ids.toHost(owner) : owner;
        await fsp.chown(tmp, host.uid, host.gid);
      }
      await fsp.rename(tmp, dir);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      // Made meanwhile by a step of another build: use that one.
      if (!(await fsp.lstat(dir).then((s) => s.isDirectory(), () => false))) throw err;
    }
    return dir;
  }
}

/** The plain cache of an id keeps the name it always had; one with a base of its own gets another. */
function cacheKey(req: CacheMountRequest): string {
  const hash = (s: string): string => createHash('sha256').update(s).digest('hex');
  const base = { mode: req.mode, uid: req.uid, gid: req.gid, seed: req.seedKey };
  if (Object.values(base).every((v) => v === undefined)) return hash(req.id);
  return hash(JSON.stringify({ id: req.id, ...base }));
}
