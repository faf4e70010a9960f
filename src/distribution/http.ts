// The HTTP client under the registry protocol: node:http/https with a per-registry CA, redirects
// followed (capped) for reads only, and two timeouts: one until the response headers arrive and
// one for a connection that stops flowing either way, so a registry that hangs never hangs a pull.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { RegistryError } from '../errors.js';
import type { RegistryTls } from './certs.js';

export interface TransportOptions extends RegistryTls {
  /** An insecure registry's https endpoint: any certificate is accepted, as dockerd does. */
  insecureSkipVerify?: boolean;
  /** Connect + response headers, in ms. */
  headerTimeoutMs: number;
  /** Longest pause inside a response body, in ms. */
  idleTimeoutMs: number;
  maxRedirects: number;
}

export const DEFAULT_TRANSPORT: TransportOptions = { headerTimeoutMs: 30_000, idleTimeoutMs: 60_000, maxRedirects: 10 };

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The final URL after redirects (Location headers of uploads are relative to it). */
  url: string;
  body: IncomingMessage;
}

/** A failure below HTTP (refused, reset, TLS, timeout): the caller may try another endpoint. */
export class TransportError extends RegistryError {
  constructor(
    message: string,
    readonly tls = false,
  ) {
    super(message);
  }
}

let systemCa: string[] | undefined;

async function caBundle(extra: string[] | undefined): Promise<string[] | undefined> {
  if (!extra || extra.length === 0) return undefined;
  if (!systemCa) {
    const tls = await import('node:tls');
    systemCa = [...tls.rootCertificates];
  }
  return [...systemCa, ...extra];
}

/** Go's url.Error spelling, which Docker's messages carry: Get "https://…": … */
export function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|EPROTO|ERR_SSL/i;

function tlsOptions(opts: TransportOptions, ca: string[] | undefined): https.RequestOptions {
  if (opts.insecureSkipVerify) return { rejectUnauthorized: false };
  return { ...(ca ? { ca } : {}), ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}) };
}

function once(req: HttpRequest, opts: TransportOptions, ca: string[] | undefined): Promise<HttpResponse> {
  const url = new URL(req.url);
  const isHttps = url.protocol === 'https:';
  const mod = isHttps ? https : http;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'User-Agent': 'berth/0.1 (linux)', ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
    let headerTimer: NodeJS.Timeout | undefined;
    let response: IncomingMessage | undefined;
    const r = mod.request(url, { method: req.method, headers, ...(isHttps ? tlsOptions(opts, ca) : {}), agent: false }, (res) => {
      clearTimeout(headerTimer);
      response = res;
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url: req.url, body: res });
    });
    // A stalled connection (connecting, uploading or downloading) fails after the idle timeout;
    // once the request is sent, the registry has the header timeout to start answering.
    r.setTimeout(opts.idleTimeoutMs, () => {
      const phase = r.writableFinished ? 'reading the response' : 'sending the request';
      const err = new TransportError(`${goMethod(req.method)} "${req.url}": timeout ${phase} (no data for ${opts.idleTimeoutMs / 1000}s)`);
      if (response) response.destroy(err);
      r.destroy(err);
    });
    r.on('finish', () => {
      if (response) return;
      headerTimer = setTimeout(() => {
        r.destroy(new TransportError(`${goMethod(req.method)} "${req.url}": timeout awaiting response headers`));
      }, opts.headerTimeoutMs);
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(headerTimer);
      if (err instanceof TransportError) return reject(err);
      const tls = isHttps && (TLS_CODES.test(err.code ?? '') || TLS_CODES.test(err.message));
      reject(new TransportError(`${goMethod(req.method)} "${req.url}": ${err.message}`, tls));
    });
    if (req.body === undefined) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    else {
      req.body.on('error', (err) => r.destroy(err));
      req.body.pipe(r);
    }
  });
}

/** Drains and discards a body we do not need (keeps sockets from lingering). */
export function discard(res: HttpResponse): void {
  res.body.resume();
  res.body.on('error', () => undefined);
}

/** Reads a whole (small) body, refusing more than `max` bytes. */
export async function readBody(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? -1);
  if (declared > max) {
    res.body.destroy();
    throw new RegistryError(`${what} is too large (${declared} bytes, limit ${max})`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > max) {
        res.body.destroy();
        throw new RegistryError(`${what} is too large (more than ${max} bytes)`);
      }
      chunks.push(c as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new TransportError(`reading ${what}: ${(err as Error).message}`);
  }
  const body = Buffer.concat(chunks);
  if (declared >= 0 && body.length !== declared) throw new TransportError(`reading ${what}: short read (${body.length} of ${declared} bytes)`);
  return body;
}

/**
 * One request; GET and HEAD follow redirects (blob downloads often go to a storage backend).
 * Credentials never follow a redirect to another host.
 */
export async function send(req: HttpRequest, opts: TransportOptions): Promise<HttpResponse> {
  const ca = await caBundle(opts.ca);
  let current = req;
  for (let hop = 0; ; hop++) {
    const res = await once(current, opts, ca);
    const location = res.headers.location;
    const follow = (current.method === 'GET' || current.method === 'HEAD') && [301, 302, 303, 307, 308].includes(res.status) && location;
    if (!follow) return res;
    discard(res);
    if (hop >= opts.maxRedirects) throw new RegistryError(`${goMethod(req.method)} "${req.url}": stopped after ${opts.maxRedirects} redirects`);
    const next = new URL(location, current.url);
    const headers = { ...current.headers };
    if (next.host !== new URL(current.url).host) delete headers['Authorization'];
    current = { ...current, url: next.toString(), headers };
  }
}
