// Docker's `local` volume driver: a volume is a directory <root>/<name>/_data, or, with the
// options type/device/o (what mount(8) would take), a filesystem mounted there while some
// container uses it (moby volume/local).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InvalidParameterError, NotFoundError, SystemError } from '../errors.js';
import { directorySize, readJsonFile, writeJsonAtomic } from '../util/fs.js';
import { MountError, isMountPoint, mount, unmount } from '../util/mount.js';
import type { IdPair } from '../util/idmap.js';

const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const OPTION_KEYS = new Set(['type', 'device', 'o', 'size']);

/** The local driver's naming rule, with Docker's messages (wrapped by the caller with the operation). */
export function validateVolumeName(name: string): void {
  if (name.length === 1) throw new InvalidParameterError('volume name is too short, names should be at least two alphanumeric characters');
  if (!VALID_NAME.test(name)) {
    throw new InvalidParameterError(
      `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** The driver options Docker's local driver accepts, with its messages. */
export function validateLocalOptions(opts: Record<string, string>): void {
  for (const key of Object.keys(opts)) {
    if (!OPTION_KEYS.has(key)) throw new InvalidParameterError(`invalid option: "${key}"`);
  }
  if (opts.size !== undefined) throw new InvalidParameterError('quota size requested but no quota support');
  if ((opts.type || opts.o) && !opts.device) throw new InvalidParameterError('missing required option: "device"');
  if (opts.device && !opts.type) throw new InvalidParameterError('missing required option: "type"');
}

// mount(8)'s flag words; everything else in `o` is filesystem data.
const MOUNT_FLAGS: Record<string, [set: number, clear: number]> = {
  ro: [0x1, 0], rw: [0, 0x1],
  nosuid: [0x2, 0], suid: [0, 0x2],
  nodev: [0x4, 0], dev: [0, 0x4],
  noexec: [0x8, 0], exec: [0, 0x8],
  sync: [0x10, 0], async: [0, 0x10],
  dirsync: [0x80, 0],
  mand: [0x40, 0], nomand: [0, 0x40],
  noatime: [0x400, 0], atime: [0, 0x400],
  nodiratime: [0x800, 0], diratime: [0, 0x800],
  bind: [0x1000, 0], rbind: [0x1000 | 0x4000, 0],
  relatime: [0x200000, 0], norelatime: [0, 0x200000],
  strictatime: [0x1000000, 0],
  defaults: [0, 0],
};

/** `o` split as mount(8) splits it: flag words into flags, the rest into the data string. */
export function parseMountOptions(o: string): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const opt of o.split(',').filter(Boolean)) {
    const f = MOUNT_FLAGS[opt];
    if (f) flags = (flags | f[0]) & ~f[1];
    else data.push(opt);
  }
  return { flags, data: data.join(',') };
}

export class LocalDriver {
  readonly name = 'local';
  /** Containers holding each mounted volume: the filesystem stays mounted while one does. */
  private readonly holders = new Map<string, Set<string>>();

  constructor(
    private readonly root: string,
    /** Owner of new volumes' data directories (the mapped root under --userns-remap; else the daemon's). */
    private readonly owner?: IdPair,
  ) {}

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o701 });
  }

  /** The volumes on disk, by directory (a record may be missing: a create or rm cut short). */
  async names(): Promise<string[]> {
    return fsp.readdir(this.root);
  }

  /** Where a volume's data is, and what containers bind-mount. */
  path(name: string): string {
    return path.join(this.root, name, '_data');
  }

  private optsFile(name: string): string {
    return path.join(this.root, name, 'opts.json');
  }

  async create(name: string, opts: Record<string, string>): Promise<void> {
    await fsp.mkdir(this.path(name), { recursive: true, mode: 0o755 });
    if (this.owner) await fsp.chown(this.path(name), this.owner.uid, this.owner.gid);
    if (Object.keys(opts).length) await writeJsonAtomic(this.optsFile(name), opts);
  }

  async exists(name: string): Promise<boolean> {
    return fsp.stat(this.path(name)).then(
      (st) => st.isDirectory(),
      () => false,
    );
  }

  async options(name: string): Promise<Record<string, string>> {
    return (await readJsonFile<Record<string, string>>(this.optsFile(name))) ?? {};
  }

  /** Removes the volume and its data; its filesystem is unmounted first. */
  async remove(name: string): Promise<void> {
    this.holders.delete(name);
    if (await isMountPoint(this.path(name))) unmount(this.path(name));
    await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
  }

  /** Makes the volume ready for container `holder`; mounts its filesystem for the first holder. */
  async mount(name: string, holder: string): Promise<string> {
    const target = this.path(name);
    const opts = await this.options(name);
    const holders = this.holders.get(name) ?? new Set<string>();
    if (opts.type && holders.size === 0 && !(await isMountPoint(target))) mountDevice(target, opts);
    holders.add(holder);
    this.holders.set(name, holders);
    return target;
  }

  /** Releases the volume for `holder` (false if it did not hold it); the last one out unmounts its filesystem. */
  async unmount(name: string, holder: string): Promise<boolean> {
    const holders = this.holders.get(name);
    if (!holders?.delete(holder)) return false;
    if (holders.size > 0) return true;
    this.holders.delete(name);
    const target = this.path(name);
    if ((await this.options(name)).type && (await isMountPoint(target))) unmount(target);
    return true;
  }

  /** Bytes under the volume's data directory. */
  async size(name: string): Promise<number> {
    return directorySize(this.path(name)).catch(() => 0);
  }

  /** Whether the volume holds nothing yet (Docker copies an image's content only into an empty one). */
  async isEmpty(name: string): Promise<boolean> {
    return (await fsp.readdir(this.path(name))).length === 0;
  }
}

function mountDevice(target: string, opts: Record<string, string>): void {
  const { flags, data } = parseMountOptions(opts.o ?? '');
  try {
    mount(target, { source: opts.device, fstype: opts.type, flags, data: data || undefined });
  } catch (err) {
    const code = err instanceof MountError ? err.message.split(': ').pop() : (err as Error).message;
    const how = data ? `data: ${data}` : `flags: 0x${flags.toString(16)}`;
    const msg = `error while mounting volume '${target}': failed to mount local volume: mount ${opts.device}:${target}, ${how}: ${describeErrno(code ?? '')}`;
    throw code === 'ENOENT' ? new NotFoundError(msg) : new SystemError(msg);
  }
}

function describeErrno(code: string): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EINVAL: 'invalid argument',
    EPERM: 'operation not permitted',
    ENODEV: 'no such device',
    ENOTBLK: 'block device required',
    EBUSY: 'device or resource busy',
    EACCES: 'permission denied',
  };
  return words[code] ?? code.toLowerCase();
}
