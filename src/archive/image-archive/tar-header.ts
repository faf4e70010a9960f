// Headers of the outer image archive exactly as Go's archive/tar writes them for dockerd's save
// (tar.FileInfoHeader without user lookups, PAX format forced, which for short ASCII names is a
// plain USTAR block): type bits in the mode, uid/gid 0, no user or group names.
import { InvalidParameterError } from '../../errors.js';
import { setChecksum } from '../tar.js';

export const BLOCK = 512;

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

export interface OuterHeader {
  name: string;
  type: 'file' | 'dir';
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
}

function octal(b: Buffer, off: number, len: number, v: number): void {
  const s = Math.floor(v).toString(8);
  if (s.length > len - 1) throw new InvalidParameterError(`tar header field too large: ${v}`);
  b.write(s.padStart(len - 1, '0'), off, len - 1, 'latin1');
  b[off + len - 1] = 0;
}

export function outerHeader(h: OuterHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  if (name.length > 100 || !/^[\x21-\x7e]+$/.test(name)) throw new InvalidParameterError(`archive entry name not representable: ${name}`);
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'latin1');
  octal(b, 100, 8, (h.type === 'dir' ? S_IFDIR | 0o755 : S_IFREG | 0o644));
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.type === 'dir' ? 0 : h.size);
  octal(b, 136, 12, Math.max(0, h.mtime));
  b.fill(0x20, 148, 156);
  b[156] = h.type === 'dir' ? 0x35 : 0x30;
  b.write('ustar\u000000', 257, 8, 'latin1');
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  setChecksum(b);
  return b;
}

const ZEROS = Buffer.alloc(BLOCK * 2);

export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - r);
}

export const END_OF_ARCHIVE = ZEROS;
