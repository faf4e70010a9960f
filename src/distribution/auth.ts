// Registry authentication: the client's credentials (X-Registry-Auth), the registry's
// WWW-Authenticate challenge, basic auth, and bearer tokens fetched per scope and cached until
// they expire.
import type { AuthConfig } from '../types/api.js';
import { InvalidParameterError, UnauthorizedError } from '../errors.js';
import { discard, readBody, send, type TransportOptions } from './http.js';

export type { AuthConfig };

/** Decodes X-Registry-Auth; an empty or "{}" header means anonymous. */
export function decodeRegistryAuth(header: string | undefined): AuthConfig {
  if (!header) return {};
  let json: string;
  try {
    json = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const parsed = JSON.parse(json) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return normaliseAuth(parsed as Record<string, unknown>);
  } catch {
    throw new InvalidParameterError('invalid X-Registry-Auth header: expected base64url-encoded JSON');
  }
}

/** Accepts Docker's field spellings (lower and Pascal case) and unpacks `auth`. */
export function normaliseAuth(raw: Record<string, unknown>): AuthConfig {
  const pick = (...keys: string[]): string | undefined => {
    for (const k of keys) if (typeof raw[k] === 'string' && raw[k] !== '') return raw[k] as string;
    return undefined;
  };
  const out: AuthConfig = {
    username: pick('username', 'Username'),
    password: pick('password', 'Password'),
    auth: pick('auth', 'Auth'),
    email: pick('email', 'Email'),
    serveraddress: pick('serveraddress', 'ServerAddress'),
    identitytoken: pick('identitytoken', 'IdentityToken'),
    registrytoken: pick('registrytoken', 'RegistryToken'),
  };
  if (out.auth && !out.username) {
    const plain = Buffer.from(out.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      out.username = plain.slice(0, i);
      out.password = plain.slice(i + 1);
    }
  }
  return out;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (several challenges may share a header). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : [header]) {
    const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(h);
    if (!m) continue;
    const params: Record<string, string> = {};
    const pre = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/g;
    let p: RegExpExecArray | null;
    while ((p = pre.exec(m[2])) !== null) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
    out.push({ scheme: m[1].toLowerCase(), params });
  }
  return out;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Bearer tokens by realm, service, scopes and user; shared by every operation of the daemon. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (Date.now() >= t.expires) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(key: string, token: string, expires: number): void {
    this.tokens.set(key, { token, expires });
    if (this.tokens.size > 1000) this.tokens.delete(this.tokens.keys().next().value as string);
  }
}

/** `repository:library/busybox:pull` */
export function repositoryScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
  issued_at?: string;
  refresh_token?: string;
}

function registryErrorText(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[]; details?: string; error?: string };
    const e = j.errors?.[0];
    if (e?.code) return `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`;
    if (j.details) return j.details;
    if (j.error) return j.error;
  } catch {
    /* not JSON */
  }
  return undefined;
}

/** Produces the Authorization header for one registry and one set of credentials. */
export class Authorizer {
  constructor(
    private readonly creds: AuthConfig,
    private readonly cache: TokenCache,
    private readonly transport: TransportOptions,
  ) {}

  get hasCredentials(): boolean {
    return !!(this.creds.username || this.creds.identitytoken || this.creds.registrytoken);
  }

  /** The header to send for `challenge` and `scopes`; throws UnauthorizedError when it cannot make one. */
  async header(challenge: Challenge, scopes: string[], url: string): Promise<string> {
    if (challenge.scheme === 'basic') {
      if (!this.creds.username) throw new UnauthorizedError(`${url}: no basic auth credentials`);
      return 'Basic ' + Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64');
    }
    if (challenge.scheme === 'bearer') {
      if (this.creds.registrytoken) return `Bearer ${this.creds.registrytoken}`;
      return `Bearer ${await this.token(challenge, scopes, url)}`;
    }
    throw new UnauthorizedError(`${url}: unsupported authentication scheme "${challenge.scheme}"`);
  }

  private async token(challenge: Challenge, scopes: string[], url: string): Promise<string> {
    const realm = challenge.params['realm'];
    if (!realm) throw new UnauthorizedError(`${url}: the registry's bearer challenge names no realm`);
    const service = challenge.params['service'] ?? '';
    const key = JSON.stringify([realm, service, [...scopes].sort(), this.creds.username ?? '', this.creds.identitytoken ?? '']);
    const cached = this.cache.get(key);
    if (cached) return cached;
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new UnauthorizedError(`${url}: invalid token realm ${JSON.stringify(realm)}`);
    }
    const started = Date.now();
    const res = this.creds.identitytoken ? await this.oauthRequest(realmUrl, service, scopes) : await this.getRequest(realmUrl, service, scopes);
    if (res.status !== 200) {
      const body = await readBody(res, 64 * 1024, 'token response').catch(() => Buffer.alloc(0));
      const detail = registryErrorText(body) ?? (res.status === 401 ? 'authentication required' : `token server answered ${res.status}`);
      throw new UnauthorizedError(`Get "${realmUrl.origin}${realmUrl.pathname}": unauthorized: ${detail.replace(/^unauthorized: /, '')}`);
    }
    const body = await readBody(res, 1024 * 1024, 'token response');
    let parsed: TokenResponse;
    try {
      parsed = JSON.parse(body.toString('utf8')) as TokenResponse;
    } catch {
      throw new UnauthorizedError(`${realm}: the token server's answer is not JSON`);
    }
    const token = parsed.access_token || parsed.token;
    if (!token || typeof token !== 'string') throw new UnauthorizedError(`${realm}: the token server's answer holds no token`);
    // The token spec's default lifetime is 60 s; keep a margin so a token never expires in flight.
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    const issued = parsed.issued_at ? Date.parse(parsed.issued_at) || started : started;
    this.cache.set(key, token, Math.min(issued, started) + lifetime * 1000 - 5000);
    return token;
  }

  private async getRequest(realm: URL, service: string, scopes: string[]): ReturnType<typeof send> {
    const u = new URL(realm);
    if (service) u.searchParams.set('service', service);
    for (const s of scopes) u.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (this.creds.username) headers['Authorization'] = 'Basic ' + Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64');
    return send({ method: 'GET', url: u.toString(), headers }, this.transport);
  }

  /** With an identity token, Docker asks the realm for an access token by OAuth2 refresh grant. */
  private async oauthRequest(realm: URL, service: string, scopes: string[]): ReturnType<typeof send> {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.creds.identitytoken!, service, client_id: 'berth', scope: scopes.join(' ') });
    const res = await send(
      { method: 'POST', url: realm.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()) },
      this.transport,
    );
    // Token servers without OAuth answer 404/405: fall back to the plain GET flow.
    if (res.status === 404 || res.status === 405) {
      discard(res);
      return this.getRequest(realm, service, scopes);
    }
    return res;
  }
}
