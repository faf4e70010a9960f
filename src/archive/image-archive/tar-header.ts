// Headers of the outer image archive exactly as Go's archive/tar writes them for dockerd's save
// (tar.FileInfoHeader without user lookups, PAX format forced, which for short ASCII names is a
// plain USTAR block): type bits in the mode, uid/gid 0, no user or group names.
import { InvalidParameterError } from '../../errors.js';
import { rawBlock } from '../tar.js';

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

export function outerHeader(h: OuterHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  if (name.length > 100 || !/^[\x21-\x7e]+$/.test(name)) throw new InvalidParameterError(`archive entry name not representable: ${name}`);
  const size = h.type === 'dir' ? 0 : h.size;
  if (size >= 8 ** 11) throw new InvalidParameterError(`tar header field too large: ${size}`);
  return rawBlock({
    name,
    prefix: '',
    mode: h.type === 'dir' ? S_IFDIR | 0o755 : S_IFREG | 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime: Math.max(0, Math.floor(h.mtime)),
    typeflag: h.type === 'dir' ? 0x35 : 0x30,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
}

const ZEROS = Buffer.alloc(BLOCK * 2);

export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - r);
}

export const END_OF_ARCHIVE = ZEROS;
