// berthd --userns-remap (dockerd's flag and daemon.json key): root in a container becomes an
// unprivileged user of the host. The value names a user of the host — `default` (Berth's own
// `berthremap`, created with subordinate ranges on first use, as dockerd creates `dockremap`),
// USER[:GROUP] or UID[:GID] — whose /etc/subuid and /etc/subgid ranges become the containers'
// ids from 0 up. The data root moves to <data-root>/<uid>.<gid> so that images and containers
// stored with host ids never mix with an unmapped daemon's (moby daemon/daemon_unix.go).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { IdMapping } from '../util/idmap.js';
import { runCommand } from '../util/exec.js';
import { logger } from '../util/logger.js';
import { ConfigError } from './config.js';

/** The user `--userns-remap=default` creates and uses (dockerd's is `dockremap`). */
export const DEFAULT_REMAP_USER = 'berthremap';
/** Size of the subordinate range given to a new berthremap, and where the search for a free one starts (dockerd's values). */
const RANGE_SIZE = 65536;
const FIRST_RANGE = 100000;

/** Where the host's accounts are: overridable for tests of the parsing. */
export interface AccountFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

export const HOST_ACCOUNTS: AccountFiles = { passwd: '/etc/passwd', group: '/etc/group', subuid: '/etc/subuid', subgid: '/etc/subgid' };

interface Entry {
  name: string;
  id: number;
}

async function readLines(file: string): Promise<string[][]> {
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/** /etc/passwd or /etc/group entries: name and numeric id (third field). */
async function entries(file: string): Promise<Entry[]> {
  return (await readLines(file)).filter((f) => f.length >= 3 && /^\d+$/.test(f[2])).map((f) => ({ name: f[0], id: Number(f[2]) }));
}

function find(list: Entry[], key: string): Entry | undefined {
  return /^\d+$/.test(key) ? list.find((e) => e.id === Number(key)) : list.find((e) => e.name === key);
}

/** A user's subordinate ranges (by name or by uid, as shadow's tools match them), in file order. */
async function subRanges(file: string, user: Entry): Promise<{ start: number; length: number }[]> {
  return (await readLines(file))
    .filter((f) => f.length === 3 && (f[0] === user.name || f[0] === String(user.id)) && /^\d+$/.test(f[1]) && /^\d+$/.test(f[2]))
    .map((f) => ({ start: Number(f[1]), length: Number(f[2]) }))
    .filter((r) => r.length > 0);
}

/** The first range of RANGE_SIZE ids above every range already given out in `file`. */
async function freeRange(file: string): Promise<number> {
  let start = FIRST_RANGE;
  for (const f of await readLines(file)) {
    const end = Number(f[1]) + Number(f[2]);
    if (f.length === 3 && Number.isFinite(end) && end > start) start = end;
  }
  return start;
}

/** `default`: berthremap as it is, or created now (a system user and group, and a range in each of /etc/subuid and /etc/subgid). */
async function ensureDefaultUser(files: AccountFiles): Promise<void> {
  if (find(await entries(files.passwd), DEFAULT_REMAP_USER)) return;
  if (files !== HOST_ACCOUNTS) throw new ConfigError(`Error during "${DEFAULT_REMAP_USER}" user creation: not on the host's account files`);
  const fail = (what: string, err: unknown): never => {
    throw new ConfigError(`Error during "${DEFAULT_REMAP_USER}" user creation: ${what}: ${(err as Error).message}`);
  };
  await runCommand('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', DEFAULT_REMAP_USER]).catch((e) => fail('useradd', e));
  const uids = await freeRange(files.subuid);
  const gids = await freeRange(files.subgid);
  await runCommand('usermod', ['--add-subuids', `${uids}-${uids + RANGE_SIZE - 1}`, '--add-subgids', `${gids}-${gids + RANGE_SIZE - 1}`, DEFAULT_REMAP_USER]).catch((e) =>
    fail('usermod', e),
  );
  logger.info(`User namespaces: created user ${DEFAULT_REMAP_USER} with subordinate ids ${uids}+${RANGE_SIZE} and gids ${gids}+${RANGE_SIZE}`);
}

/**
 * The mapping `--userns-remap=<value>` asks for, or undefined when it names root (dockerd: "root
 * cannot be remapped with itself; user namespaces are OFF"). Names and ids must exist in
 * /etc/passwd and /etc/group, and the user must have ranges in /etc/subuid and /etc/subgid.
 */
export async function remapIdentity(value: string, files: AccountFiles = HOST_ACCOUNTS): Promise<{ user: string; group: string; ids: IdMapping } | undefined> {
  const parts = value.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new ConfigError(`Invalid user/group specification in --userns-remap: "${value}"`);
  if (parts[0] === 'default') {
    if (parts.length > 1) throw new ConfigError(`Invalid user/group specification in --userns-remap: "${value}"`);
    await ensureDefaultUser(files);
    parts[0] = DEFAULT_REMAP_USER;
  }
  const user = find(await entries(files.passwd), parts[0]);
  if (!user) throw new ConfigError(/^\d+$/.test(parts[0]) ? `Uid ${parts[0]} has no entry in /etc/passwd` : `Error during uid lookup for "${parts[0]}": no such user`);
  // A user alone: the group of the same name (or, for a uid, the gid of the same number).
  const groupKey = parts[1] ?? parts[0];
  const group = find(await entries(files.group), groupKey);
  if (!group) throw new ConfigError(/^\d+$/.test(groupKey) ? `Gid ${groupKey} has no entry in /etc/group` : `Error during gid lookup for "${groupKey}": no such group`);
  if (user.id === 0) {
    logger.warn('User namespaces: root cannot be remapped with itself; user namespaces are OFF');
    return undefined;
  }
  // As dockerd: the ranges are the user's, looked up by its name, for uids and gids alike.
  const uidRanges = await subRanges(files.subuid, user);
  const gidRanges = await subRanges(files.subgid, user);
  if (uidRanges.length === 0) throw new ConfigError(`Can't create ID mappings: No subuid ranges found for user "${user.name}"`);
  if (gidRanges.length === 0) throw new ConfigError(`Can't create ID mappings: No subgid ranges found for group "${user.name}"`);
  return { user: user.name, group: group.name, ids: IdMapping.fromRanges(uidRanges, gidRanges) };
}

/** Whether the mapped root can pass through `dir` (search permission for its uid, gid or others). */
async function searchable(dir: string, root: { uid: number; gid: number }): Promise<boolean> {
  const st = await fsp.stat(dir);
  if (st.uid === root.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === root.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * The remapped data root, as dockerd lays it out: `<root>` searchable by everyone (0711), and
 * `<root>/<uid>.<gid>` owned by the daemon with the mapped root's group (0710), so the runtime,
 * running as the mapped root, reaches container filesystems and nobody else lists them. Every
 * directory above must let the mapped root through.
 */
export async function remappedDataRoot(base: string, ids: IdMapping): Promise<string> {
  const root = ids.root;
  await fsp.mkdir(base, { recursive: true, mode: 0o711 });
  await fsp.chmod(base, 0o711);
  const dir = path.join(base, `${root.uid}.${root.gid}`);
  await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
  await fsp.chown(dir, process.getuid?.() ?? 0, root.gid);
  await fsp.chmod(dir, 0o710);
  for (let d = path.dirname(base); ; d = path.dirname(d)) {
    if (!(await searchable(d, root))) {
      throw new ConfigError(
        `a subdirectory in your graphroot path (${dir}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories`,
      );
    }
    if (d === '/') break;
  }
  return dir;
}
