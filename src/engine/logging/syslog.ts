// The syslog logging driver: each line as a syslog message to a unix socket (datagram or stream),
// UDP, TCP or TLS address, in Docker's formats (its default, rfc3164, rfc5424, rfc5424micro).
import dgram from 'node:dgram';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { DgramSocket } from 'node-unix-socket';
import { InvalidParameterError } from '../../errors.js';
import type { LogEntry } from '../../runtime/types.js';
import { drained, type LogSink } from './sink.js';
import { renderTag, type LogContainer } from './tag.js';

const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', '', '', '', '', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];
const SEVERITY = { stdout: 6 /* info */, stderr: 3 /* err */ };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.Stamp: "Jan _2 15:04:05", local time. */
function stamp(t: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[t.getMonth()]} ${String(t.getDate()).padStart(2, ' ')} ${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

function rfc3339(t: Date, micro: boolean): string {
  const off = -t.getTimezoneOffset();
  const local = new Date(t.getTime() + off * 60_000).toISOString().slice(0, micro ? 23 : 19);
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}:${String(Math.abs(off) % 60).padStart(2, '0')}`;
  return `${local}${micro ? '000' : ''}${zone}`;
}

type Format = (pri: number, t: Date, tag: string, msg: string) => string;

function formatter(name: string, local: boolean): Format {
  const host = os.hostname();
  const pid = process.pid;
  switch (name) {
    case 'rfc3164':
      return (pri, t, tag, msg) => `<${pri}>${stamp(t)} ${host} ${tag}[${pid}]: ${msg}`;
    case 'rfc5424':
    case 'rfc5424micro':
      return (pri, t, tag, msg) => `<${pri}>1 ${rfc3339(t, name === 'rfc5424micro')} ${host} ${tag} ${pid} ${tag} - ${msg}`;
    default:
      // Go's log/syslog: no hostname for the local socket, RFC 3339 time over the network.
      return local ? (pri, t, tag, msg) => `<${pri}>${stamp(t)} ${tag}[${pid}]: ${msg}` : (pri, t, tag, msg) => `<${pri}>${rfc3339(t, false)} ${host} ${tag}[${pid}]: ${msg}`;
  }
}

interface Transport {
  send(msg: string): Promise<void> | void;
  close(): void;
}

/** Resolves once `s` is connected (`ready`: 'secureConnect' for TLS); later errors just close it. */
function connected(s: net.Socket, ready: 'connect' | 'secureConnect'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    s.once(ready, () => {
      s.off('error', reject);
      s.on('error', () => s.destroy());
      resolve(s);
    });
    s.once('error', reject);
  });
}

function streamTransport(s: net.Socket, octetCounted: boolean): Transport {
  return {
    send: (msg) => drained(s, s.write(octetCounted ? `${Buffer.byteLength(msg)} ${msg}` : `${msg}\n`)),
    close: () => s.end(),
  };
}

function hostPort(rest: string, dflt: number): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(rest);
  return { host: m?.[1] || '127.0.0.1', port: m?.[2] ? Number(m[2]) : dflt };
}

/** Go's net.Dial error text, as dockerd reports a receiver that is down. */
function dialError(proto: string, addr: string, err: NodeJS.ErrnoException): InvalidParameterError {
  const why = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.code === 'ENOENT' ? 'connect: no such file or directory' : err.message;
  return new InvalidParameterError(`failed to initialize logging driver: dial ${proto} ${addr}: ${why}`);
}

/** syslog-tls-*: the CA that signs the receiver's certificate, our certificate and key, or no verification. */
async function tlsOptions(cfg: Record<string, string>, host: string): Promise<tls.ConnectionOptions> {
  const read = (file: string | undefined): Promise<Buffer | undefined> =>
    file
      ? fsp.readFile(file).catch((e: NodeJS.ErrnoException) => {
          throw new InvalidParameterError(`failed to initialize logging driver: open ${file}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
        })
      : Promise.resolve(undefined);
  const [ca, cert, key] = await Promise.all([read(cfg['syslog-tls-ca-cert']), read(cfg['syslog-tls-cert']), read(cfg['syslog-tls-key'])]);
  const skip = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(cfg['syslog-tls-skip-verify'] ?? '');
  return { ca, cert, key, rejectUnauthorized: !skip, servername: net.isIP(host) ? undefined : host };
}

async function openTransport(address: string, octetCounted: boolean, cfg: Record<string, string>): Promise<Transport> {
  const [proto, rest] = address.includes('://') ? address.split('://', 2) : ['unix', '/dev/log'];
  if (proto === 'udp') {
    const { host, port } = hostPort(rest, 514);
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    sock.on('error', () => undefined);
    return { send: (msg) => sock.send(msg, port, host), close: () => sock.close() };
  }
  if (proto === 'tcp') {
    const { host, port } = hostPort(rest, 514);
    const s = await connected(net.connect({ host, port }), 'connect').catch((e: NodeJS.ErrnoException) => {
      throw dialError('tcp', `${host}:${port}`, e);
    });
    return streamTransport(s, octetCounted);
  }
  if (proto === 'tcp+tls') {
    const { host, port } = hostPort(rest, 514);
    const opts = { host, port, ...(await tlsOptions(cfg, host)) };
    const s = await connected(tls.connect(opts), 'secureConnect').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') throw dialError('tcp', `${host}:${port}`, e);
      throw new InvalidParameterError(`failed to initialize logging driver: tls: ${e.message}`);
    });
    return streamTransport(s, octetCounted);
  }
  if (proto === 'unix' || proto === 'unixgram') {
    // dockerd checks the path first, then (as Go's syslog) tries a datagram socket, then a stream.
    await fsp.stat(rest).catch(() => {
      throw new InvalidParameterError(`stat ${rest}: no such file or directory`);
    });
    if (proto === 'unix') {
      const s = await connected(net.connect({ path: rest }), 'connect').catch(() => undefined);
      if (s) return streamTransport(s, false);
    }
    const d = new DgramSocket();
    d.on('error', () => undefined);
    return { send: (msg) => d.sendTo(Buffer.from(msg), 0, Buffer.byteLength(msg), rest, () => undefined), close: () => d.close() };
  }
  throw new InvalidParameterError(`failed to initialize logging driver: syslog: unsupported address ${address}`);
}

export async function openSyslog(cfg: Record<string, string>, c: LogContainer): Promise<LogSink> {
  const format = cfg['syslog-format'] ?? '';
  const address = cfg['syslog-address'] ?? 'unix:///dev/log';
  const local = address.startsWith('unix');
  const fac = cfg['syslog-facility'] ? (/^\d+$/.test(cfg['syslog-facility']) ? Number(cfg['syslog-facility']) : FACILITIES.indexOf(cfg['syslog-facility'])) : 3;
  const transport = await openTransport(address, format.startsWith('rfc5424'), cfg);
  const fmt = formatter(format, local);
  const tag = renderTag(cfg['tag'], c);
  return {
    write: (e: LogEntry) => transport.send(fmt(fac * 8 + SEVERITY[e.stream], e.time, tag, e.data.toString())),
    close: async () => transport.close(),
  };
}
