// docker cp's daemon side: stat, archive and extract a path of a container's filesystem, as
// moby's containerStatPath / containerArchivePath / containerExtractToDir do.
//
// The container's root filesystem (its live mount when running, a mount made for the operation
// when stopped; see ContainerService.withRootfs) is opened as a Root with the container's bind
// mounts and /etc files laid over it, so a path means what it means inside the container: a
// symlink to /etc is the container's /etc, never the host's, and /data in a `-v /srv:/data`
// container is /srv. tmpfs mounts live only in the container's mount namespace; as with Docker,
// copying sees (and writes) the directory underneath them instead.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ContainerPathStat } from '../../types/api.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import { extractArchive } from '../../archive/extract.js';
import { packResource } from '../../archive/resource.js';
import { ResolveError, Root, type Dir, type RootMount } from '../../archive/root.js';
import { parseGroup, parsePasswd } from '../../oci/user.js';
import type { EventService } from '../events.js';
import type { ContainerRecord } from './container.js';
import type { ContainerService } from './container-service.js';

/** Go's os.FileMode bits. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHAR_DEVICE = 2 ** 21;
const MODE_STICKY = 2 ** 20;
const MODE_IRREGULAR = 2 ** 19;

const MAX_USER_FILE = 16 * 1024 * 1024;

interface StatLike {
  mode: number | bigint;
}

/** A stat's mode as Go's os.FileMode (what the docker CLI decodes from the stat header). */
export function goFileMode(st: StatLike): number {
  const raw = Number(st.mode);
  let m = raw & 0o777;
  switch (raw & 0o170000) {
    case 0o040000: m += MODE_DIR; break;
    case 0o120000: m += MODE_SYMLINK; break;
    case 0o060000: m += MODE_DEVICE; break;
    case 0o020000: m += MODE_DEVICE + MODE_CHAR_DEVICE; break;
    case 0o010000: m += MODE_NAMED_PIPE; break;
    case 0o140000: m += MODE_SOCKET; break;
    case 0o100000: break;
    default: m += MODE_IRREGULAR;
  }
  if (raw & 0o4000) m += MODE_SETUID;
  if (raw & 0o2000) m += MODE_SETGID;
  if (raw & 0o1000) m += MODE_STICKY;
  return m;
}

/** Go's time.Time JSON (RFC 3339 with trailing-zero-free nanoseconds) in the daemon's zone. */
export function goTime(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const d = new Date(Number(secs) * 1000);
  const offMin = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offMin * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  let s = `${p(local.getUTCFullYear(), 4)}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())}T${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}`;
  if (frac > 0n) s += `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  if (offMin === 0) return `${s}Z`;
  const a = Math.abs(offMin);
  return `${s}${offMin < 0 ? '-' : '+'}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}

/** Go's filepath.Base. */
function baseName(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** moby's PreserveTrailingDotOrSeparator applied to Join("/", p). */
function absContainerPath(p: string): string {
  let abs = path.posix.join('/', p);
  const dot = baseName(p) === '.';
  if (dot && baseName(abs) !== '.') abs += abs.endsWith('/') ? '.' : '/.';
  if (!abs.endsWith('/') && p.endsWith('/')) abs += '/';
  return abs;
}

/** Whether a path names a directory by its form ("dir/", "dir/."). */
function assertsDirectory(p: string): boolean {
  return p.endsWith('/') || baseName(p) === '.';
}

/** The mounts a copy sees: binds, volumes and the container's /etc files, as Docker's view lays them out. */
function mountsOf(c: ContainerRecord, containerDir: string): RootMount[] {
  const hc = c.hostConfig;
  const out: RootMount[] = [];
  for (const mp of c.mountPoints ?? []) {
    if (mp.Type !== 'tmpfs' && existsSync(mp.Source)) out.push({ destination: mp.Destination, source: mp.Source, readOnly: !mp.RW });
  }
  const taken = new Set(out.map((m) => m.destination));
  for (const [dest, file] of [
    ['/etc/resolv.conf', 'resolv.conf'],
    ['/etc/hostname', 'hostname'],
    ['/etc/hosts', 'hosts'],
  ] as const) {
    const source = path.join(containerDir, file);
    if (!taken.has(dest) && existsSync(source)) out.push({ destination: dest, source, readOnly: !!hc.ReadonlyRootfs });
  }
  return out;
}

export interface ExtractRequest {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

export class ContainerArchive {
  constructor(
    private readonly containers: ContainerService,
    private readonly events: EventService,
  ) {}

  private emit(c: ContainerRecord, action: string): void {
    this.events.emit('container', action, c.id, { image: c.image, name: c.name, ...(c.config.Labels ?? {}) });
  }

  /** Runs fn on the container's filesystem view; ENOENT becomes Docker's "Could not find the file". */
  private async withRoot<T>(idOrName: string, reqPath: string, fn: (root: Root, c: ContainerRecord) => Promise<T>): Promise<T> {
    if (reqPath.includes('\0')) throw new InvalidParameterError('invalid path: contains a NUL byte');
    return this.containers.withRootfs(idOrName, async (c, rootfs) => {
      const root = Root.open(rootfs, {
        readOnly: !!c.hostConfig.ReadonlyRootfs,
        mounts: mountsOf(c, this.containers.containerDir(c.id)),
        createMountPoints: true,
        owner: this.containers.ids?.root,
      });
      try {
        return await fn(root, c);
      } catch (e) {
        throw this.pathError(e, reqPath, idOrName);
      } finally {
        root.close();
      }
    });
  }

  private pathError(e: unknown, reqPath: string, idOrName: string): unknown {
    if (e instanceof ResolveError) {
      if (e.code === 'ENOENT') return new NotFoundError(`Could not find the file ${reqPath} in container ${idOrName}`);
      if (e.code === 'ENOTDIR') return new InvalidParameterError(`lstat ${e.path}: not a directory`);
      if (e.code === 'ELOOP') return new InvalidParameterError(`${e.path}: too many levels of symbolic links`);
      if (e.code === 'EBUSY') return new ConflictError(e.message);
      return new InvalidParameterError(e.message);
    }
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') return new NotFoundError(`Could not find the file ${reqPath} in container ${idOrName}`);
    return e;
  }

  /** Where a request path points: a directory and a name in it ("" for the directory itself). */
  private locate(root: Root, reqPath: string): { dir: Dir; name: string } {
    const abs = absContainerPath(reqPath);
    if (assertsDirectory(abs)) return { dir: root.resolveDir(abs.split('/'), root.root), name: '' };
    const loc = root.resolve(abs, root.root, false);
    if (loc.name !== '' && !root.lookup(loc.dir, loc.name)) {
      throw new ResolveError('ENOENT', abs, `${abs} does not exist`);
    }
    return loc;
  }

  private statOf(root: Root, reqPath: string, loc: { dir: Dir; name: string }): ContainerPathStat {
    const st = root.lstatBig(loc.dir, loc.name);
    const mode = goFileMode(st);
    return {
      name: baseName(reqPath),
      size: Number(st.size),
      mode,
      mtime: goTime(st.mtimeNs),
      // Fully evaluated inside the container (moby's FollowSymlinkInScope), not the raw target.
      linkTarget: st.isSymbolicLink() ? root.evalSymlinks(absContainerPath(reqPath)) : '',
    };
  }

  /** HEAD /containers/{id}/archive */
  async stat(idOrName: string, reqPath: string): Promise<ContainerPathStat> {
    return this.withRoot(idOrName, reqPath, async (root) => this.statOf(root, reqPath, this.locate(root, reqPath)));
  }

  /**
   * GET /containers/{id}/archive: `consume` gets the stat and the tar stream and resolves when it
   * has sent it; the container stays locked (and, if stopped, mounted) until then.
   */
  async archive(idOrName: string, reqPath: string, consume: (stat: ContainerPathStat, tar: Readable) => Promise<void>): Promise<void> {
    await this.withRoot(idOrName, reqPath, async (root, c) => {
      const abs = absContainerPath(reqPath);
      const loc = this.locate(root, abs);
      const stat = this.statOf(root, abs, loc);
      const tar = packResource(root, loc.dir, loc.name, baseName(abs), { ids: this.containers.ids });
      this.emit(c, 'archive-path');
      try {
        await consume(stat, tar);
      } finally {
        tar.destroy();
      }
    });
  }

  /** PUT /containers/{id}/archive: extracts a tar into the directory `reqPath` names. */
  async extract(idOrName: string, reqPath: string, body: Readable, req: ExtractRequest): Promise<void> {
    await this.withRoot(idOrName, reqPath, async (root, c) => {
      // The destination may itself be a symlink to a directory: everything is followed.
      const loc = root.resolve(absContainerPath(reqPath), root.root, true);
      let dir: Dir;
      if (loc.name === '') dir = loc.dir;
      else {
        const ent = root.lookup(loc.dir, loc.name);
        if (!ent) throw new ResolveError('ENOENT', reqPath, `${reqPath} does not exist`);
        if (!ent.st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
        dir = root.resolveDir([loc.name], loc.dir);
      }
      if (dir.readOnly) {
        throw new InvalidParameterError(dir.inMount ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only');
      }
      const chown = req.copyUIDGID ? this.containerUser(root, c.config.User ?? '') : undefined;
      await extractArchive(body, root, dir, { noOverwriteDirNonDir: req.noOverwriteDirNonDir, chown, ids: this.containers.ids });
      this.emit(c, 'extract-to-dir');
    });
  }

  /** moby's getUIDGID: Config.User ("user[:group]", names or ids) looked up in the container. */
  private containerUser(root: Root, spec: string): { uid: number; gid: number } | undefined {
    if (spec === '') return undefined;
    const [userPart = '', groupPart = ''] = spec.split(':', 2);
    let uid = 0;
    let gid = 0;
    const numeric = (s: string): number | undefined => (/^\d+$/.test(s) && Number(s) <= 2 ** 31 - 1 ? Number(s) : undefined);
    if (userPart !== '') {
      const passwd = parsePasswd(root.readFile('/etc/passwd', MAX_USER_FILE)?.toString('utf8') ?? '');
      const id = numeric(userPart);
      if (id === undefined) {
        const u = passwd.find((e) => e.name === userPart);
        if (!u) throw new InvalidParameterError(`failed to look up user "${userPart}" in container: no matching entries in passwd file`);
        [uid, gid] = [u.uid, u.gid];
      } else {
        const u = passwd.find((e) => e.uid === id);
        [uid, gid] = u ? [u.uid, u.gid] : [id, 0];
      }
    }
    if (groupPart !== '') {
      const id = numeric(groupPart);
      if (id !== undefined) gid = id;
      else {
        const g = parseGroup(root.readFile('/etc/group', MAX_USER_FILE)?.toString('utf8') ?? '').find((e) => e.name === groupPart);
        if (!g) throw new InvalidParameterError(`failed to look up group "${groupPart}" in container: no matching entries in group file`);
        gid = g.gid;
      }
    }
    return { uid, gid };
  }
}
