// Extended attributes and special files through Debian's command-line tools, batched: Node has
// no xattr or mknod API. One `getfattr -R` dumps a whole tree; one `setfattr --restore` sets any
// number of attributes. Both are told never to follow symlinks (-h / -P).

import { spawn } from 'node:child_process';
import { SystemError } from '../errors.js';

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export function runTool(cmd: string, args: string[], input?: Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        const pkg = cmd === 'getfattr' || cmd === 'setfattr' ? "Debian package 'attr'" : "Debian package 'coreutils'";
        reject(new SystemError(`${cmd} not found: install the ${pkg}`));
      } else reject(new SystemError(`${cmd}: ${e.message}`));
    });
    child.stdin.on('error', () => { /* reported through exit code */ });
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim() });
    });
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/** getfattr's quoting: backslash, control chars and DEL as \ooo. Works on UTF-8 bytes. */
function quotePath(p: string): Buffer {
  const raw = Buffer.from(p, 'utf8');
  const out: number[] = [];
  for (const c of raw) {
    if (c === 0x5c || c < 0x20 || c === 0x7f) {
      const o = c.toString(8).padStart(3, '0');
      out.push(0x5c, o.charCodeAt(0), o.charCodeAt(1), o.charCodeAt(2));
    } else out.push(c);
  }
  return Buffer.from(out);
}

/** Undoes getfattr's \\ooo quoting of a path (bytes in, UTF-8 string out). */
export function unquote(b: Buffer): string {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x5c && i + 3 < b.length && /^[0-7]{3}$/.test(b.toString('latin1', i + 1, i + 4))) {
      out.push(parseInt(b.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else out.push(c);
  }
  return Buffer.from(out).toString('utf8');
}

/** Sets xattrs on many paths in one `setfattr -h --restore` (never follows symlinks). */
export async function setXattrs(entries: Map<string, Map<string, Buffer>>): Promise<void> {
  if (entries.size === 0) return;
  const parts: Buffer[] = [];
  for (const [path, attrs] of entries) {
    if (attrs.size === 0) continue;
    parts.push(Buffer.from('# file: '), quotePath(path), Buffer.from('\n'));
    for (const [name, value] of attrs) {
      if (!/^[\x21-\x7e]+$/.test(name) || name.includes('=')) {
        throw new SystemError(`unsupported xattr name ${JSON.stringify(name)} on ${path}`);
      }
      // base64 ("0s") keeps empty and binary values intact.
      parts.push(Buffer.from(`${name}=0s${value.toString('base64')}\n`));
    }
    parts.push(Buffer.from('\n'));
  }
  if (parts.length === 0) return;
  const r = await runTool('setfattr', ['-h', '--restore=-'], Buffer.concat(parts));
  if (r.code !== 0) throw new SystemError(`setting extended attributes failed: ${r.stderr || `exit ${r.code}`}`);
}

/**
 * All xattrs under `root` (recursive, physical walk, symlinks not followed) whose names match
 * the getfattr regex `match`. Keys are absolute paths. Paths that vanish mid-walk are skipped.
 */
export async function dumpXattrs(root: string | string[], match = '-', recursive = true): Promise<Map<string, Map<string, Buffer>>> {
  const roots = Array.isArray(root) ? root : [root];
  if (roots.length === 0) return new Map();
  const r = await runTool('getfattr', [...(recursive ? ['-R', '-P'] : []), '-h', '-d', '-m', match, '-e', 'hex', '--absolute-names', '--', ...roots]);
  const out = new Map<string, Map<string, Buffer>>();
  if (r.code !== 0 && r.stdout.length === 0 && r.stderr && !/No such file|No such attribute/.test(r.stderr)) {
    throw new SystemError(`reading extended attributes failed: ${r.stderr}`);
  }
  let cur: Map<string, Buffer> | undefined;
  let start = 0;
  const buf = r.stdout;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    const line = buf.subarray(start, end);
    start = end + 1;
    if (line.length === 0) { cur = undefined; continue; }
    if (line.toString('latin1', 0, 8) === '# file: ') {
      cur = new Map();
      out.set(unquote(line.subarray(8)), cur);
      continue;
    }
    if (!cur) continue;
    const eq = line.indexOf(0x3d);
    if (eq <= 0) { cur.set(line.toString('utf8'), Buffer.alloc(0)); continue; }
    const name = line.toString('utf8', 0, eq);
    const v = line.toString('latin1', eq + 1);
    let value: Buffer;
    if (v.startsWith('0x')) value = Buffer.from(v.slice(2), 'hex');
    else if (v.startsWith('0s')) value = Buffer.from(v.slice(2), 'base64');
    else if (v.startsWith('"') && v.endsWith('"')) value = Buffer.from(unquote(Buffer.from(v.slice(1, -1), 'latin1')), 'utf8');
    else value = Buffer.from(v, 'latin1');
    cur.set(name, value);
  }
  return out;
}

/** mknod(1) for one character/block device (rare in layers; one process each). */
export async function mknod(path: string, kind: 'c' | 'b', major: number, minor: number, mode: number): Promise<void> {
  const r = await runTool('mknod', ['-m', (mode & 0o7777).toString(8), '--', path, kind, String(major), String(minor)]);
  if (r.code !== 0) throw new SystemError(`mknod ${path}: ${r.stderr || `exit ${r.code}`}`);
}

/** mkfifo(1) for named pipes. */
export async function mkfifo(path: string, mode: number): Promise<void> {
  const r = await runTool('mkfifo', ['-m', (mode & 0o7777).toString(8), '--', path]);
  if (r.code !== 0) throw new SystemError(`mkfifo ${path}: ${r.stderr || `exit ${r.code}`}`);
}

/**
 * The xattrs matching `match` of exactly the given paths (no recursion, symlinks not followed);
 * paths that do not exist are left out. Batched to keep each command line short.
 */
export async function readXattrs(paths: string[], match = '-'): Promise<Map<string, Map<string, Buffer>>> {
  const out = new Map<string, Map<string, Buffer>>();
  const BATCH = 512;
  for (let i = 0; i < paths.length; i += BATCH) {
    const part = await dumpXattrs(paths.slice(i, i + BATCH), match, false);
    for (const [k, v] of part) out.set(k, v);
  }
  return out;
}
