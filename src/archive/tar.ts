// Minimal tar codec: ustar / GNU / PAX headers, the subset Docker and OCI layers use.
// Our own rather than tar-stream's because layers need binary-safe PAX values (xattrs such as
// security.capability), PAX uid/gid/mtime, base-256 numbers, and exact control over EOF
// handling (Go's archive/tar stops at the first two zero blocks; the rest is drained by the
// caller for the diff ID).

import { InvalidParameterError } from '../errors.js';

export const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number; // permission bits incl. setuid/setgid/sticky (0o7777)
  uid: number;
  gid: number;
  size: number;
  mtime: number; // seconds since the epoch, may be fractional (PAX)
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bad(msg: string): InvalidParameterError {
  return new InvalidParameterError(`invalid tar archive: ${msg}`);
}

function cstr(buf: Buffer, off: number, len: number): Buffer {
  let end = off;
  const max = off + len;
  while (end < max && buf[end] !== 0) end++;
  return buf.subarray(off, end);
}

export function decodeName(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    throw bad('file name is not valid UTF-8');
  }
}

/** Go's parseNumeric: octal (space/NUL padded) or base-256 with the high bit set. */
function parseNumeric(buf: Buffer, off: number, len: number, field: string): number {
  const b = buf.subarray(off, off + len);
  if (b.length > 0 && (b[0]! & 0x80) !== 0) {
    if (b[0] === 0xff) throw bad(`negative ${field}`);
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) {
      v = v * 256 + b[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw bad(`${field} out of range`);
    }
    return v;
  }
  let s = 0;
  let e = b.length;
  while (s < e && (b[s] === 0x20 || b[s] === 0)) s++;
  while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0)) e--;
  if (s === e) return 0;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) throw bad(`invalid octal number in ${field}`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(b: Buffer): boolean {
  const stored = parseNumeric(b, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** Raw decoded header block, before PAX / GNU long-name overrides. */
export interface RawHeader {
  typeflag: number; // char code
  name: Buffer;
  linkname: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

export function decodeRawHeader(b: Buffer): RawHeader {
  if (!checksumOk(b)) throw bad('header checksum mismatch (corrupt, truncated or not a tar stream)');
  const magic = b.toString('latin1', 257, 263);
  const ustar = magic === 'ustar\0';
  const gnu = magic === 'ustar ';
  let name = cstr(b, 0, 100);
  if (ustar) {
    const prefix = cstr(b, 345, 155);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const hasExt = ustar || gnu;
  return {
    typeflag: b[156]!,
    name,
    linkname: cstr(b, 157, 100),
    mode: parseNumeric(b, 100, 8, 'mode'),
    uid: parseNumeric(b, 108, 8, 'uid'),
    gid: parseNumeric(b, 116, 8, 'gid'),
    size: parseNumeric(b, 124, 12, 'size'),
    mtime: parseNumeric(b, 136, 12, 'mtime'),
    uname: hasExt ? cstr(b, 265, 32).toString('utf8') : '',
    gname: hasExt ? cstr(b, 297, 32).toString('utf8') : '',
    devmajor: hasExt ? parseNumeric(b, 329, 8, 'devmajor') : 0,
    devminor: hasExt ? parseNumeric(b, 337, 8, 'devminor') : 0,
  };
}

/** PAX extended header records, binary-safe: "<len> <key>=<value>\n". */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) break; // NUL padding
    const sp = data.indexOf(0x20, off);
    if (sp < 0) throw bad('malformed PAX record');
    const lenStr = data.toString('latin1', off, sp);
    if (!/^[0-9]+$/.test(lenStr)) throw bad('malformed PAX record length');
    const len = Number(lenStr);
    const end = off + len;
    if (len <= sp - off + 1 || end > data.length || data[end - 1] !== 0x0a) throw bad('malformed PAX record');
    const rec = data.subarray(sp + 1, end - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw bad('malformed PAX record');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    off = end;
  }
  return out;
}

function paxNumber(v: Buffer, field: string): number {
  const s = v.toString('latin1');
  if (!/^[0-9]+(\.[0-9]*)?$/.test(s)) throw bad(`invalid PAX ${field}`);
  const n = Number(s);
  if (!Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER) throw bad(`PAX ${field} out of range`);
  return n;
}

/** Applies PAX records on top of a raw header and produces the final entry header. */
export function finishHeader(
  raw: RawHeader,
  pax: Map<string, Buffer> | null,
  longName: Buffer | null,
  longLink: Buffer | null,
): TarHeader & { typeflag: number } {
  let name = longName ?? raw.name;
  let linkname = longLink ?? raw.linkname;
  let { uid, gid, size, mtime } = raw;
  let { uname, gname } = raw;
  const xattrs = new Map<string, Buffer>();
  if (pax) {
    for (const [k, v] of pax) {
      switch (k) {
        case 'path': name = v; break;
        case 'linkpath': linkname = v; break;
        case 'uid': uid = paxNumber(v, k); break;
        case 'gid': gid = paxNumber(v, k); break;
        case 'size': size = paxNumber(v, k); break;
        case 'mtime': mtime = paxNumber(v, k); break;
        case 'uname': uname = v.toString('utf8'); break;
        case 'gname': gname = v.toString('utf8'); break;
        default:
          if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
          else if (k.startsWith('GNU.sparse.')) throw bad('GNU sparse files are not supported');
      }
    }
  }
  let typeflag = raw.typeflag;
  const nameStr = decodeName(name);
  if (nameStr.includes('\0')) throw bad('NUL in file name');
  const linkStr = decodeName(linkname);
  if (linkStr.includes('\0')) throw bad('NUL in link name');
  let type: EntryType;
  switch (typeflag) {
    case 0x30: case 0x00: case 0x37: // '0', '\0' (old regular), '7' (contiguous)
      type = typeflag === 0x00 && nameStr.endsWith('/') ? 'dir' : 'file';
      break;
    case 0x31: type = 'link'; break;
    case 0x32: type = 'symlink'; break;
    case 0x33: type = 'char'; break;
    case 0x34: type = 'block'; break;
    case 0x35: type = 'dir'; break;
    case 0x36: type = 'fifo'; break;
    case 0x53: throw bad('GNU sparse files are not supported');
    default:
      throw bad(`unsupported entry type ${JSON.stringify(String.fromCharCode(typeflag))} for ${JSON.stringify(nameStr)}`);
  }
  // Go's archive/tar: link, symlink, char, block, dir and fifo entries carry no data whatever
  // their size field says.
  if (type !== 'file') size = 0;
  typeflag = typeflag || 0x30;
  return {
    typeflag,
    name: nameStr,
    type,
    mode: raw.mode & 0o7777,
    uid,
    gid,
    size,
    mtime,
    linkname: linkStr,
    uname,
    gname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs,
  };
}

// ---- writing -----------------------------------------------------------------------------

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30, link: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36,
};

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x01-\x7f]*$/.test(s);
}

function writeOctal(b: Buffer, off: number, len: number, v: number): boolean {
  // len-1 digits + NUL terminator, as Go writes them.
  const s = Math.floor(v).toString(8);
  if (v < 0 || s.length > len - 1) return false;
  b.write(s.padStart(len - 1, '0'), off, len - 1, 'latin1');
  b[off + len - 1] = 0;
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

function splitUstarPath(name: string): [string, string] | null {
  if (!isAscii(name)) return null;
  if (name.length <= 100) return ['', name];
  if (name.length > 256) return null;
  // Find a '/' such that prefix ≤ 155 and name ≤ 100 (Go's splitUSTARPath).
  let i = name.length - 1;
  if (i > 155) i = 155;
  for (; i > 0; i--) {
    if (name[i] === '/' && name.length - i - 1 <= 100 && name.length - i - 1 > 0) return [name.slice(0, i), name.slice(i + 1)];
  }
  return null;
}

export interface UstarFields {
  name: string; prefix: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: number; linkname: string; uname: string; gname: string; devmajor: number; devminor: number;
}

/** One USTAR header block, fields as given (numbers must fit their octal fields). */
export function rawBlock(fields: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(fields.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, fields.mode);
  writeOctal(b, 108, 8, fields.uid);
  writeOctal(b, 116, 8, fields.gid);
  writeOctal(b, 124, 12, fields.size);
  writeOctal(b, 136, 12, fields.mtime);
  b.fill(0x20, 148, 156);
  b[156] = fields.typeflag;
  b.write(fields.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  b.write(fields.uname, 265, 32, 'utf8');
  b.write(fields.gname, 297, 32, 'utf8');
  writeOctal(b, 329, 8, fields.devmajor);
  writeOctal(b, 337, 8, fields.devminor);
  b.write(fields.prefix, 345, 155, 'utf8');
  setChecksum(b);
  return b;
}

/** Fills a header block's checksum field (its 8 bytes counted as spaces, which the caller left there). */
export function setChecksum(b: Buffer): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
}

export interface WriteHeader {
  name: string; // dirs should end in '/'
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number; // truncated to whole seconds
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** Encodes one entry's header block(s): a PAX 'x' header first when USTAR can't hold it. */
export function encodeHeader(h: WriteHeader): Buffer {
  const pax: Buffer[] = [];
  const linkname = h.linkname ?? '';
  let name = h.name;
  let prefix = '';
  const split = splitUstarPath(name);
  if (split) {
    [prefix, name] = split;
  } else {
    pax.push(paxRecord('path', Buffer.from(h.name, 'utf8')));
    name = asciiTruncate(h.name, 100);
  }
  let link = linkname;
  if (!isAscii(linkname) || linkname.length > 100) {
    pax.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
    link = asciiTruncate(linkname, 100);
  }
  let uid = h.uid;
  let gid = h.gid;
  let size = h.size;
  if (uid > MAX_OCTAL_7) { pax.push(paxRecord('uid', Buffer.from(String(uid)))); uid = 0; }
  if (gid > MAX_OCTAL_7) { pax.push(paxRecord('gid', Buffer.from(String(gid)))); gid = 0; }
  if (size > MAX_OCTAL_11) { pax.push(paxRecord('size', Buffer.from(String(size)))); size = 0; }
  const mtime = Math.max(0, Math.floor(h.mtime));
  let uname = h.uname ?? '';
  let gname = h.gname ?? '';
  if (!isAscii(uname) || uname.length > 32) { pax.push(paxRecord('uname', Buffer.from(uname, 'utf8'))); uname = ''; }
  if (!isAscii(gname) || gname.length > 32) { pax.push(paxRecord('gname', Buffer.from(gname, 'utf8'))); gname = ''; }
  if (h.xattrs && h.xattrs.size > 0) {
    const keys = [...h.xattrs.keys()].sort();
    for (const k of keys) pax.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs.get(k)!));
  }
  const main = rawBlock({
    name, prefix, mode: h.mode & 0o7777, uid, gid, size, mtime,
    typeflag: TYPEFLAG[h.type], linkname: link, uname, gname,
    devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0,
  });
  if (pax.length === 0) return main;
  const data = Buffer.concat(pax);
  const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
  const dir = h.name.replace(/\/+$/, '').split('/').slice(0, -1).join('/');
  const paxName = asciiTruncate((dir ? `${dir}/` : '') + `PaxHeaders.0/${base}`, 100);
  const paxHdr = rawBlock({
    name: paxName, prefix: '', mode: 0, uid: 0, gid: 0, size: data.length, mtime: 0,
    typeflag: 0x78, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0,
  });
  return Buffer.concat([paxHdr, data, padding(data.length), main]);
}

function asciiTruncate(s: string, n: number): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x01-\x7f]/g, '_').slice(0, n);
}

const ZEROS = Buffer.alloc(BLOCK);

export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - r);
}

/** Two zero blocks: the end-of-archive marker. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

/** A tar holding one regular file (a Dockerfile sent or fetched on its own). */
export function fileTar(name: string, content: Buffer, mtime = Math.floor(Date.now() / 1000)): Buffer {
  const hdr = encodeHeader({ name, mode: 0o644, uid: 0, gid: 0, size: content.length, mtime, type: 'file' });
  return Buffer.concat([hdr, content, padding(content.length), END_OF_ARCHIVE]);
}
