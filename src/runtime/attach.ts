// Client side of conmon's attach socket (SOCK_SEQPACKET, <bundle>/attach).
//
// Every packet conmon sends is one read of the container's stdout/stderr pipe (or pty) prefixed
// with one byte naming the pipe: 2 = stdout, 3 = stderr (1 would be stdin, never sent). Packets we
// send are written to the container's stdin verbatim; conmon receives at most 32767 bytes per
// packet (CONN_SOCK_BUF_SIZE - 1), so larger writes are split. shutdown(SHUT_WR) on our side makes
// conmon close the container's stdin unless it runs with --leave-stdin-open. conmon closes the
// socket after draining the output of an exited process, which is our 'end'.
import { EventEmitter } from 'node:events';
import { openSync, closeSync, writeSync, constants as fsc } from 'node:fs';
import { SeqpacketSocket } from 'node-unix-socket';
import type { AttachStream } from './types.js';

const STDOUT_PIPE = 2;
const STDERR_PIPE = 3;
const MAX_STDIN_PACKET = 32 * 1024 - 1;

export class ConmonAttachStream extends EventEmitter implements AttachStream {
  private sock: SeqpacketSocket | null = null;
  private ended = false;
  private stdinClosed = false;

  /** Connect; resolves once connected (conmon will then accept us before reading more output). */
  static connect(socketPath: string): Promise<ConmonAttachStream> {
    const s = new ConmonAttachStream();
    return new Promise((resolve) => {
      let sock: SeqpacketSocket;
      try {
        sock = new SeqpacketSocket();
      } catch {
        s.finish();
        resolve(s);
        return;
      }
      s.sock = sock;
      let connected = false;
      sock.on('data', (buf: Buffer) => s.onPacket(buf));
      sock.on('end', () => s.finish());
      sock.on('error', () => {
        // Connection refused / no socket: the monitor is gone, so there is nothing to read.
        if (!connected) {
          connected = true;
          resolve(s);
        }
        s.finish();
      });
      try {
        sock.connect(socketPath, () => {
          connected = true;
          resolve(s);
        });
      } catch {
        connected = true;
        s.finish();
        resolve(s);
      }
    });
  }

  private onPacket(buf: Buffer): void {
    if (buf.length < 1 || this.ended) return;
    const pipe = buf[0];
    const data = buf.subarray(1);
    // Only stdout/stderr packets carry output; anything else (conmon's control bytes) is not the process's.
    if (data.length === 0 || (pipe !== STDOUT_PIPE && pipe !== STDERR_PIPE)) return;
    this.emit('data', pipe === STDERR_PIPE ? 2 : 1, data);
  }

  /** The process's output is fully delivered (or the monitor went away). Emits 'end' once. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const sock = this.sock;
    this.sock = null;
    if (sock) {
      try {
        sock.destroy();
      } catch {
        /* already gone */
      }
    }
    // Let listeners attach first when the stream is born ended.
    process.nextTick(() => this.emit('end'));
  }

  get isEnded(): boolean {
    return this.ended;
  }

  writeStdin(chunk: Buffer): void {
    if (!this.sock || this.stdinClosed || chunk.length === 0) return;
    try {
      for (let off = 0; off < chunk.length; off += MAX_STDIN_PACKET) {
        const end = Math.min(chunk.length, off + MAX_STDIN_PACKET);
        this.sock.write(chunk, off, end - off);
      }
    } catch {
      /* socket gone: output side will report 'end' */
    }
  }

  closeStdin(): void {
    if (!this.sock || this.stdinClosed) return;
    this.stdinClosed = true;
    try {
      this.sock.end();
    } catch {
      /* gone */
    }
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.removeAllListeners('data');
    const sock = this.sock;
    this.sock = null;
    try {
      sock?.destroy();
    } catch {
      /* gone */
    }
  }
}

/**
 * Resize the pty of a conmon-monitored process: conmon reads "<type> <height> <width>\n" from the
 * `ctl` fifo in its bundle dir, type 1 = window resize.
 */
export function writeResize(ctlFifo: string, height: number, width: number): void {
  const h = Math.max(0, Math.min(65535, Math.floor(height)));
  const w = Math.max(0, Math.min(65535, Math.floor(width)));
  writeCtl(ctlFifo, `1 ${h} ${w}\n`);
}

/**
 * Ask conmon to reopen its log file (ctl message type 2, as CRI-O does for the kubelet's log
 * rotation): conmon closes its descriptor, creates a new file at the log path and writes there.
 * False when no conmon reads the fifo (gone, or not listening yet).
 */
export function reopenLog(ctlFifo: string): boolean {
  return writeCtl(ctlFifo, '2 0 0\n');
}

/** Opening non-blocking fails (ENXIO) instead of hanging when conmon is gone. */
function writeCtl(ctlFifo: string, msg: string): boolean {
  let fd: number;
  try {
    fd = openSync(ctlFifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') return false; // monitor gone
    throw err;
  }
  try {
    writeSync(fd, msg);
    return true;
  } finally {
    closeSync(fd);
  }
}
