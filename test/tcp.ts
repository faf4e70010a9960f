// Reading what a TCP server sends until it closes: the published-port checks of the network tests.
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
