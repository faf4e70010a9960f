// Log receivers for the logging drivers' tests, on loopback: a syslog UDP socket, a syslog TCP
// listener (plain or TLS) and a fluentd forward listener that decodes MessagePack.
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { decodeMultiStream } from '@msgpack/msgpack';

/** A receiver that keeps every message it gets. */
export interface Receiver {
  port: number;
  got: string[];
  close: () => void;
}

export function udpReceiver(): Promise<Receiver> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const got: string[] = [];
    s.on('message', (m) => got.push(m.toString()));
    s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, got, close: () => s.close() }));
  });
}

/** TCP syslog: octet-counted frames ("<len> <msg>") or newline-ended lines; over TLS with `secure`. */
export function tcpReceiver(secure?: tls.TlsOptions): Promise<Receiver> {
  return new Promise((resolve) => {
    const got: string[] = [];
    const conns = new Set<net.Socket>();
    const serve = (c: net.Socket): void => {
      conns.add(c);
      let buf = '';
      c.on('data', (d) => {
        buf += d.toString();
        for (;;) {
          const m = /^(\d+) /.exec(buf);
          if (m && buf.length >= m[0].length + Number(m[1])) {
            got.push(buf.slice(m[0].length, m[0].length + Number(m[1])));
            buf = buf.slice(m[0].length + Number(m[1]));
            continue;
          }
          const nl = buf.indexOf('\n');
          if (!m && nl >= 0) {
            got.push(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
            continue;
          }
          break;
        }
      });
    };
    const srv = secure ? tls.createServer(secure, serve) : net.createServer(serve);
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        port: (srv.address() as net.AddressInfo).port,
        got,
        close: () => {
          for (const c of conns) c.destroy();
          srv.close();
        },
      }),
    );
  });
}

/** A fluentd forward listener: each message decoded as [tag, time, record]. */
export function fluentdReceiver(port = 0): Promise<Receiver & { records: [string, unknown, Record<string, string>][] }> {
  return new Promise((resolve) => {
    const records: [string, unknown, Record<string, string>][] = [];
    const conns = new Set<net.Socket>();
    const srv = net.createServer(async (c) => {
      conns.add(c);
      try {
        for await (const m of decodeMultiStream(c as AsyncIterable<Uint8Array>)) records.push(m as [string, unknown, Record<string, string>]);
      } catch {
        /* connection closed */
      }
    });
    srv.listen(port, '127.0.0.1', () =>
      resolve({
        port: (srv.address() as net.AddressInfo).port,
        got: [],
        records,
        close: () => {
          for (const c of conns) c.destroy();
          srv.close();
        },
      }),
    );
  });
}

