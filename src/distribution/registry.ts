// A client for one registry (distribution API v2) with one set of credentials: endpoint
// selection (https, then http for insecure registries), the auth handshake, and the registry's
// error format. Repository operations live in repository.ts.
import { NotFoundError, RegistryError, UnauthorizedError } from '../errors.js';
import { Authorizer, parseChallenges, type AuthConfig, type Challenge, type TokenCache } from './auth.js';
import { registryTls } from './certs.js';
import { endpointsFor, type Endpoint, type RegistryOptions } from './endpoint.js';
import { discard, readBody, send, TransportError, type HttpResponse, type TransportOptions } from './http.js';

/** One entry of the registry's `{"errors":[…]}` body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** A registry's error answer, worded as Docker's errcode: "manifest unknown: manifest unknown". */
export class RegistryApiError extends RegistryError {
  constructor(
    readonly status: number,
    readonly errors: RegistryErrorEntry[],
    message: string,
  ) {
    super(message);
  }

  get code(): string | undefined {
    return this.errors[0]?.code;
  }
}

export async function registryApiError(res: HttpResponse, method: string): Promise<RegistryApiError> {
  let body: Buffer = Buffer.alloc(0);
  if (method !== 'HEAD') body = await readBody(res, 256 * 1024, 'error response').catch(() => Buffer.alloc(0));
  else discard(res);
  let errors: RegistryErrorEntry[] = [];
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: RegistryErrorEntry[] };
    if (Array.isArray(j.errors)) errors = j.errors.filter((e) => e && typeof e.code === 'string');
  } catch {
    /* not the registry's JSON format */
  }
  if (errors.length === 0) {
    // Docker's client synthesises these codes from bare statuses.
    if (res.status === 401) errors = [{ code: 'UNAUTHORIZED', message: 'authentication required' }];
    else if (res.status === 404 && method === 'HEAD') errors = [];
  }
  const e = errors[0];
  const message = e
    ? `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`
    : `unexpected status from ${method} request to ${res.url}: ${res.status} ${httpStatusText(res.status)}`;
  return new RegistryApiError(res.status, errors, message);
}

function httpStatusText(status: number): string {
  const t: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };
  return t[status] ?? '';
}

export interface RegistryRequest {
  method: string;
  /** Path from the endpoint root ("/v2/…") or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | import('node:stream').Readable;
  /** Token scopes this request needs. */
  scopes: string[];
}

/** Resolved endpoints per registry, shared by all operations: the https/http probe happens once. */
export class EndpointCache {
  readonly resolved = new Map<string, { endpoint: Endpoint; challenge?: Challenge; at: number }>();
}

export interface RegistryDeps {
  options: RegistryOptions;
  tokens: TokenCache;
  endpoints: EndpointCache;
}

export class Registry {
  private endpoint?: Endpoint;
  private challenge?: Challenge;
  private transport?: TransportOptions;
  private readonly authorizer: Authorizer;
  /** Authorization headers already obtained, by scope set. */
  private readonly authHeaders = new Map<string, string>();

  constructor(
    /** The registry as named in references: "docker.io", "127.0.0.1:5000". */
    readonly host: string,
    creds: AuthConfig,
    private readonly deps: RegistryDeps,
    /** Pushes never go to mirrors. */
    private readonly push = false,
  ) {
    this.authorizer = new Authorizer(creds, deps.tokens, deps.options.transport);
  }

  get hasCredentials(): boolean {
    return this.authorizer.hasCredentials;
  }

  private get cacheKey(): string {
    return this.push ? `${this.host} push` : this.host;
  }

  /** The endpoint URL in use ("https://127.0.0.1:5000"), after `connect`. */
  get baseUrl(): string {
    if (!this.endpoint) throw new Error('registry not connected');
    return this.endpoint.url;
  }

  private async transportFor(endpoint: Endpoint): Promise<TransportOptions> {
    if (endpoint.insecure) return { ...this.deps.options.transport, insecureSkipVerify: true };
    return { ...this.deps.options.transport, ...(await registryTls(this.deps.options.certsDirs, endpoint.certsHost)) };
  }

  /**
   * Picks the endpoint by pinging /v2/: the first that answers as a registry wins (200 or 401).
   * On failure the error of the first (https) attempt is reported, which is the informative one.
   */
  async connect(): Promise<void> {
    if (this.endpoint) return;
    const known = this.deps.endpoints.resolved.get(this.cacheKey);
    if (known && Date.now() - known.at < 10 * 60_000) {
      this.endpoint = known.endpoint;
      this.challenge = known.challenge;
      this.transport = await this.transportFor(known.endpoint);
      return;
    }
    let firstError: Error | undefined;
    for (const endpoint of endpointsFor(this.host, this.deps.options, this.push)) {
      const transport = await this.transportFor(endpoint);
      try {
        const res = await send({ method: 'GET', url: `${endpoint.url}/v2/` }, transport);
        discard(res);
        if (res.status !== 200 && res.status !== 401) throw new RegistryError(`Get "${endpoint.url}/v2/": unexpected status ${res.status} (not a registry?)`);
        const challenge = res.status === 401 ? pickChallenge(parseChallenges(res.body.headersDistinct['www-authenticate'])) : undefined;
        this.endpoint = endpoint;
        this.challenge = challenge;
        this.transport = transport;
        this.deps.endpoints.resolved.set(this.cacheKey, { endpoint, challenge, at: Date.now() });
        return;
      } catch (err) {
        firstError ??= err as Error;
      }
    }
    throw firstError ?? new RegistryError(`no endpoint for registry ${this.host}`);
  }

  /** Forget the resolved endpoint (after a transport failure, the next operation probes again). */
  forgetEndpoint(): void {
    this.deps.endpoints.resolved.delete(this.cacheKey);
  }

  /** `GET /v2/` with the credentials: what `docker login` checks. Returns the URL it used. */
  async login(): Promise<string> {
    await this.connect();
    const url = `${this.baseUrl}/v2/`;
    if (!this.challenge) {
      // A registry without auth accepts anyone; Docker reports success too.
      return url;
    }
    const res = await this.request({ method: 'GET', path: '/v2/', scopes: [] }).catch((err: Error) => {
      if (err instanceof UnauthorizedError && this.challenge?.scheme === 'bearer') throw err;
      if (err instanceof UnauthorizedError) throw new UnauthorizedError(`login attempt to ${url} failed with status: 401 Unauthorized`);
      throw err;
    });
    discard(res);
    if (res.status !== 200) throw new UnauthorizedError(`login attempt to ${url} failed with status: ${res.status} ${httpStatusText(res.status)}`);
    return url;
  }

  private async authorization(scopes: string[], url: string): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    const key = scopes.slice().sort().join(' ');
    const cached = this.authHeaders.get(key);
    // Basic headers never expire; bearer ones come from the token cache, which honours expiry.
    if (cached && this.challenge.scheme === 'basic') return cached;
    const h = await this.authorizer.header(this.challenge, scopes, url);
    this.authHeaders.set(key, h);
    return h;
  }

  /**
   * Sends a request with auth. A 401 with a new challenge (e.g. a scope the token lacks) gets one
   * retry when the body can be sent again; a second 401 is the client's credentials failing.
   */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    await this.connect();
    const url = /^https?:\/\//.test(req.path) ? req.path : `${this.baseUrl}${req.path}`;
    const retryable = req.body === undefined || Buffer.isBuffer(req.body);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...req.headers };
      const auth = await this.authorization(req.scopes, url);
      if (auth) headers['Authorization'] = auth;
      let res: HttpResponse;
      try {
        res = await send({ method: req.method, url, headers, body: req.body }, this.transport!);
      } catch (err) {
        if (err instanceof TransportError) this.forgetEndpoint();
        throw err;
      }
      if (res.status !== 401) return res;
      const challenge = pickChallenge(parseChallenges(res.body.headersDistinct['www-authenticate']));
      if (attempt > 0 || !retryable || !challenge) {
        const err = await registryApiError(res, req.method);
        throw new UnauthorizedError(err.message);
      }
      discard(res);
      const same = this.challenge && challenge.scheme === this.challenge.scheme && challenge.params['realm'] === this.challenge.params['realm'];
      if (same && !challenge.params['error'] && auth) {
        // The registry refused credentials it was already given.
        throw new UnauthorizedError(challenge.scheme === 'basic' ? `${url}: unauthorized: authentication required` : 'unauthorized: authentication required');
      }
      this.challenge = challenge;
      this.authHeaders.clear();
      this.deps.endpoints.resolved.set(this.cacheKey, { endpoint: this.endpoint!, challenge, at: Date.now() });
    }
  }

  /** Like request, but non-2xx (other than those in `allow`) become errors. */
  async call(req: RegistryRequest, allow: number[] = []): Promise<HttpResponse> {
    const res = await this.request(req);
    if ((res.status >= 200 && res.status < 300) || allow.includes(res.status)) return res;
    const err = await registryApiError(res, req.method);
    if (res.status === 404 && err.errors.length === 0) throw new NotFoundError(err.message);
    throw err;
  }
}

function pickChallenge(list: Challenge[]): Challenge | undefined {
  return list.find((c) => c.scheme === 'bearer') ?? list.find((c) => c.scheme === 'basic');
}
