// Gzip on every core, as pigz does: the input is cut into blocks that are compressed at the same
// time on libuv's thread pool (zlib's async calls run there) and written out in order. Each block
// is a gzip member of its own; RFC 1952 lets a file be a series of members, and every gunzip we
// meet (Go's compress/gzip, Node's zlib, GNU gzip, pigz) reads them as one stream. Output is
// deterministic for a given input, block size and level.
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { gzip, type ZlibOptions } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip) as (buf: Buffer, opts: ZlibOptions) => Promise<Buffer>;

export interface ParallelGzipOptions {
  /** Uncompressed bytes per member. Smaller blocks lose a little ratio (each starts without a window). */
  blockSize?: number;
  /** Blocks compressed at once; defaults to the number of cores. */
  concurrency?: number;
  level?: number;
}

export class ParallelGzip extends Transform {
  private readonly blockSize: number;
  private readonly concurrency: number;
  private readonly level: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Compressions in flight, oldest first; their results are pushed in this order. */
  private inFlight: Promise<Buffer>[] = [];

  constructor(opts: ParallelGzipOptions = {}) {
    super();
    this.blockSize = opts.blockSize ?? 1 << 20;
    this.concurrency = Math.max(1, opts.concurrency ?? availableParallelism());
    this.level = opts.level;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainFullBlocks().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (this.pendingBytes > 0) this.start(Buffer.concat(this.pending));
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
      const all = Buffer.concat(this.pending);
      this.start(all.subarray(0, this.blockSize));
      const rest = all.subarray(this.blockSize);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      // Back-pressure: take more input only while fewer than `concurrency` blocks are in flight.
      await this.settle(this.concurrency - 1);
    }
  }

  private start(block: Buffer): void {
    // One output chunk per block: zlib's default 16 KiB ones make compression ~1.3× slower.
    const opts: ZlibOptions = { chunkSize: this.blockSize + 64 * 1024, ...(this.level === undefined ? {} : { level: this.level }) };
    const p = gzipAsync(block, opts);
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
