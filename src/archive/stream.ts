// Byte-stream plumbing for layers: compression detection by magic number, decompression, and
// sha256 digests of both the compressed and the uncompressed bytes (digest vs diff_id).

import { createHash, type Hash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidParameterError } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Docker's DetectCompression (pkg/archive). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head[0] === 0xfd && head.toString('latin1', 1, 6) === '7zXZ\0') return 'xz';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** The first bytes (up to 512) are those of a tar, plain (ustar magic) or compressed. */
export function looksLikeArchive(head: Buffer): boolean {
  if (detectCompression(head) !== 'none') return true;
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

/** A pass-through that hashes what flows through it; read `digest` / `size` after the end. */
export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private _size = 0;
  private _digest: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this._size += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this._digest = `sha256:${this.hash.digest('hex')}`;
    cb();
  }

  get size(): number {
    return this._size;
  }

  /** `sha256:<hex>` of all bytes seen; only valid once the stream has ended. */
  get digest(): string {
    if (this._digest === undefined) throw new Error('DigestStream: digest read before end of stream');
    return this._digest;
  }
}

/** Incremental sha256 + byte count. */
export class Digester {
  private readonly hash: Hash = createHash('sha256');
  private counting = false;
  size = 0;
  update(b: Buffer): void {
    if (!this.counting) this.hash.update(b);
    this.size += b.length;
  }
  /** From now on only count bytes (someone else hashes the same bytes); digest() is then unavailable. */
  countOnly(): void {
    this.counting = true;
  }
  digest(): string {
    if (this.counting) throw new Error('Digester: digest of a counting-only digester');
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** sha256 of a whole stream (e.g. a blob); resolves `{ digest, size }`. */
export async function digestOf(input: Readable): Promise<{ digest: string; size: number }> {
  const d = new Digester();
  for await (const c of input) d.update(c as Buffer);
  return { digest: d.digest(), size: d.size };
}

const EXTERNAL: Record<string, [string, string[]]> = {
  bzip2: ['bzip2', ['-dc']],
  xz: ['xz', ['-dc']],
  zstd: ['zstd', ['-dcq']],
};

/** Decompresses through a child process (bzip2/xz/zstd: Node 20 has no zlib for them). */
function externalDecompress(compression: Compression, src: Readable): { chunks: AsyncIterator<Buffer>; kill(): void } {
  const [cmd, args] = EXTERNAL[compression]!;
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const errs: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => errs.push(b));
  let spawnError: Error | undefined;
  const exit = new Promise<number>((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = new InvalidParameterError(
        e.code === 'ENOENT' ? `unsupported compression ${compression}: ${cmd} is not installed` : `${cmd}: ${e.message}`,
      );
      resolve(-1);
    });
    child.on('close', (code) => resolve(code ?? -1));
  });
  child.stdin.on('error', () => { /* surfaced via the exit status */ });
  src.on('error', () => child.stdin.destroy());
  src.pipe(child.stdin);
  async function* gen(): AsyncGenerator<Buffer> {
    for await (const c of child.stdout) yield c as Buffer;
    const code = await exit;
    if (spawnError) throw spawnError;
    if (code !== 0) {
      throw new InvalidParameterError(`corrupt ${compression} stream: ${Buffer.concat(errs).toString().trim() || `exit ${code}`}`);
    }
  }
  return { chunks: gen(), kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); } };
}

export interface OpenedStream {
  compression: Compression;
  /** Uncompressed bytes. */
  chunks: AsyncIterator<Buffer>;
  /** Digest/size of the raw (possibly compressed) input; complete once `chunks` is exhausted. Uncompressed: size only (the digest is the uncompressed one). */
  raw: Digester;
  destroy(err?: Error): void;
}

/**
 * Peeks at the input to detect compression and returns an iterator over the uncompressed bytes.
 * Decompression errors surface as InvalidParameterError from the iterator.
 */
export async function openMaybeCompressed(input: Readable, opts: { hashRaw?: boolean } = {}): Promise<OpenedStream> {
  const raw = new Digester();
  // A caller that verified the raw bytes already (a pulled blob) needs their size only.
  if (opts.hashRaw === false) raw.countOnly();
  const it = (input[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < 6) {
    const r = await it.next();
    if (r.done) { ended = true; break; }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    raw.update(b);
    head.push(b);
    headLen += b.length;
  }
  const first = Buffer.concat(head);
  const compression = detectCompression(first);
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      raw.update(r.value);
      yield r.value;
    }
  }
  if (compression === 'none') {
    // Uncompressed: the raw digest is the uncompressed one, which the consumer hashes anyway.
    raw.countOnly();
    const chunks = rest();
    return { compression, chunks, raw, destroy: (e) => { void chunks.return(undefined); input.destroy(e); } };
  }
  const src = Readable.from(rest(), { objectMode: false });
  if (compression !== 'gzip') {
    const ext = externalDecompress(compression, src);
    return { compression, chunks: ext.chunks, raw, destroy: (e) => { ext.kill(); src.destroy(e); input.destroy(e); } };
  }
  const dec = createGunzip({ chunkSize: 128 * 1024 });
  src.on('error', (e) => dec.destroy(e));
  // Its errors reach the reader through the iterator; one after the reader stopped (the input
  // failing after a bad layer was already refused) has no one to tell and must not crash.
  dec.on('error', () => undefined);
  src.pipe(dec);
  const base = dec[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: AsyncIterator<Buffer> = {
    async next() {
      try {
        return await base.next();
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err instanceof InvalidParameterError) throw err;
        if (typeof err.code === 'string' && err.code.startsWith('Z_')) {
          throw new InvalidParameterError(`corrupt gzip stream: ${err.message}`);
        }
        throw err;
      }
    },
  };
  return {
    compression,
    chunks,
    raw,
    destroy: (e) => { src.destroy(e); dec.destroy(e); input.destroy(e); },
  };
}

/**
 * Pull-based reader over a chunk iterator that hashes every uncompressed byte it receives
 * (the diff ID covers the whole stream, including anything after the end-of-archive marker).
 */
export class ByteReader {
  private bufs: Buffer[] = [];
  private head = 0; // index into bufs
  private off = 0; // offset into bufs[head]
  private avail = 0;
  private done = false;
  readonly digest = new Digester();
  /** Sees every byte handed out (or drained), in order; `data` while an entry's content is read (tar-split). */
  private observer: ((b: Buffer, data: boolean) => void) | undefined;
  /** Set by the tar reader around reads of an entry's content. */
  data = false;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  observe(fn: (b: Buffer, data: boolean) => void): void {
    this.observer = fn;
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const b = r.value;
    this.digest.update(b);
    if (b.length > 0) {
      if (this.head > 64) {
        this.bufs = this.bufs.slice(this.head);
        this.head = 0;
      }
      this.bufs.push(b);
      this.avail += b.length;
    }
    return true;
  }

  /** Up to `max` bytes (≥ 1), or null at end of stream. Zero-copy where possible. */
  async chunk(max: number): Promise<Buffer | null> {
    while (this.avail === 0) if (!(await this.fill())) return null;
    const b = this.bufs[this.head]!;
    const n = Math.min(max, b.length - this.off);
    const out = b.subarray(this.off, this.off + n);
    this.off += n;
    this.avail -= n;
    if (this.off === b.length) {
      this.head++;
      this.off = 0;
    }
    this.observer?.(out, this.data);
    return out;
  }

  /** Exactly n bytes; null if the stream ends before the first byte; throws on a partial read. */
  async exact(n: number, what: string): Promise<Buffer | null> {
    if (n === 0) return Buffer.alloc(0);
    while (this.avail < n) {
      if (!(await this.fill())) {
        if (this.avail === 0) return null;
        throw new InvalidParameterError(`invalid tar archive: unexpected end of stream in ${what}`);
      }
    }
    const first = await this.chunk(n);
    if (first!.length === n) return first;
    const parts = [first!];
    let got = first!.length;
    while (got < n) {
      const c = (await this.chunk(n - got))!;
      parts.push(c);
      got += c.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Skips n bytes; throws if the stream ends first. */
  async skip(n: number, what: string): Promise<void> {
    while (n > 0) {
      const c = await this.chunk(n);
      if (!c) throw new InvalidParameterError(`invalid tar archive: unexpected end of stream in ${what}`);
      n -= c.length;
    }
  }

  /** Reads (and hashes) everything that is left. */
  async drain(): Promise<void> {
    this.data = false;
    if (this.observer) {
      while (await this.chunk(Infinity));
      return;
    }
    this.bufs = [];
    this.head = 0;
    this.off = 0;
    this.avail = 0;
    while (await this.fill()) {
      this.bufs = [];
      this.avail = 0;
    }
  }

  /** Total uncompressed bytes received so far. */
  get received(): number {
    return this.digest.size;
  }
}
