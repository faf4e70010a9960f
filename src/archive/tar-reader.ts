// Reading a tar stream entry by entry: PAX ('x', 'g'), GNU long names ('L', 'K') and the
// end-of-archive marker are handled here; callers see finished headers and each entry's data.

import { InvalidParameterError } from '../errors.js';
import type { ByteReader } from './stream.js';
import { BLOCK, decodeRawHeader, finishHeader, isZeroBlock, parsePax, type TarHeader } from './tar.js';

const MAX_LONG_HEADER = 1 << 20;

function bad(msg: string): InvalidParameterError {
  return new InvalidParameterError(`invalid tar archive: ${msg}`);
}

export function padOf(n: number): number {
  const r = n % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function cstrBuf(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}

export class TarReader {
  /** Data bytes of the current entry not read yet. */
  private left = 0;
  /** Padding after the current entry's data, still to skip. */
  private padding = 0;
  private ended = false;

  constructor(readonly bytes: ByteReader) {}

  /**
   * The next entry's header (skipping what is left of the current entry), or null at the end
   * of the archive. A stream that ends without an end marker ends the archive, as in Go.
   */
  async next(): Promise<(TarHeader & { typeflag: number }) | null> {
    if (this.ended) return null;
    await this.skipRest();
    let pax: Map<string, Buffer> | null = null;
    let longName: Buffer | null = null;
    let longLink: Buffer | null = null;
    for (;;) {
      const block = await this.bytes.exact(BLOCK, 'header');
      if (!block) return this.end();
      if (isZeroBlock(block)) {
        const next = await this.bytes.exact(BLOCK, 'end-of-archive marker');
        if (!next || isZeroBlock(next)) return this.end();
        throw bad('zero block followed by data');
      }
      const raw = decodeRawHeader(block);
      const flag = String.fromCharCode(raw.typeflag);
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (raw.size > MAX_LONG_HEADER) throw bad('extended header too large');
        const data = (await this.bytes.exact(raw.size, 'extended header')) ?? Buffer.alloc(0);
        if (data.length < raw.size) throw bad('unexpected end of stream in extended header');
        await this.bytes.skip(padOf(raw.size), 'extended header');
        if (flag === 'x') pax = parsePax(data);
        else if (flag === 'L') longName = cstrBuf(data);
        else if (flag === 'K') longLink = cstrBuf(data);
        // 'g' (global PAX): ignored, as moby does.
        continue;
      }
      const hdr = finishHeader(raw, pax, longName, longLink);
      this.left = hdr.type === 'file' ? hdr.size : 0;
      this.padding = padOf(this.left);
      return hdr;
    }
  }

  private end(): null {
    this.ended = true;
    return null;
  }

  /** Up to `max` bytes of the current entry's data; null once it is all read. */
  async read(max = 1 << 20): Promise<Buffer | null> {
    if (this.left === 0) return null;
    this.bytes.data = true;
    const c = await this.bytes.chunk(Math.min(max, this.left)).finally(() => (this.bytes.data = false));
    if (!c) throw bad('unexpected end of stream in file data');
    this.left -= c.length;
    return c;
  }

  /** Skips the rest of the current entry's data and its padding. */
  async skipRest(): Promise<void> {
    if (this.left > 0) await this.bytes.skip(this.left, 'file data');
    this.left = 0;
    // A stream that ends right after the data (no padding) is a clean end, as Go's reader has it; umoci writes such layers.
    if (this.padding > 0) await this.bytes.exact(this.padding, 'file padding');
    this.padding = 0;
  }
}
