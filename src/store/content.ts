// Content-addressed blob store: every blob is named by the sha256 of its bytes and is
// verified on the way in. Pull, load, import and commit all ingest through ContentWriter.
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp, type ReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import { isNotFound } from '../util/fs.js';
import { logger } from '../util/logger.js';
import { digestHex, isDigest } from '../util/ids.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export class ContentWriter {
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private done = false;

  constructor(
    private readonly store: ContentStore,
    private readonly tmpPath: string,
    private readonly fh: fsp.FileHandle,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.size += chunk.length;
    await this.fh.write(chunk);
  }

  async writeStream(stream: Readable): Promise<void> {
    for await (const chunk of stream) await this.write(chunk as Buffer);
  }

  /** Moves the blob into place; fails and leaves nothing if the size or digest differ from what was expected. */
  async commit(expected: { size?: number; digest?: string } = {}): Promise<BlobInfo> {
    if (this.done) throw new Error('content writer already finished');
    this.done = true;
    const digest = 'sha256:' + this.hash.digest('hex');
    try {
      if (expected.size !== undefined && expected.size !== this.size) {
        throw new InvalidParameterError(`unexpected blob size ${this.size}, expected ${expected.size}`);
      }
      if (expected.digest !== undefined && expected.digest !== digest) {
        throw new InvalidParameterError(`digest mismatch: got ${digest}, expected ${expected.digest}`);
      }
      await this.fh.sync();
      await this.fh.close();
      const final = this.store.blobPath(digest);
      await fsp.rename(this.tmpPath, final);
      return { digest, size: this.size };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.tmpPath, { force: true });
  }
}

export class ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(root: string) {
    this.blobsDir = path.join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'content', 'ingest');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.blobsDir, { recursive: true });
    // Leftovers of ingests interrupted by a crash are never valid blobs. Partial registry
    // downloads go too, as dockerd discards its: a pull resumes one only while the daemon runs.
    await fsp.mkdir(this.ingestDir, { recursive: true });
    const partial = await fsp.readdir(path.join(this.ingestDir, 'partial')).catch(() => [] as string[]);
    if (partial.length > 0) logger.info(`discarding ${partial.length} partial download(s)`);
    for (const name of await fsp.readdir(this.ingestDir)) await fsp.rm(path.join(this.ingestDir, name), { recursive: true, force: true });
    await fsp.mkdir(path.join(this.ingestDir, 'partial'), { recursive: true });
  }

  /** Where a registry download of `digest` accumulates until it is complete and verified. */
  partialPath(digest: string): string {
    if (!isDigest(digest)) throw new InvalidParameterError(`invalid digest: ${digest}`);
    return path.join(this.ingestDir, 'partial', digestHex(digest));
  }

  blobPath(digest: string): string {
    if (!isDigest(digest)) throw new InvalidParameterError(`invalid digest: ${digest}`);
    return path.join(this.blobsDir, digestHex(digest));
  }

  /** A private scratch directory on the blobs' filesystem; init() removes any left behind by a crash. */
  async tempDir(prefix: string): Promise<string> {
    return fsp.mkdtemp(path.join(this.ingestDir, `${prefix}-`));
  }

  async writer(): Promise<ContentWriter> {
    const tmp = path.join(this.ingestDir, randomBytes(12).toString('hex'));
    const fh = await fsp.open(tmp, 'wx', 0o644);
    return new ContentWriter(this, tmp, fh);
  }

  /**
   * Takes a file under the ingest dir whose sha256 the caller computed while writing it (load's
   * spool) as the blob `digest`, by hard link: no second copy of a large layer. The file is
   * synced first, as a writer's commit would.
   */
  async adopt(file: string, digest: string): Promise<BlobInfo> {
    if (!path.resolve(file).startsWith(this.ingestDir + path.sep)) throw new Error(`adopt: ${file} is not under the ingest dir`);
    const fh = await fsp.open(file, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.link(file, this.blobPath(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return { digest, size: (await fsp.stat(this.blobPath(digest))).size };
  }

  async put(data: Buffer | string, expectedDigest?: string): Promise<BlobInfo> {
    const w = await this.writer();
    try {
      await w.write(Buffer.isBuffer(data) ? data : Buffer.from(data));
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit({ digest: expectedDigest });
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    try {
      const st = await fsp.stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.blobPath(digest));
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`blob ${digest} not found`);
      throw err;
    }
  }

  async readJson<T>(digest: string): Promise<T> {
    return JSON.parse((await this.read(digest)).toString('utf8')) as T;
  }

  createReadStream(digest: string): ReadStream {
    // Layers are large: 1 MiB reads instead of 64 KiB cut syscalls and wake-ups.
    return createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 });
  }

  async delete(digest: string): Promise<void> {
    await fsp.rm(this.blobPath(digest), { force: true });
  }

  async *walk(): AsyncGenerator<string> {
    for (const name of await fsp.readdir(this.blobsDir)) {
      if (/^[a-f0-9]{64}$/.test(name)) yield 'sha256:' + name;
    }
  }
}
