// What a build may fetch over the network: a `remote` context (a tar or a Dockerfile) and ADD's
// URLs — from this host's loopback only (nothing else is reachable, or allowed, here).
import { Readable } from 'node:stream';
import { InvalidParameterError } from '../errors.js';
import { fileTar } from '../archive/tar.js';
import { looksLikeArchive } from '../archive/stream.js';

const MAX_DOCKERFILE = 16 * 1024 * 1024;

function loopbackUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidParameterError(`invalid URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidParameterError(`unsupported URL scheme ${url.protocol} in ${raw}: only http and https`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new InvalidParameterError(`${raw}: only URLs on this host's loopback can be fetched`);
  }
  return url;
}

/** GETs a loopback URL; a status other than 2xx is the client's error. */
export async function fetchLoopback(raw: string, signal?: AbortSignal): Promise<Response> {
  const url = loopbackUrl(raw);
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'error' });
  } catch (err) {
    throw new InvalidParameterError(`error downloading ${raw}: ${(err as Error).message}`);
  }
  if (!res.ok || !res.body) throw new InvalidParameterError(`error downloading ${raw}: status ${res.status}`);
  return res;
}

/** A `remote` build context: a tar as it comes, or a Dockerfile made the context's only file. */
export async function remoteContext(raw: string, dockerfile: string, signal?: AbortSignal): Promise<Readable> {
  const res = await fetchLoopback(raw, signal);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < 512 && !done) {
    const r = await reader.read();
    done = r.done;
    if (r.value) {
      chunks.push(Buffer.from(r.value));
      size += r.value.length;
    }
  }
  const head = Buffer.concat(chunks);
  if (looksLikeArchive(head)) {
    return Readable.from(
      (async function* () {
        yield head;
        for (let r = done ? { done: true } : await reader.read(); !r.done; r = await reader.read()) yield Buffer.from((r as { value: Uint8Array }).value);
      })(),
    );
  }
  while (!done) {
    const r = await reader.read();
    done = r.done;
    if (r.value) chunks.push(Buffer.from(r.value));
    size += r.value?.length ?? 0;
    if (size > MAX_DOCKERFILE) throw new InvalidParameterError(`${raw}: the Dockerfile is larger than ${MAX_DOCKERFILE} bytes`);
  }
  return Readable.from([fileTar(dockerfile || 'Dockerfile', Buffer.concat(chunks))]);
}
