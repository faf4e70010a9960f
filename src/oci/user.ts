// Resolving Docker's `User` ("", "name", "uid", "name:group", "uid:gid") and `GroupAdd` against
// the container rootfs's /etc/passwd and /etc/group, with moby/sys/user's semantics.
//
// The rootfs is untrusted: paths inside it are resolved the way the kernel would inside a chroot
// (an absolute symlink target restarts at the rootfs, ".." stops at it), the file is opened
// without following a final symlink and without blocking on a FIFO, must be a regular file, and
// the opened descriptor's real path is checked to still be inside the rootfs.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { InvalidParameterError } from '../errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Primary gid first, then the user's supplementary groups, then GroupAdd; no duplicates. */
  additionalGids: number[];
  /** The user's home directory from passwd ("/" when unknown), for HOME when the env lacks it. */
  home: string;
  /** The passwd name when the user was found there. */
  username?: string;
}

export interface PasswdEntry {
  name: string;
  pass: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  pass: string;
  gid: number;
  members: string[];
}

const MIN_ID = 0;
const MAX_ID = 2 ** 31 - 1;
const RANGE_ERROR = `uids and gids must be in range ${MIN_ID}-${MAX_ID}`;
const MAX_SYMLINKS = 255;
/** Refuse absurdly large passwd/group files from an image rather than reading them whole. */
const MAX_USER_FILE_SIZE = 16 * 1024 * 1024;

/** Go's strconv.Atoi as parseLine uses it: malformed → 0. */
function atoiOrZero(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) return 0;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 0;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const p = line.split(':');
    out.push({
      name: p[0] ?? '',
      pass: p[1] ?? '',
      uid: atoiOrZero(p[2] ?? ''),
      gid: atoiOrZero(p[3] ?? ''),
      gecos: p[4] ?? '',
      home: p[5] ?? '',
      shell: p[6] ?? '',
    });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const p = line.split(':');
    out.push({
      name: p[0] ?? '',
      pass: p[1] ?? '',
      gid: atoiOrZero(p[2] ?? ''),
      members: p[3] ? p[3].split(',') : [],
    });
  }
  return out;
}

/**
 * Resolves `unsafePath` inside `root` as if `root` were "/", without ever leaving it.
 * Returns a host path under realpath(root); components that do not exist are kept as given.
 */
export function resolveInRoot(root: string, unsafePath: string): string {
  const realRoot = realpathSync(root);
  let pending = unsafePath.split('/');
  const cur: string[] = [];
  let links = 0;
  while (pending.length) {
    const comp = pending.shift()!;
    if (comp === '' || comp === '.') continue;
    if (comp === '..') {
      cur.pop();
      continue;
    }
    const hostPath = posix.join(realRoot, ...cur, comp);
    let st;
    try {
      st = lstatSync(hostPath);
    } catch {
      // does not exist (or unreadable): the rest cannot be symlinks we could follow
      cur.push(comp, ...pending.filter((c) => c !== '' && c !== '.'));
      pending = [];
      break;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new InvalidParameterError(`too many levels of symbolic links: ${unsafePath}`);
      const target = readlinkSync(hostPath);
      if (target.startsWith('/')) cur.length = 0;
      pending = [...target.split('/'), ...pending];
      continue;
    }
    cur.push(comp);
  }
  // ".." left over after a missing component must not climb out either
  return posix.join(realRoot, posix.normalize('/' + cur.join('/')));
}

/**
 * Reads a regular file at `path` inside the untrusted rootfs `root`.
 * Returns undefined when it does not exist (or is not a regular file), like Docker which then
 * behaves as if the file were absent.
 */
export function readFileInRoot(root: string, path: string, maxSize = MAX_USER_FILE_SIZE): string | undefined {
  const realRoot = realpathSync(root);
  const hostPath = resolveInRoot(realRoot, path);
  let fd: number;
  try {
    fd = openSync(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    // The file may have been swapped for something else between resolution and open: check
    // where the descriptor really points.
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (real !== realRoot && !real.startsWith(realRoot === '/' ? '/' : realRoot + '/')) return undefined;
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    if (st.size > maxSize) throw new InvalidParameterError(`${path} in the container is too large (${st.size} bytes)`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** parseNumeric from moby/sys/user: "" and non-numbers are names; numbers must be in range. */
function parseNumeric(val: string): { id: number; numeric: boolean } {
  if (val === '') return { id: 0, numeric: false };
  if (!/^[+-]?\d+$/.test(val)) return { id: 0, numeric: false };
  const n = Number(val);
  if (!Number.isSafeInteger(n) || n < MIN_ID || n > MAX_ID) throw new InvalidParameterError(RANGE_ERROR);
  return { id: n, numeric: true };
}

/**
 * Resolves a user spec against passwd/group file contents (undefined = file absent).
 * Error messages are moby/sys/user's.
 */
export function resolveUserFromFiles(
  userSpec: string,
  passwdText: string | undefined,
  groupText: string | undefined,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const [userArg = '', groupArg = ''] = userSpec.split(':');
  const u = parseNumeric(userArg);
  const g = parseNumeric(groupArg);
  const passwd = passwdText === undefined ? undefined : parsePasswd(passwdText);
  const groups = groupText === undefined ? undefined : parseGroup(groupText);

  let uid = 0;
  let gid = 0;
  let home = '';
  let sgids: number[] = [];
  let matchedName = '';

  const matches = (passwd ?? []).filter((e) => (userArg === '' ? e.uid === 0 : u.numeric ? e.uid === u.id : e.name === userArg));
  if (matches.length > 0) {
    const e = matches[0]!;
    matchedName = e.name;
    uid = e.uid;
    gid = e.gid;
    home = e.home;
  } else if (userArg !== '') {
    if (!u.numeric) throw new InvalidParameterError(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = u.id;
  }

  if (groupArg !== '' || matchedName !== '') {
    const found = (groups ?? []).filter((e) =>
      groupArg === '' ? e.members.includes(matchedName) : g.numeric ? e.gid === g.id : e.name === groupArg,
    );
    if (groupArg !== '') {
      if (found.length > 0) gid = found[0]!.gid;
      else if (!g.numeric) throw new InvalidParameterError(`unable to find group ${groupArg}: no matching entries in group file`);
      else gid = g.id;
    } else {
      sgids = found.map((e) => e.gid);
    }
  }

  const added: number[] = [];
  for (const ag of groupAdd) {
    const a = parseNumeric(ag);
    const hit = (groups ?? []).find((e) => (a.numeric ? e.gid === a.id : e.name === ag));
    if (hit) {
      if (hit.gid < MIN_ID || hit.gid > MAX_ID) throw new InvalidParameterError(RANGE_ERROR);
      added.push(hit.gid);
    } else if (!a.numeric) {
      throw new InvalidParameterError(`unable to find group ${ag}: no matching entries in group file`);
    } else {
      added.push(a.id);
    }
  }

  const additionalGids = [...new Set([gid, ...sgids, ...added])];
  const out: ResolvedUser = { uid, gid, additionalGids, home: home || '/' };
  if (matchedName) out.username = matchedName;
  return out;
}

/** Resolves Docker's User and GroupAdd against the container rootfs. */
export function resolveUser(rootfs: string, userSpec: string | undefined, groupAdd?: readonly string[] | null): ResolvedUser {
  const passwd = readFileInRoot(rootfs, '/etc/passwd');
  const group = readFileInRoot(rootfs, '/etc/group');
  return resolveUserFromFiles(userSpec ?? '', passwd, group, groupAdd ?? []);
}
