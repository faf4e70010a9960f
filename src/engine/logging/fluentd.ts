// The fluentd logging driver: each line as a forward-protocol message ([tag, time, record] in
// MessagePack) over TCP or a unix socket. With fluentd-async the connection is made (and remade)
// in the background and lines wait in a bounded buffer; without it, a receiver that is down
// fails the container's start, as with dockerd.
import net from 'node:net';
import { encode, ExtensionCodec } from '@msgpack/msgpack';
import { InvalidParameterError } from '../../errors.js';
import type { LogEntry } from '../../runtime/types.js';
import { drained, type LogSink } from './sink.js';
import { extraAttributes, renderTag, type LogContainer } from './tag.js';

/** Fluentd's EventTime: MessagePack extension 0, seconds and nanoseconds as two uint32. */
class EventTime {
  constructor(readonly time: Date) {}
}
const codec = new ExtensionCodec();
codec.register({
  type: 0,
  encode: (v: unknown) => {
    if (!(v instanceof EventTime)) return null;
    const b = Buffer.alloc(8);
    b.writeUInt32BE(Math.floor(v.time.getTime() / 1000), 0);
    b.writeUInt32BE((v.time.getTime() % 1000) * 1e6, 4);
    return b;
  },
  decode: () => null,
});

function target(address: string | undefined): net.NetConnectOpts & { label: string; proto: string } {
  const a = address || 'localhost:24224';
  if (a.startsWith('unix://')) return { path: a.slice(7), label: a.slice(7), proto: 'unix' };
  const rest = a.replace(/^tcp:\/\//, '');
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(rest);
  const host = !m?.[1] || m[1] === 'localhost' ? '127.0.0.1' : m[1];
  const port = m?.[2] ? Number(m[2]) : 24224;
  return { host, port, label: `${host}:${port}`, proto: 'tcp' };
}

function connect(opts: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(opts);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export async function openFluentd(cfg: Record<string, string>, c: LogContainer): Promise<LogSink> {
  const to = target(cfg['fluentd-address']);
  const async = cfg['fluentd-async'] === 'true' || cfg['fluentd-async-connect'] === 'true';
  const limit = Number(cfg['fluentd-buffer-limit'] || 1024 * 1024);
  const retryMs = Number(cfg['fluentd-retry-wait']?.replace(/ms$/, '') || 1000);
  const subSecond = cfg['fluentd-sub-second-precision'] === 'true';
  const tag = renderTag(cfg['tag'], c);
  const extra = extraAttributes(cfg, c);
  let socket: net.Socket | undefined;
  let closed = false;
  /** Encoded messages waiting for a connection (async mode), at most `limit` bytes. */
  let queue: Uint8Array[] = [];
  let queued = 0;

  const attach = (s: net.Socket): void => {
    socket = s;
    s.on('error', () => s.destroy());
    s.on('close', () => {
      socket = undefined;
      if (!closed && async) setTimeout(reconnect, retryMs);
    });
    for (const m of queue) s.write(m);
    queue = [];
    queued = 0;
  };
  const reconnect = (): void => {
    if (closed || socket) return;
    connect(to).then(attach, () => {
      if (!closed) setTimeout(reconnect, retryMs);
    });
  };

  if (async) reconnect();
  else {
    attach(
      await connect(to).catch((e: NodeJS.ErrnoException) => {
        const why = e.code === 'ECONNREFUSED' ? 'connect: connection refused' : e.message;
        throw new InvalidParameterError(`failed to initialize logging driver: dial ${to.proto} ${to.label}: ${why}`);
      }),
    );
  }

  return {
    write: (e: LogEntry, partial: boolean) => {
      const record: Record<string, string> = { container_id: c.id, container_name: `/${c.name}`, source: e.stream, log: e.data.toString(), ...extra };
      if (partial) record['partial_message'] = 'true';
      const time = subSecond ? new EventTime(e.time) : Math.floor(e.time.getTime() / 1000);
      const msg = encode([tag, time, record], { extensionCodec: codec });
      if (socket) return drained(socket, socket.write(msg));
      // No receiver yet: keep what fits in the buffer, drop the rest (dockerd's async mode drops too).
      if (queued + msg.length <= limit) {
        queue.push(msg);
        queued += msg.length;
      }
    },
    close: async () => {
      closed = true;
      if (socket) await new Promise<void>((r) => socket!.end(r));
    },
  };
}
