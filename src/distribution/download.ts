// Downloads one blob to a file, verifying its size and digest while it streams. A download cut
// short leaves its bytes in place and the next attempt continues with a Range request; bytes
// that fail verification are removed, since they can never become the blob.
import { isNoSpace } from '../util/fs.js';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { RegistryError } from '../errors.js';
import type { Descriptor } from '../oci/image-spec.js';
import { TransportError } from './http.js';
import type { Repository } from './repository.js';
import { BatchedWriter, WRITE_BATCH } from '../util/batched-writer.js';

async function hashFile(file: string, hash: Hash): Promise<number> {
  let n = 0;
  for await (const c of createReadStream(file)) {
    hash.update(c as Buffer);
    n += (c as Buffer).length;
  }
  return n;
}

/** The first `n` bytes of a file (what an earlier attempt downloaded) to a feed. */
async function feedFile(file: string, n: number, feed: (chunk: Buffer) => Promise<void>): Promise<void> {
  for await (const c of createReadStream(file, { start: 0, end: n - 1, highWaterMark: WRITE_BATCH })) await feed(c as Buffer);
}

async function existingSize(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

export class VerificationError extends RegistryError {}

/**
 * Fetches `desc` into `file` (resuming what is there). `onProgress(bytesSoFar)` reports bytes.
 * Resolves once the file holds exactly the blob.
 */
export async function downloadBlob(
  repo: Repository,
  desc: Descriptor,
  file: string,
  onProgress: (current: number) => void,
  /** Also hands every byte of the blob, in order, to a consumer (a pull unpacking as it downloads); it sees unverified bytes, verification is the resolved promise. */
  feed?: (chunk: Buffer) => Promise<void>,
): Promise<void> {
  let have = await existingSize(file);
  if (have > desc.size) {
    await fsp.rm(file, { force: true });
    have = 0;
  }
  let hash = createHash('sha256');
  if (have > 0) await hashFile(file, hash);
  if (have < desc.size || desc.size === 0) {
    const { res, partial } = await repo.openBlob(desc.digest, have);
    if (!partial && have > 0) {
      // The registry ignored the Range: start again from zero.
      have = 0;
      hash = createHash('sha256');
    }
    if (feed && have > 0) await feedFile(file, have, feed);
    const fh = await fsp.open(file, have > 0 ? 'a' : 'w', 0o600);
    const out = new BatchedWriter(fh);
    try {
      for await (const chunk of res.body) {
        const c = chunk as Buffer;
        if (have + c.length > desc.size) {
          res.body.destroy();
          await out.settle();
          await fh.close().catch(() => undefined);
          await fsp.rm(file, { force: true });
          throw new VerificationError(`filesystem layer verification failed for digest ${desc.digest}: more data than the ${desc.size} bytes the manifest declares`);
        }
        hash.update(c);
        await out.write(c);
        if (feed) await feed(c);
        have += c.length;
        onProgress(have);
      }
      await out.flush();
    } catch (err) {
      // A full disk is not the registry's doing: said in Go's words, and the pull drops what it holds.
      if (err instanceof VerificationError || isNoSpace(err)) throw err;
      // Keep what arrived: the next pull resumes from here (it hashes the file again).
      await out.flush().catch(() => undefined);
      throw new TransportError(`error pulling blob ${desc.digest}: ${(err as Error).message}`);
    } finally {
      await fh.close().catch(() => undefined);
    }
    if (have < desc.size) throw new TransportError(`error pulling blob ${desc.digest}: unexpected EOF (${have} of ${desc.size} bytes)`);
  } else if (feed) {
    await feedFile(file, have, feed);
  }
  const got = 'sha256:' + hash.digest('hex');
  if (got !== desc.digest) {
    await fsp.rm(file, { force: true });
    throw new VerificationError(`filesystem layer verification failed for digest ${desc.digest}`);
  }
}
