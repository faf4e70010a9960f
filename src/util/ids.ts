import { randomBytes, createHash } from 'node:crypto';

/** A 64-hex id as Docker uses for containers and exec instances. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function sha256(data: string | Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function digestHex(digest: string): string {
  return digest.replace(/^sha256:/, '');
}
