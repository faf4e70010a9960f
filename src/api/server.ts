// The Engine API over HTTP: version prefix, routing, errors as {"message"} with Docker's statuses.
import http, { type IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestContext } from './context.js';
import { messageOf, statusOf } from './errors.js';
import type { Engine } from '../engine/engine.js';
import { containerRoutes } from './containers.js';
import { imageRoutes } from './images.js';
import { execRoutes } from './exec.js';
import { systemRoutes } from './system.js';
import { archiveRoutes } from './archive.js';
import { distributionRoutes } from './distribution.js';
import { volumeRoutes } from './volumes.js';
import { networkRoutes } from './networks.js';
import { berthRoutes } from './berth.js';
import { buildRoutes } from './build.js';
import { logger } from '../util/logger.js';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';

export type Handler = (ctx: RequestContext, engine: Engine) => Promise<void>;

export interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** "/containers/{id}/json" → a regexp capturing {id}; `{name*}` captures slashes too (image names). */
export function route(method: string, template: string, handler: Handler): Route {
  const keys: string[] = [];
  const src = template.replace(/\{(\w+)(\*?)\}/g, (_m, key: string, greedy: string) => {
    keys.push(key);
    return greedy ? '(.+)' : '([^/]+)';
  });
  return { method, pattern: new RegExp(`^${src}$`), keys, handler };
}

function versionOk(v: string): boolean {
  const [maj, min] = v.split('.').map(Number);
  const [minMaj, minMin] = MIN_API_VERSION.split('.').map(Number);
  return maj === 1 && min >= minMin && minMaj === 1;
}

/**
 * On an Upgrade request Node hands over the raw socket: the request body (e.g. exec start's JSON)
 * is at the front of what follows the headers, before the client's stdin bytes.
 */
async function splitUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!Number.isFinite(length) || length <= 0) return { body: Buffer.alloc(0), rest: head };
  if (length > 16 * 1024 * 1024) throw new Error('request body too large');
  let buf = head;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer): void => {
        cleanup();
        socket.pause();
        resolve(d);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(null);
      };
      const cleanup = (): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onEnd);
      socket.resume();
    });
    if (chunk === null) break;
    buf = Buffer.concat([buf, chunk]);
  }
  return { body: buf.subarray(0, length), rest: buf.subarray(length) };
}

export class ApiServer {
  private readonly routes: Route[];
  readonly server: http.Server;

  constructor(private readonly engine: Engine) {
    this.routes = [...systemRoutes, ...containerRoutes, ...imageRoutes, ...execRoutes, ...archiveRoutes, ...distributionRoutes, ...volumeRoutes, ...berthRoutes, ...networkRoutes, ...buildRoutes];
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => void this.dispatch(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Clients half-close a hijacked stream when they have no more stdin; the output must keep flowing.
      (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
      const res = new ServerResponse(req);
      res.assignSocket(socket as never);
      res.shouldKeepAlive = false;
      void splitUpgradeBody(req, socket, head).then(
        ({ body, rest }) => this.dispatch(req, res, { socket, head: rest, body }),
        () => socket.destroy(),
      );
    });
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{"message":"malformed HTTP request"}');
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer; body: Buffer }): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://berth');
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'malformed URL' }));
      return;
    }
    let pathname = url.pathname;
    let version = API_VERSION;
    const m = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(pathname);
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `Berth/${this.engine.version} (linux)`);
    if (m) {
      version = m[1];
      pathname = m[2];
      if (!versionOk(version)) {
        return this.fail(res, 400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      if (Number(version.split('.')[1]) > Number(API_VERSION.split('.')[1])) {
        return this.fail(res, 400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      }
    }
    const method = req.method === 'HEAD' && pathname === '/_ping' ? 'HEAD' : (req.method ?? 'GET');
    let found: { r: Route; params: Record<string, string> } | undefined;
    let pathMatched = false;
    for (const r of this.routes) {
      const pm = r.pattern.exec(pathname);
      if (!pm) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(pm[i + 1]);
      });
      found = { r, params };
      break;
    }
    if (!found) {
      return this.fail(res, pathMatched ? 405 : 404, pathMatched ? `method ${method} not allowed` : `page not found`);
    }
    const ctx = new RequestContext(req, res, found.params, url, version, upgrade);
    const started = Date.now();
    try {
      await found.r.handler(ctx, this.engine);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) logger.error(`${method} ${pathname}: ${(err as Error).stack ?? err}`);
      if (ctx.isHijacked || res.headersSent) {
        res.destroy();
        return;
      }
      this.fail(res, status, messageOf(err));
    } finally {
      logger.debug(`${method} ${url.pathname}${url.search} ${Date.now() - started}ms`);
    }
  }

  private fail(res: ServerResponse, status: number, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 304) {
      res.writeHead(304);
      res.end();
      return;
    }
    const body = JSON.stringify({ message });
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  listenTcp(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
