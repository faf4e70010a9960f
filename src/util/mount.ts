// mount(2) and umount2(2) called directly (through koffi, a C FFI): Node has no API for them, and
// spawning mount(8)/umount(8) costs 10–15 ms a time on this kind of VM — twice on the path of
// every `docker run`. The calls are synchronous; the kernel's part takes well under a millisecond.
import { readFile } from 'node:fs/promises';
import { getSystemErrorName } from 'node:util';
import { isNotFound } from './fs.js';
import { libc as boundLibc } from './libc.js';

const MS_RDONLY = 0x1;
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MS_PRIVATE = 0x40000;
const MNT_DETACH = 0x2;
const EINVAL = 22;
const EBUSY = 16;

interface Libc {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  errno(): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const { koffi, lib } = boundLibc();
  libc = {
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    errno: () => koffi.errno(),
  };
  return libc;
}

export class MountError extends Error {
  constructor(
    readonly op: string,
    readonly target: string,
    readonly errno: number,
  ) {
    super(`${op} ${target}: ${errnoName(errno)}`);
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

export interface MountOptions {
  source?: string;
  fstype?: string;
  flags?: number;
  data?: string;
  /** Directory relative paths in `data` are resolved against (overlay's lowerdir list). */
  cwd?: string;
}

export function mount(target: string, o: MountOptions): void {
  const c = load();
  const call = () => c.mount(o.source ?? null, target, o.fstype ?? null, o.flags ?? 0, o.data ?? null);
  // The kernel resolves relative paths in the options against the caller's cwd. Changing it is
  // safe here: the call is synchronous, so no other JavaScript runs until it is changed back.
  const prev = o.cwd ? process.cwd() : undefined;
  if (o.cwd) process.chdir(o.cwd);
  let rc: number;
  let errno = 0;
  try {
    rc = call();
    if (rc !== 0) errno = c.errno();
  } finally {
    if (prev) process.chdir(prev);
  }
  if (rc !== 0) throw new MountError(`mount ${o.fstype ?? 'bind'}`, target, errno || EINVAL);
}

/** Unmounts `target`; a busy mount (a process still holding a file) is detached lazily instead. */
export function unmount(target: string): void {
  const c = load();
  if (c.umount2(target, 0) === 0) return;
  const errno = c.errno();
  if (errno === EBUSY && c.umount2(target, MNT_DETACH) === 0) return;
  throw new MountError('umount', target, errno);
}

/** Makes `target` (an existing file or directory) a bind mount of `source`. */
export function bind(source: string, target: string): void {
  mount(target, { source, flags: MS_BIND });
}

/** Makes `target` a read-only bind mount of `source` (two calls: the kernel ignores MS_RDONLY on the first). */
export function bindReadOnly(source: string, target: string): void {
  mount(target, { source, flags: MS_BIND });
  try {
    mount(target, { flags: MS_BIND | MS_REMOUNT | MS_RDONLY });
  } catch (err) {
    unmount(target);
    throw err;
  }
}

/**
 * Makes `dir` a private bind mount of itself (once; a second call is a no-op), so that mounts made
 * below it (network namespaces) are not copied into the mount namespaces of containers created
 * later, where they would keep those namespaces alive.
 */
export async function ensurePrivateMount(dir: string): Promise<void> {
  if (!(await isMountPoint(dir))) mount(dir, { source: dir, flags: MS_BIND });
  mount(dir, { flags: MS_PRIVATE });
}

/** Whether `target` is the mount point of a mount in this process's mount namespace. */
export async function isMountPoint(target: string): Promise<boolean> {
  let mountinfo: string;
  try {
    mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  const escaped = target.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === escaped);
}
