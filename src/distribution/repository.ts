// One repository on a registry: manifests (fetched with a size cap and verified against their
// digest), blobs (ranged reads for resumed downloads), uploads (monolithic or chunked PATCH,
// cross-repository mounts) and tags.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { RegistryError } from '../errors.js';
import { repositoryScope } from './auth.js';
import { discard, readBody, type HttpResponse } from './http.js';
import { ACCEPTED_MANIFEST_TYPES, MAX_MANIFEST_SIZE } from './manifest.js';
import type { Registry } from './registry.js';

export interface FetchedManifest {
  bytes: Buffer;
  /** From Content-Type (falling back to the body's mediaType later). */
  contentType: string;
  /** sha256 of the bytes: what the manifest is addressed by. */
  digest: string;
}

export function sha256Of(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export class Repository {
  constructor(
    readonly registry: Registry,
    /** Path inside the registry: "library/busybox". */
    readonly path: string,
    /** Token actions this operation needs ("pull" or "pull,push"). */
    private readonly actions: string[],
  ) {}

  private get scopes(): string[] {
    return [repositoryScope(this.path, this.actions)];
  }

  /** By tag or digest. A digest reference is verified against the bytes. */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.registry.call({
      method: 'GET',
      path: `/v2/${this.path}/manifests/${reference}`,
      headers: { Accept: ACCEPTED_MANIFEST_TYPES.join(', ') },
      scopes: this.scopes,
    });
    const bytes = await readBody(res, MAX_MANIFEST_SIZE, 'manifest');
    const digest = sha256Of(bytes);
    if (reference.includes(':') && reference !== digest) {
      throw new RegistryError(`manifest verification failed for digest ${reference}`);
    }
    const header = String(res.headers['docker-content-digest'] ?? '');
    if (!reference.includes(':') && header.startsWith('sha256:') && header !== digest) {
      throw new RegistryError(`manifest digest mismatch: the registry says ${header}, the content is ${digest}`);
    }
    return { bytes, contentType: String(res.headers['content-type'] ?? '').split(';')[0].trim(), digest };
  }

  /** Streams a blob from `offset`; `partial` tells whether the registry honoured the Range. */
  async openBlob(digest: string, offset: number): Promise<{ res: HttpResponse; partial: boolean; total?: number }> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers['Range'] = `bytes=${offset}-`;
    const res = await this.registry.call({ method: 'GET', path: `/v2/${this.path}/blobs/${digest}`, headers, scopes: this.scopes }, [416]);
    if (res.status === 416) {
      discard(res);
      return this.openBlob(digest, 0);
    }
    const partial = res.status === 206;
    let total: number | undefined;
    const range = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
    if (partial && range) total = Number(range[1]);
    else if (!partial && res.headers['content-length'] !== undefined) total = Number(res.headers['content-length']);
    if (partial && !new RegExp(`^bytes ${offset}-`).test(String(res.headers['content-range'] ?? ''))) {
      // A range that does not start where we asked cannot be appended: start over.
      discard(res);
      return this.openBlob(digest, 0);
    }
    return { res, partial, total };
  }

  /** A small blob (an image config) read whole, with its digest and size checked. */
  async getBlobBytes(digest: string, size: number, max: number): Promise<Buffer> {
    if (size > max) throw new RegistryError(`blob ${digest} is too large (${size} bytes, limit ${max})`);
    const res = await this.registry.call({ method: 'GET', path: `/v2/${this.path}/blobs/${digest}`, scopes: this.scopes });
    const bytes = await readBody(res, max, `blob ${digest}`);
    if (bytes.length !== size || sha256Of(bytes) !== digest) throw new RegistryError(`blob verification failed for digest ${digest}`);
    return bytes;
  }

  async blobSize(digest: string, scopes = this.scopes): Promise<number | undefined> {
    const res = await this.registry.call({ method: 'HEAD', path: `/v2/${this.path}/blobs/${digest}`, scopes }, [404]);
    discard(res);
    if (res.status === 404) return undefined;
    const n = Number(res.headers['content-length']);
    return Number.isFinite(n) ? n : 0;
  }

  /** Cross-repository mount; true when the registry linked the blob (201). */
  async mountBlob(digest: string, fromPath: string): Promise<boolean> {
    const scopes = [...this.scopes, repositoryScope(fromPath, ['pull'])];
    const res = await this.registry.call({
      method: 'POST',
      path: `/v2/${this.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromPath)}`,
      headers: { 'Content-Length': '0' },
      scopes,
    });
    discard(res);
    if (res.status === 201) return true;
    // 202: the registry opened an upload instead; cancel it so it does not linger.
    const loc = res.headers.location;
    if (loc) {
      const url = new URL(loc, res.url).toString();
      await this.registry.request({ method: 'DELETE', path: url, scopes: this.scopes }).then(discard, () => undefined);
    }
    return false;
  }

  /**
   * Uploads a blob whose bytes are at hand (an image config): one PUT, or PATCH chunks of
   * `chunkSize` through uploadStream when it is larger.
   */
  async uploadBlob(digest: string, bytes: Buffer, chunkSize: number): Promise<void> {
    if (bytes.length > chunkSize) {
      const sent = await this.uploadStream([bytes], chunkSize, () => undefined);
      if (sent.digest !== digest) throw new RegistryError(`uploaded ${sent.digest} for blob ${digest}`);
      return;
    }
    const start = await this.registry.call({ method: 'POST', path: `/v2/${this.path}/blobs/uploads/`, headers: { 'Content-Length': '0' }, scopes: this.scopes });
    discard(start);
    const res = await this.registry.call({
      method: 'PUT',
      path: withDigest(this.location(start), digest),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
      body: bytes,
      scopes: this.scopes,
    });
    discard(res);
  }

  /**
   * Uploads a blob whose digest is not known yet (a layer being compressed): PATCH requests of
   * up to `chunkSize` bytes each, every one streamed as the bytes come (chunked transfer encoding,
   * no Content-Range: the registry appends, as with dockerd's single streamed PATCH), hashing
   * them on the way; then the closing PUT with the digest.
   */
  async uploadStream(input: AsyncIterable<Buffer> | Iterable<Buffer>, chunkSize: number, onProgress: (sent: number) => void): Promise<{ digest: string; size: number }> {
    const start = await this.registry.call({ method: 'POST', path: `/v2/${this.path}/blobs/uploads/`, headers: { 'Content-Length': '0' }, scopes: this.scopes });
    discard(start);
    let location = this.location(start);
    const hash = createHash('sha256');
    let offset = 0;
    const source = new ChunkSource(input);
    while (await source.more()) {
      const part = source.take(chunkSize, (b) => {
        hash.update(b);
        offset += b.length;
        onProgress(offset);
      });
      const res = await this.registry.call({
        method: 'PATCH',
        path: location,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: Readable.from(part, { objectMode: false }),
        scopes: this.scopes,
      });
      discard(res);
      location = this.location(res);
    }
    const digest = `sha256:${hash.digest('hex')}`;
    const done = await this.registry.call({ method: 'PUT', path: withDigest(location, digest), headers: { 'Content-Length': '0' }, body: Buffer.alloc(0), scopes: this.scopes });
    discard(done);
    return { digest, size: offset };
  }

  private location(res: HttpResponse): string {
    const loc = res.headers.location;
    if (!loc) throw new RegistryError(`the registry gave no upload location for ${this.path}`);
    return new URL(loc, res.url).toString();
  }

  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.registry.call({
      method: 'PUT',
      path: `/v2/${this.path}/manifests/${reference}`,
      headers: { 'Content-Type': mediaType },
      body: bytes,
      scopes: this.scopes,
    });
    discard(res);
    return sha256Of(bytes);
  }

  /** All tags (following the Link header's pagination). */
  async tags(): Promise<string[]> {
    const out: string[] = [];
    let path = `/v2/${this.path}/tags/list`;
    for (let page = 0; page < 1000; page++) {
      const res = await this.registry.call({ method: 'GET', path, scopes: this.scopes });
      const body = await readBody(res, 16 * 1024 * 1024, 'tag list');
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new RegistryError(`the tag list of ${this.path} is not JSON`);
      }
      if (Array.isArray(parsed.tags)) out.push(...parsed.tags.filter((t): t is string => typeof t === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      if (!link) break;
      path = new URL(link[1], res.url).toString();
    }
    return out;
  }
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** The stream's bytes regrouped into buffers of `size` (the last one shorter). */
/** Hands out a byte stream in pieces of at most a given size, without copying it. */
class ChunkSource {
  private readonly it: AsyncIterator<Buffer> | Iterator<Buffer>;
  private head: Buffer | undefined;
  private ended = false;

  constructor(input: AsyncIterable<Buffer> | Iterable<Buffer>) {
    this.it = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  }

  /** Whether any bytes are left (waits for the next buffer when needed). */
  async more(): Promise<boolean> {
    while (!this.head && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) this.head = r.value;
    }
    return this.head !== undefined;
  }

  /** The next `size` bytes (fewer at the end), each buffer passed to `seen` as it goes. */
  async *take(size: number, seen: (b: Buffer) => void): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0 && (await this.more())) {
      let b = this.head!;
      this.head = undefined;
      if (b.length > left) {
        this.head = b.subarray(left);
        b = b.subarray(0, left);
      }
      left -= b.length;
      seen(b);
      yield b;
    }
  }
}
