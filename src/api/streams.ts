// Docker's stream framing and the attach plumbing between a hijacked connection and a container's stdio.
import type { Duplex, Writable } from 'node:stream';
import { InvalidParameterError } from '../errors.js';
import type { AttachStream } from '../runtime/types.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** stdcopy framing: [stream, 0, 0, 0, uint32 BE length] + payload. 0 stdin, 1 stdout, 2 stderr. */
export function frame(stream: 0 | 1 | 2, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

export function writeOutput(out: Writable, tty: boolean, stream: 1 | 2, data: Buffer): void {
  if (data.length === 0) return;
  out.write(tty ? data : frame(stream, data));
}

/** "ctrl-p,ctrl-q" → [0x10, 0x11]; Docker's syntax: ctrl-<a-z@[\\]^_> or single characters. */
export function parseDetachKeys(spec: string | undefined): number[] {
  const s = spec === undefined || spec === '' ? 'ctrl-p,ctrl-q' : spec;
  return s.split(',').map((k) => {
    const key = k.trim();
    const ctrl = /^ctrl-(.)$/i.exec(key);
    if (ctrl) {
      const ch = ctrl[1].toLowerCase();
      if (ch >= 'a' && ch <= 'z') return ch.charCodeAt(0) - 96;
      const special: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };
      if (ch in special) return special[ch];
    } else if (key.length === 1) {
      return key.charCodeAt(0);
    }
    throw new InvalidParameterError(`Invalid detach keys (${spec}) provided`);
  });
}

/** Watches stdin bytes for the detach sequence; holds back a partial match like Docker does. */
export class DetachDetector {
  private matched = 0;

  constructor(private readonly keys: number[]) {}

  /** Returns the bytes to forward, and whether the sequence completed (the rest is dropped). */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) out.push(...this.keys.slice(0, this.matched));
      this.matched = 0;
      if (byte === this.keys[0]) {
        this.matched = 1;
        continue;
      }
      out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

/**
 * Keeps what a hijacked client sends while the process is being started: `release` stops
 * collecting and returns it all (the pump then reads the socket itself). A client that already
 * half-closed is seen by the pump through `socket.readableEnded`.
 */
export function holdInput(socket: Duplex, head: Buffer): { release: () => Buffer } {
  const held: Buffer[] = [head];
  const onData = (d: Buffer): void => {
    held.push(d);
  };
  socket.on('data', onData);
  return {
    release: () => {
      socket.off('data', onData);
      return Buffer.concat(held);
    },
  };
}

export interface PumpOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys: number[];
  /** Close the process's stdin when this client closes its side (docker run -i with StdinOnce). */
  closeStdinOnEnd: boolean;
  onDetach?: () => void;
  /** Awaited after the process's output ended and before the client's stream is closed. */
  beforeEnd?: () => Promise<unknown>;
}

/** Joins a hijacked client socket to a process's attach stream until either side ends. */
export function pumpAttach(socket: Duplex, head: Buffer, stream: AttachStream, opts: PumpOptions): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stream.close();
      if (!socket.destroyed) socket.end();
      resolve();
    };
    stream.on('data', (s: 1 | 2, chunk: Buffer) => {
      if ((s === 1 && opts.stdout) || (s === 2 && opts.stderr)) {
        if (!socket.destroyed) writeOutput(socket, opts.tty, s, chunk);
      }
    });
    stream.on('end', () => {
      if (!opts.beforeEnd) return finish();
      void opts.beforeEnd().finally(finish);
    });
    const detector = new DetachDetector(opts.tty ? opts.detachKeys : []);
    const onInput = (chunk: Buffer): void => {
      if (!opts.stdin) return;
      const { forward, detach } = detector.feed(chunk);
      if (forward.length) stream.writeStdin(forward);
      if (detach) {
        opts.onDetach?.();
        finish();
      }
    };
    if (head.length) onInput(head);
    const onEnd = (): void => {
      if (opts.stdin && opts.closeStdinOnEnd) stream.closeStdin();
      if (!opts.stdout && !opts.stderr) finish();
    };
    socket.on('data', onInput);
    if (socket.readableEnded) onEnd();
    else socket.on('end', onEnd);
    socket.on('close', finish);
    socket.on('error', finish);
  });
}
