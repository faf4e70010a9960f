// Appending a stream of small chunks (network reads, 16–64 KiB) to a file in large writes.
import type { promises as fsp } from 'node:fs';

/** Bytes gathered before one write: a network chunk (16–64 KiB) per write costs more than the write. */
export const WRITE_BATCH = 1024 * 1024;

/**
 * Appends chunks to a file in large writes, one write in flight while the next batch gathers,
 * so the download neither waits for every small write nor buffers without bound.
 */
export class BatchedWriter {
  private batch: Buffer[] = [];
  private batched = 0;
  private inflight: Promise<void> = Promise.resolve();
  private failed: Error | undefined;

  constructor(private readonly fh: fsp.FileHandle) {}

  async write(c: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.batch.push(c);
    this.batched += c.length;
    if (this.batched >= WRITE_BATCH) await this.push();
  }

  private async push(): Promise<void> {
    await this.inflight;
    if (this.failed) throw this.failed;
    const bufs = this.batch;
    this.batch = [];
    this.batched = 0;
    this.inflight = this.writeAll(bufs).catch((err: Error) => {
      this.failed = err;
    });
  }

  private async writeAll(bufs: Buffer[]): Promise<void> {
    let rest = bufs;
    while (rest.length > 0) {
      const { bytesWritten } = await this.fh.writev(rest);
      rest = skipBytes(rest, bytesWritten);
    }
  }

  /** Writes everything gathered; throws the first write error. */
  async flush(): Promise<void> {
    if (this.batched > 0) await this.push();
    await this.settle();
    if (this.failed) throw this.failed;
  }

  /** Waits for the write in flight (its error is kept, not thrown). */
  async settle(): Promise<void> {
    await this.inflight;
  }
}

function skipBytes(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}

