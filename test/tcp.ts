// TCP helpers of the tests and benches: a free port, and reading what a server sends until it closes.
import net from 'node:net';

/** The whole answer of the server at host:port (IPv4 or IPv6), or a rejection after `timeoutMs`. */
export function tcpRead(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let data = '';
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout reading ${host.includes(':') ? `[${host}]` : host}:${port}`));
    }, timeoutMs);
    sock.on('data', (b) => (data += b));
    sock.on('end', () => {
      clearTimeout(t);
      resolve(data);
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * A TCP port nothing listens on right now (on `host`: loopback by default; '0.0.0.0' for a port to
 * publish on every address).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}
