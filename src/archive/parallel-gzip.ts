// Gzip on every core, as pigz does: the input is cut into blocks that are compressed at the same
// time on libuv's thread pool (zlib's async calls run there) and written out in order. Each block
// is a gzip member of its own; RFC 1952 lets a file be a series of members, and every gunzip we
// meet (Go's compress/gzip, Node's zlib, GNU gzip, pigz) reads them as one stream. Output is
// deterministic for a given input, block size and level.
//
// Stretches of a block whose bytes look random (already compressed or encrypted content: the
// byte entropy is close to 8 bits) are stored rather than deflated, as zstd does with such
// blocks: deflating them costs ~6× as much CPU here and gains nothing.
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { gzip, type ZlibOptions } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip) as (buf: Buffer, opts: ZlibOptions) => Promise<Buffer>;

/**
 * Incompressible data is told apart window by window: the entropy of the first SAMPLE bytes of
 * each WINDOW. Random data measures 7.95+ bits per byte on 4 KiB; text, code and binaries 4–7;
 * deflate gains ~1 % at 7.9.
 */
const WINDOW = 32 * 1024;
const SAMPLE = 4096;
const INCOMPRESSIBLE_ENTROPY = 7.9;

export interface ParallelGzipOptions {
  /** Uncompressed bytes per block. Smaller blocks lose a little ratio (each member starts without a window). */
  blockSize?: number;
  /** Blocks in flight at once; defaults to four per core: stored blocks finish fast, deflated ones do not, and the results leave in order. */
  concurrency?: number;
  level?: number;
}

/** Shannon entropy of the bytes, in bits per byte. */
function byteEntropy(bytes: Uint8Array): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < bytes.length; i++) counts[bytes[i]!]++;
  let h = 0;
  for (const c of counts) {
    if (c === 0) continue;
    const p = c / bytes.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** The block cut where its windows change between compressible and not, each piece marked. */
export function splitByEntropy(block: Buffer): { bytes: Buffer; random: boolean }[] {
  const out: { bytes: Buffer; random: boolean }[] = [];
  let from = 0;
  let current: boolean | undefined;
  for (let at = 0; at < block.length; at += WINDOW) {
    const random = byteEntropy(block.subarray(at, at + SAMPLE)) >= INCOMPRESSIBLE_ENTROPY;
    if (current !== undefined && random !== current) {
      out.push({ bytes: block.subarray(from, at), random: current });
      from = at;
    }
    current = random;
  }
  out.push({ bytes: block.subarray(from), random: current ?? false });
  return out;
}

export class ParallelGzip extends Transform {
  private readonly blockSize: number;
  private readonly concurrency: number;
  private readonly level: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Compressions in flight, oldest first; their results are pushed in this order. */
  private inFlight: Promise<Buffer>[] = [];
  private started = 0;

  constructor(opts: ParallelGzipOptions = {}) {
    const concurrency = Math.max(1, opts.concurrency ?? 4 * availableParallelism());
    // Out come whole members, one Buffer each: a byte-mode readable would copy them together
    // again at every read.
    super({ readableObjectMode: true, readableHighWaterMark: concurrency });
    this.blockSize = opts.blockSize ?? 1024 * 1024;
    this.concurrency = concurrency;
    this.level = opts.level;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainFullBlocks().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    // Empty input still makes a gzip file: one empty member.
    if (this.pendingBytes > 0 || this.started === 0) this.start(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
    this.settle(0).then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (error: Error | null) => void): void {
    // Compressions still running finish on the pool; their results are dropped.
    for (const p of this.inFlight) p.catch(() => undefined);
    this.inFlight = [];
    done(err);
  }

  private async drainFullBlocks(): Promise<void> {
    while (this.pendingBytes >= this.blockSize) {
      // A file read of a block's size or more is used in place, not copied together.
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.start(all.subarray(0, this.blockSize));
      const rest = all.subarray(this.blockSize);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      // Back-pressure: take more input only while fewer than `concurrency` blocks are in flight.
      await this.settle(this.concurrency - 1);
    }
  }

  private start(block: Buffer): void {
    for (const piece of splitByEntropy(block)) this.startMember(piece.bytes, piece.random ? 0 : this.level);
  }

  private startMember(bytes: Buffer, level: number | undefined): void {
    // One output chunk per member: zlib's default 16 KiB ones make compression ~1.3× slower.
    const opts: ZlibOptions = { chunkSize: this.blockSize + 64 * 1024, ...(level === undefined ? {} : { level }) };
    this.started++;
    const p = gzipAsync(bytes, opts);
    p.catch(() => undefined); // awaited in order by settle; this keeps an early failure from being "unhandled"
    this.inFlight.push(p);
  }

  /** Pushes finished blocks, oldest first, until at most `max` are still in flight. */
  private async settle(max: number): Promise<void> {
    while (this.inFlight.length > max) {
      const out = await this.inFlight[0];
      this.inFlight.shift();
      if (!this.destroyed) this.push(out);
    }
  }
}
