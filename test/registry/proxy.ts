// A reverse proxy in front of a test registry that misbehaves on purpose: cuts or corrupts blob
// downloads mid-stream, hangs, or answers chosen paths itself (a hostile or broken registry).
// The Host header is passed on, so the registry's upload locations point back at the proxy.
import http from 'node:http';
import type net from 'node:net';

/** What happens to blob downloads (only those of `only`, when given). */
export type BlobMode = ({ kind: 'pass' } | { kind: 'cut'; after: number } | { kind: 'corrupt'; at: number } | { kind: 'hang' }) & { only?: string };

export interface Proxy {
  host: string;
  /** Requests seen: method, path and Range header. */
  log: { method: string; path: string; range?: string }[];
  blobMode: BlobMode;
  /** Answers a request itself when it returns true. */
  override?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  close(): Promise<void>;
}

export async function startProxy(upstreamPort: number): Promise<Proxy> {
  const proxy: Proxy = { host: '', log: [], blobMode: { kind: 'pass' }, close: async () => undefined };
  const server = http.createServer((req, res) => {
    proxy.log.push({ method: req.method ?? '', path: req.url ?? '', range: req.headers.range });
    if (proxy.override?.(req, res)) return;
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '') && (!proxy.blobMode.only || (req.url ?? '').includes(proxy.blobMode.only));
    const mode: BlobMode = isBlobGet ? proxy.blobMode : { kind: 'pass' };
    if (mode.kind === 'hang') return; // never answers
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let seen = 0;
      ur.on('data', (chunk: Buffer) => {
        if (mode.kind === 'cut' && seen + chunk.length >= mode.after) {
          res.write(chunk.subarray(0, Math.max(0, mode.after - seen)));
          seen = mode.after;
          ur.destroy();
          res.socket?.destroy();
          return;
        }
        if (mode.kind === 'corrupt' && mode.at >= seen && mode.at < seen + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[mode.at - seen] ^= 0xff;
        }
        seen += chunk.length;
        res.write(chunk);
      });
      ur.on('end', () => res.end());
      ur.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}
