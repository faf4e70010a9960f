// A small typed Docker Engine API client over a unix socket or tcp, using only node:http.

import * as http from 'node:http';
import type * as Https from 'node:https';
import type { Duplex, Readable } from 'node:stream';
import { ApiError, ConnectionError, apiErrorFromBody } from './errors.js';
import { parseHost, type Endpoint } from './host.js';
import type { ClientTls } from './tls.js';
import { compareVersions } from '../util/versions.js';

export const MAX_API_VERSION = '1.47';

export type Query = Record<string, string | number | boolean | undefined | null | string[] | object>;

export interface RequestOptions {
  query?: Query;
  /** Objects are sent as JSON; Buffers and streams as-is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Skip the /vX.Y prefix (used by /_ping). */
  unversioned?: boolean;
}

export interface Hijacked {
  /** The raw bidirectional connection. */
  socket: Duplex;
  /** True when the daemon upgraded the connection (101); false when it just streamed a 200 answer. */
  upgraded: boolean;
  /** The content type the daemon announced, which tells multiplexed from raw streams. */
  contentType: string;
}

export { compareVersions };

export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(item))}`);
      continue;
    }
    const s = typeof v === 'object' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export class Client {
  readonly endpoint: Endpoint;
  readonly host: string;
  private version: string | undefined;
  private negotiating: Promise<string> | undefined;
  private agent: http.Agent | undefined;
  /** node:https, loaded only for a TLS endpoint: it brings tls and crypto, ~5 ms of start-up. */
  private https: typeof Https | undefined;

  private readonly tls: ClientTls | undefined;

  constructor(host: string, opts: { version?: string; tls?: ClientTls } = {}) {
    this.host = host;
    this.endpoint = parseHost(host);
    this.version = opts.version;
    // TLS only over TCP, as the docker CLI: a unix socket is protected by its file mode.
    this.tls = this.endpoint.kind === 'tcp' ? opts.tls : undefined;
  }

  /** The connection pool (and node:https for a TLS endpoint), made on the first request. */
  private async transport(): Promise<{ agent: http.Agent; request: (ro: http.RequestOptions) => http.ClientRequest }> {
    if (this.tls) {
      const https = (this.https ??= await import('node:https'));
      this.agent ??= new https.Agent({ keepAlive: true, maxSockets: 8, ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, rejectUnauthorized: this.tls.verify });
      return { agent: this.agent, request: (ro) => https.request(ro) };
    }
    this.agent ??= new http.Agent({ keepAlive: true, maxSockets: 8 });
    return { agent: this.agent, request: (ro) => http.request(ro) };
  }

  /** The API version in use, negotiating with /_ping on first use. */
  async apiVersion(): Promise<string> {
    if (this.version) return this.version;
    this.negotiating ??= this.ping().then((p) => {
      let v = MAX_API_VERSION;
      if (p.apiVersion && compareVersions(p.apiVersion, MAX_API_VERSION) < 0) v = p.apiVersion;
      this.version = v;
      return v;
    });
    return this.negotiating;
  }

  /** GET /_ping: the daemon's API-Version and OS headers. */
  async ping(): Promise<{ apiVersion?: string; osType?: string; body: string }> {
    const res = await this.send('GET', '/_ping', { unversioned: true });
    const body = await readBody(res);
    if (res.statusCode! >= 400) throw apiErrorFromBody(res.statusCode!, body);
    const h = res.headers;
    return { apiVersion: h['api-version'] as string | undefined, osType: h['ostype'] as string | undefined, body };
  }

  private requestOptions(method: string, path: string, headers: Record<string, string>, agent: http.Agent | false): http.RequestOptions {
    const base: Https.RequestOptions = {
      method,
      path,
      headers: { 'User-Agent': 'Berth-Client/0.1.0', ...headers },
      agent,
    };
    if (this.tls) Object.assign(base, { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, rejectUnauthorized: this.tls.verify });
    // Without TLS an empty servername spares node's lazy IPv6 regex compile (~15 ms) per process.
    else base.servername = '';
    if (this.endpoint.kind === 'unix') {
      base.socketPath = this.endpoint.path;
      (base.headers as Record<string, string>).Host = 'api.moby.localhost';
    } else {
      base.host = this.endpoint.host;
      base.port = this.endpoint.port;
    }
    return base;
  }

  /**
   * Sends a request and resolves with the response, whatever its status.
   *
   * Until the API version is known, a request goes out at MAX_API_VERSION at once instead of
   * after a /_ping: a daemon as new answers it (and its Api-Version header settles the version),
   * an older one refuses it with 400 before doing anything, naming its own version, and the
   * request is sent again at that version. A streamed body can't be sent twice: it waits for the
   * ping. (The docker CLI pings first; that round trip is most of what a quick command waits for.)
   */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const body = encodeBody(opts);
    if (opts.unversioned || this.version || body.stream) return this.sendOnce(method, await this.fullPath(path, opts), body);
    return this.tentatively((version) => this.sendOnce(method, versioned(version, path, opts), body), (res) => res);
  }

  private async fullPath(path: string, opts: RequestOptions): Promise<string> {
    return opts.unversioned ? path + encodeQuery(opts.query) : versioned(await this.apiVersion(), path, opts);
  }

  /**
   * Runs `attempt` at MAX_API_VERSION, learns the version from the answer's Api-Version header,
   * and runs it again at the daemon's version when the daemon refused the first as too new.
   * `response` finds the answer's headers in what `attempt` resolves with.
   */
  private async tentatively<T>(attempt: (version: string) => Promise<T>, response: (t: T) => http.IncomingMessage): Promise<T> {
    const first = await attempt(MAX_API_VERSION);
    const res = response(first);
    const announced = res.headers['api-version'];
    const theirs = typeof announced === 'string' && announced ? announced : undefined;
    if (theirs) this.version ??= compareVersions(theirs, MAX_API_VERSION) < 0 ? theirs : MAX_API_VERSION;
    if (res.statusCode !== 400) return first;
    // A 400 without the header: the ping tells the version (as it would have before the request).
    const version = theirs ? this.version! : await this.apiVersion().catch(() => MAX_API_VERSION);
    if (compareVersions(version, MAX_API_VERSION) >= 0) return first;
    res.resume();
    return attempt(version);
  }

  private async sendOnce(method: string, full: string, body: EncodedBody): Promise<http.IncomingMessage> {
    const { agent, request } = await this.transport();
    return new Promise((resolve, reject) => {
      const req = request(this.requestOptions(method, full, body.headers, agent));
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.wrapError(e)));
      if (body.stream) {
        body.stream.on('error', (e) => req.destroy(e));
        body.stream.pipe(req);
      } else req.end(body.payload);
    });
  }

  private wrapError(e: NodeJS.ErrnoException): Error {
    // Connection failures, and TLS ones (an untrusted, expired or refused certificate).
    if (e.code && (['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPROTO'].includes(e.code) || /CERT|SSL|TLS/.test(e.code))) {
      return new ConnectionError(this.endpoint.url, e);
    }
    return e;
  }

  /** Sends a request; non-2xx answers become ApiError. Returns the (unread) response stream. */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await this.send(method, path, opts);
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      if (code === 304) {
        res.resume();
        return res;
      }
      throw apiErrorFromBody(code, await readBody(res));
    }
    return res;
  }

  /** JSON request/response. 204 and empty bodies resolve to undefined. */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.stream(method, path, opts);
    const text = await readBody(res);
    if (!text.trim()) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.statusCode ?? 0, `invalid JSON from daemon: ${text.slice(0, 200)}`);
    }
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, { query });
  }

  post<T = void>(path: string, query?: Query, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, { query, body });
  }

  delete<T = void>(path: string, query?: Query): Promise<T> {
    return this.json<T>('DELETE', path, { query });
  }

  /**
   * Opens a hijacked connection (attach, exec start): asks for `Upgrade: tcp`; on
   * `101 UPGRADED` the socket becomes a raw bidirectional stream. Sent at once as `send` sends.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    const payload = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { ...(opts.headers ?? {}), Connection: 'Upgrade', Upgrade: 'tcp' };
    if (payload) {
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    let answer: Answer;
    if (this.version || opts.unversioned) answer = await this.hijackOnce(method, await this.fullPath(path, opts), headers, payload);
    else answer = await this.tentatively((version) => this.hijackOnce(method, versioned(version, path, opts), headers, payload), (a) => a.res);
    if (answer.refused) throw apiErrorFromBody(answer.res.statusCode ?? 0, await readBody(answer.res));
    return answer.hijacked;
  }

  private async hijackOnce(method: string, full: string, headers: Record<string, string>, payload: Buffer | undefined): Promise<Answer> {
    const { request } = await this.transport();
    // A hijacked socket must never go back to a pool.
    const ro = this.requestOptions(method, full, headers, false);
    return new Promise((resolve, reject) => {
      const req = request(ro);
      req.on('upgrade', (res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve({ refused: false, res, hijacked: { socket, upgraded: true, contentType: String(res.headers['content-type'] ?? '') } });
      });
      req.on('response', (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          resolve({ refused: true, res });
          return;
        }
        // A daemon that doesn't upgrade still streams output; expose a duplex that can't send.
        resolve({ refused: false, res, hijacked: { socket: res.socket ? wrapResponse(res) : (res as unknown as Duplex), upgraded: false, contentType: String(res.headers['content-type'] ?? '') } });
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.wrapError(e)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}

/** What a hijack request got: the connection, or the daemon's refusal (unread); `res` has the headers. */
type Answer = { res: http.IncomingMessage } & ({ refused: false; hijacked: Hijacked } | { refused: true });

interface EncodedBody {
  headers: Record<string, string>;
  payload?: Buffer;
  stream?: Readable;
}

/** The request's body as bytes or a stream, with the headers that describe it. */
function encodeBody(opts: RequestOptions): EncodedBody {
  const headers = { ...(opts.headers ?? {}) };
  const body = opts.body;
  if (body === undefined) return { headers };
  if (isReadable(body)) return { headers, stream: body };
  let payload: Buffer;
  if (Buffer.isBuffer(body)) payload = body;
  else {
    payload = Buffer.from(JSON.stringify(body));
    headers['Content-Type'] ??= 'application/json';
  }
  headers['Content-Length'] = String(payload.length);
  return { headers, payload };
}

function versioned(version: string, path: string, opts: RequestOptions): string {
  return `/v${version}${path}${encodeQuery(opts.query)}`;
}

function wrapResponse(res: http.IncomingMessage): Duplex {
  // The response is readable; writes to it are dropped, end() is a no-op.
  const d = res as unknown as Record<string, unknown>;
  if (typeof d.write !== 'function') d.write = () => true;
  if (typeof d.end !== 'function') d.end = () => d;
  return res as unknown as Duplex;
}

function isReadable(v: unknown): v is Readable {
  return !!v && typeof (v as Readable).pipe === 'function' && typeof (v as Readable).on === 'function';
}

export function readBody(res: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
