// The Engine API over HTTP: version prefix, routing, errors as {"message"} with Docker's statuses.
import http, { type IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
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
import { InvalidParameterError, NotFoundError } from '../errors.js';
import { loadSchema, validateRequest } from './validation/validate.js';
import { API_VERSION, MIN_API_VERSION, type Route } from './route.js';

/** Every route berthd serves, in matching order. */
export function apiRoutes(): Route[] {
  return [...systemRoutes, ...containerRoutes, ...imageRoutes, ...execRoutes, ...archiveRoutes, ...distributionRoutes, ...volumeRoutes, ...berthRoutes, ...networkRoutes, ...buildRoutes];
}

/** Orders two API versions ("1.24" < "1.47" < "2.0"). */
function compareVersions(a: string, b: string): number {
  const [aMaj, aMin] = a.split('.').map(Number);
  const [bMaj, bMin] = b.split('.').map(Number);
  return aMaj !== bMaj ? aMaj - bMaj : aMin - bMin;
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

  constructor(private readonly engine: Engine) {
    void loadSchema();
    this.routes = apiRoutes();
  }

  /** One server per address (a Node server listens once), plain or TLS; one routing for all. */
  private readonly servers: http.Server[] = [];
  /** Requests received so far: the daemon's idle memory reclaim waits for a stretch without any. */
  requests = 0;

  private serveOn<S extends http.Server>(server: S): S {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.serve(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Clients half-close a hijacked stream when they have no more stdin; the output must keep flowing.
      (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
      const res = new ServerResponse(req);
      res.assignSocket(socket as never);
      res.shouldKeepAlive = false;
      splitUpgradeBody(req, socket, head).then(
        ({ body, rest }) => this.serve(req, res, { socket, head: rest, body }),
        () => socket.destroy(),
      );
    });
    server.on('clientError', (_err, socket: Duplex) => {
      // No response object exists yet: the answer is written to the socket as it goes.
      const err = new InvalidParameterError('malformed HTTP request');
      const status = statusOf(err);
      const body = JSON.stringify({ message: messageOf(err) });
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      else socket.destroy();
    });
    this.servers.push(server);
    return server;
  }

  /** Nothing a request does may reject unhandled: that would end the daemon. */
  private serve(req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer; body: Buffer }): void {
    this.requests++;
    this.dispatch(req, res, upgrade).catch((err: unknown) => {
      logger.error(`${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      res.destroy();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer; body: Buffer }): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://berth');
    } catch {
      return this.fail(res, new InvalidParameterError('malformed URL'));
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
      if (compareVersions(version, MIN_API_VERSION) < 0) {
        return this.fail(res, new InvalidParameterError(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`));
      }
      if (compareVersions(version, API_VERSION) > 0) {
        return this.fail(res, new InvalidParameterError(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`));
      }
    }
    const method = req.method === 'HEAD' && pathname === '/_ping' ? 'HEAD' : (req.method ?? 'GET');
    let found: { r: Route; params: Record<string, string> } | undefined;
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const pm = r.pattern.exec(pathname);
      if (!pm) continue;
      const params: Record<string, string> = {};
      try {
        r.keys.forEach((k, i) => {
          params[k] = decodeURIComponent(pm[i + 1]);
        });
      } catch {
        return this.fail(res, new InvalidParameterError(`malformed URL: invalid percent-encoding in ${pathname}`));
      }
      found = { r, params };
      break;
    }
    // dockerd answers a known path with the wrong method as it answers an unknown one
    if (!found) return this.fail(res, new NotFoundError('page not found'));
    // A NUL byte cannot be part of any name, id, path or option: the kernel would refuse it later.
    if ([...Object.values(found.params), ...url.searchParams.values()].some((v) => v.includes('\0'))) {
      return this.fail(res, new InvalidParameterError('invalid parameter: a NUL byte is not allowed in names, paths or options'));
    }
    const ctx = new RequestContext(req, res, found.params, url, version, upgrade);
    const started = Date.now();
    try {
      ctx.validated = await validateRequest(found.r.operation, req, url.searchParams, upgrade?.body);
      await found.r.handler(ctx, this.engine);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) logger.error(`${method} ${pathname}: ${(err as Error).stack ?? err}`);
      if (ctx.isHijacked || res.headersSent) {
        res.destroy();
        return;
      }
      this.fail(res, err);
    } finally {
      logger.debug(`${method} ${url.pathname}${url.search} ${Date.now() - started}ms`);
    }
  }

  /** Answers with the error's status and `{"message"}` (statuses come from errors.ts only). */
  private fail(res: ServerResponse, err: unknown): void {
    const status = statusOf(err);
    const message = messageOf(err);
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
    const server = this.serveOn(http.createServer({ keepAliveTimeout: 60_000 }));
    return listening(server, (done) => server.listen(path, done));
  }

  listenTcp(host: string, port: number): Promise<void> {
    const server = this.serveOn(http.createServer({ keepAliveTimeout: 60_000 }));
    return listening(server, (done) => server.listen(port, host, done));
  }

  listenTls(host: string, port: number, tls: https.ServerOptions): Promise<void> {
    const server = this.serveOn(https.createServer({ ...tls, keepAliveTimeout: 60_000 }));
    // A handshake that fails (no certificate, wrong CA, expired) only ends that connection.
    server.on('tlsClientError', (err) => logger.debug(`TLS handshake refused: ${err.message}`));
    return listening(server, (done) => server.listen(port, host, done));
  }

  close(): Promise<void> {
    return Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ).then(() => undefined);
  }
}

function listening(server: http.Server, listen: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    listen(() => {
      server.off('error', reject);
      resolve();
    });
  });
}
