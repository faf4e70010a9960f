// Streaming bodies that must be archives (docker load, import, build contexts, docker cp into a
// container) are looked at before the answer starts: a body that is not a tar, nor a compression
// Docker reads, is a 400 rather than a 200 whose stream carries the error.
import type { IncomingMessage } from 'node:http';
import { InvalidParameterError } from '../../errors.js';

const TAR_BLOCK = 512;

/** gzip, bzip2, xz and zstd, the compressions Docker's archive.DecompressStream detects. */
const COMPRESSED: Buffer[] = [Buffer.from([0x1f, 0x8b]), Buffer.from('BZh'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from([0x28, 0xb5, 0x2f, 0xfd])];

/** A tar header block: its checksum (bytes summed with the checksum field read as spaces) matches, or it is the all-zero end block. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < TAR_BLOCK) return false;
  let zero = true;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    if (block[i] !== 0) zero = false;
    sum += b;
  }
  if (zero) return true;
  const field = block.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  return /^[0-7]+$/.test(field) && parseInt(field, 8) === sum;
}

export function looksLikeArchive(head: Buffer): boolean {
  return COMPRESSED.some((magic) => head.length >= magic.length && head.subarray(0, magic.length).equals(magic)) || isTarHeader(head);
}

/** The next sign of life from the body: data, its end, or the connection closing. */
function nextEvent(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      req.off('readable', done);
      req.off('end', done);
      req.off('close', done);
      resolve();
    };
    req.on('readable', done);
    req.on('end', done);
    req.on('close', done);
  });
}

/**
 * Reads up to `n` bytes of the request body and puts them back (unshift, before the stream can
 * emit its end), so the handler still reads the whole body. Resolves with what it saw.
 */
export async function peekBody(req: IncomingMessage, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < n && !req.readableEnded && !req.destroyed) {
    const chunk = req.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
    } else if (req.complete && req.readableLength === 0) break;
    else await nextEvent(req);
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) req.unshift(head);
  return head;
}

/** 400 unless the body starts as an archive. `what` names the body in the message, as Docker's errors do. */
export async function requireArchiveBody(req: IncomingMessage, what: string): Promise<void> {
  const head = await peekBody(req, TAR_BLOCK);
  if (head.length === 0) throw new InvalidParameterError(`${what}: the archive is empty`);
  if (!looksLikeArchive(head)) {
    throw new InvalidParameterError(`${what}: invalid tar archive: the first header's checksum does not match, and it is not gzip, bzip2, xz or zstd either`);
  }
}
