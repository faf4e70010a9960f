// The checksum of COPY/ADD sources that names them in the step's history (`COPY file:<sum> in /x`)
// and keys the cache, computed as dockerd's legacy builder computes it, so that the same files
// give the same sum in both (their histories match, and --cache-from works across them):
// - each entry hashes as a tarsum v1 header (name, mode with Go's file-type bits, uid, gid, size,
//   typeflag, link name, user and group names looked up on this host, device numbers,
//   security.capability — the modification time is left out) followed by its content;
// - an entry's path is resolved inside the source root first (symlinks followed, never out of it),
//   so a link hashes as what it points to; entries that cannot be resolved are left out;
// - one file gives `file:<sum>`; a directory `dir:<sha256 of its entries' sums, sorted, joined
//   with ",">` (the directory itself included, unless it is the root); several sources
//   `multi:<sha256 of their sums joined with ",">`.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { Root } from '../archive/root.js';
import { dumpXattrs } from '../archive/xattr.js';

const CAPABILITY = 'security.capability';

/** Go's c_IS* type bits, which moby adds back to a tar header's mode (fillGo18FileTypeBits). */
function typeBits(st: Stats): number {
  if (st.isDirectory()) return 0o40000;
  if (st.isFile()) return 0o100000;
  if (st.isSymbolicLink()) return 0o120000;
  if (st.isCharacterDevice()) return 0o20000;
  if (st.isBlockDevice()) return 0o60000;
  if (st.isFIFO()) return 0o10000;
  if (st.isSocket()) return 0o140000;
  return 0;
}

function typeflag(st: Stats): string {
  if (st.isDirectory()) return '5';
  if (st.isSymbolicLink()) return '2';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  if (st.isFIFO()) return '6';
  return '0';
}

/** Names of this host's users and groups by id, as Go's archive/tar looks them up for a header. */
function hostNames(file: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && Number.isInteger(n) && !out.has(n)) out.set(n, name);
  }
  return out;
}

class SourceHasher {
  private readonly sums = new Map<string, string>();
  private readonly users = hostNames('/etc/passwd');
  private readonly groups = hostNames('/etc/group');

  constructor(
    private readonly rootDir: string,
    private readonly root: Root,
    private readonly caps: Map<string, Map<string, Buffer>>,
  ) {}

  /** A source's sum with its prefix: `file:` or `dir:`. */
  async source(rel: string): Promise<string> {
    const real = this.resolve(rel);
    const st = await fsp.lstat(this.abs(real));
    if (!st.isDirectory()) return `file:${await this.entry(real, st)}`;
    const sums: string[] = [];
    await this.walk(real, sums);
    return `dir:${sha256(sums.sort().join(','))}`;
  }

  /** Go's filepath.Walk: the entry, then (for a directory, not followed through links) what it holds, by name. */
  private async walk(rel: string, out: string[]): Promise<void> {
    const st = await fsp.lstat(this.abs(rel)).catch(() => undefined);
    if (!st) return;
    if (rel !== '') {
      const sum = await this.hash(rel).catch(() => undefined);
      if (sum !== undefined) out.push(sum);
    }
    if (!st.isDirectory()) return;
    for (const name of (await fsp.readdir(this.abs(rel))).sort()) await this.walk(rel ? `${rel}/${name}` : name, out);
  }

  private async hash(rel: string): Promise<string> {
    const real = this.resolve(rel);
    return this.entry(real, await fsp.lstat(this.abs(real)));
  }

  private async entry(real: string, st: Stats): Promise<string> {
    const known = this.sums.get(real);
    if (known !== undefined) return known;
    const h = createHash('sha256');
    const link = st.isSymbolicLink() ? await fsp.readlink(this.abs(real)) : '';
    const name = st.isDirectory() ? `${real || '.'}/` : real;
    const rdev = st.isCharacterDevice() || st.isBlockDevice() ? st.rdev : 0;
    const fields: [string, string][] = [
      ['name', name],
      ['mode', String((st.mode & 0o7777) | typeBits(st))],
      ['uid', String(st.uid)],
      ['gid', String(st.gid)],
      ['size', String(st.isFile() ? st.size : 0)],
      ['typeflag', typeflag(st)],
      ['linkname', link],
      ['uname', this.users.get(st.uid) ?? ''],
      ['gname', this.groups.get(st.gid) ?? ''],
      ['devmajor', String(rdev ? (rdev >> 8) & 0xfff : 0)],
      ['devminor', String(rdev ? (rdev & 0xff) | ((rdev >> 12) & 0xfff00) : 0)],
    ];
    for (const [k, v] of fields) h.update(k + v);
    const cap = this.caps.get(this.abs(real))?.get(CAPABILITY);
    if (cap) h.update(CAPABILITY).update(cap);
    if (st.isFile() && st.size > 0) for await (const chunk of createReadStream(this.abs(real))) h.update(chunk as Buffer);
    const sum = h.digest('hex');
    this.sums.set(real, sum);
    return sum;
  }

  /** The path with every symlink resolved inside the root (a link hashes as its target). */
  private resolve(rel: string): string {
    return this.root.evalSymlinks(rel).replace(/^\/+/, '');
  }

  private abs(rel: string): string {
    return rel ? path.join(this.rootDir, rel) : this.rootDir;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The sum of the sources (paths inside `rootDir`, "" for the root itself) of one COPY/ADD. */
export async function sourcesChecksum(rootDir: string, sources: { rel: string }[]): Promise<string> {
  const root = Root.open(rootDir);
  try {
    const caps = await dumpXattrs(rootDir, `^${CAPABILITY.replace(/\./g, '\\.')}$`);
    const hasher = new SourceHasher(rootDir, root, caps);
    const sums: string[] = [];
    for (const s of sources) sums.push(await hasher.source(s.rel));
    return sums.length === 1 ? sums[0]! : `multi:${sha256(sums.join(','))}`;
  } finally {
    root.close();
  }
}
