// The web view's server (`berth ui`, `berthd --ui ADDR`): on loopback only, it serves the page's
// own assets (no CDN: everything the page loads comes from here) and passes the page's /api/…
// calls through to the daemon's Engine API, after guard.ts's checks. It holds no engine state:
// what the page shows is what any Engine API client could read, plus Berth's /berth/ views.
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, realpathSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Endpoint } from '../client/host.js';
import { checkApiRequest, crossSite, hostAllowed, SESSION_COOKIE, sessionCookie, tokenMatches } from './guard.js';

export interface UiOptions {
  /** The daemon to read from. */
  upstream: Endpoint;
  /** "127.0.0.1:0" by default; anything but a loopback address is refused. */
  listen?: string;
  /** Allow start, stop, rm and commit (still behind the page's own switch and the token). */
  actions?: boolean;
  /** Where index.html, app.js and style.css are (found next to this module's build by default). */
  assetsDir?: string;
}

const ASSETS: Record<string, string> = {
  '/app.js': 'text/javascript; charset=utf-8',
  '/style.css': 'text/css; charset=utf-8',
};

const MAX_BODY = 1 << 20;

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** The built assets, dist/ui, found from the program that runs: dist/berth.cjs or dist/src/daemon/main.js. */
function findAssets(): string {
  const here = path.dirname(realpathSync(process.argv[1] ?? '.'));
  for (const up of ['.', '..', '../..']) {
    const dir = path.resolve(here, up, 'ui');
    if (existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error('the web view is not built (dist/ui/index.html is missing): run npm run build');
}

/** Splits "127.0.0.1:8080" / "[::1]:0" / "8080"; refuses anything not on loopback. */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr) ?? /^()()(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid address "${addr}": expected HOST:PORT`);
  const host = m[1] || m[2] || '127.0.0.1';
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in "${addr}"`);
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') throw new Error(`the web view listens on loopback only (127.0.0.1 or ::1), not ${host}`);
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

export class UiServer {
  /** A fresh secret per server: the page gets it, a page from another site cannot read it. */
  readonly token = randomBytes(32).toString('hex');
  private readonly server: http.Server;
  private readonly assets: string;
  private port = 0;

  constructor(private readonly opts: UiOptions) {
    this.assets = opts.assetsDir ?? findAssets();
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => fail(res, 500, err.message));
    });
  }

  /** Listens; resolves with the page's URL, which carries the session token. */
  async listen(): Promise<string> {
    const { host, port } = parseListen(this.opts.listen ?? '127.0.0.1:0');
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}/?token=${this.token}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui');
    if (url.pathname.startsWith('/api/')) return this.proxy(req, res, url);
    if (!hostAllowed(req.headers.host, this.port)) return fail(res, 403, 'host not allowed');
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'method not allowed');
    if (url.pathname === '/' || url.pathname === '/index.html') {
      // A page embedded or fetched by another site gets nothing (frame-ancestors also stops framing).
      if (crossSite(req.headers)) return fail(res, 403, 'cross-site request refused');
      // The URL's token (once; then a same-site cookie, and the token leaves the address bar).
      if (tokenMatches(url.searchParams.get('token') ?? undefined, this.token)) {
        res.writeHead(303, { ...SECURITY_HEADERS, Location: '/', 'Set-Cookie': `${SESSION_COOKIE}=${this.token}; Path=/; HttpOnly; SameSite=Strict` });
        res.end();
        return;
      }
      if (!tokenMatches(sessionCookie(req.headers.cookie), this.token)) return fail(res, 403, 'open the URL berth ui printed (or berthd logged): it carries the session token');
      const html = await fsp.readFile(path.join(this.assets, 'index.html'), 'utf8');
      const page = html.replace('%TOKEN%', this.token).replace('%ACTIONS%', this.opts.actions ? '1' : '0');
      return send(res, 200, 'text/html; charset=utf-8', page);
    }
    const type = ASSETS[url.pathname];
    if (!type) return fail(res, 404, 'page not found');
    send(res, 200, type, await fsp.readFile(path.join(this.assets, url.pathname.slice(1))));
  }

  private proxy(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const target = url.pathname.slice('/api'.length);
    const verdict = checkApiRequest(req.method ?? 'GET', target, req.headers, { port: this.port, token: this.token, actions: !!this.opts.actions });
    if (!verdict.ok) return fail(res, verdict.status, verdict.message);
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > MAX_BODY) return fail(res, 413, 'request body too large');
    const up = this.opts.upstream;
    const headers: Record<string, string> = { Host: 'berth' };
    if (req.headers['content-type']) headers['Content-Type'] = req.headers['content-type'];
    if (req.headers['content-length']) headers['Content-Length'] = req.headers['content-length'];
    const upstream = http.request(
      { ...(up.kind === 'unix' ? { socketPath: up.path } : { host: up.host, port: up.port }), method: req.method, path: target + url.search, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...SECURITY_HEADERS, 'Content-Type': answer.headers['content-type'] ?? 'application/json' });
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => fail(res, 502, `the daemon did not answer: ${err.message}`));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, status, 'application/json', JSON.stringify({ message }));
}
