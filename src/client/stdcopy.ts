// Docker's stdout/stderr multiplexing for non-tty streams: each frame is an 8-byte header
// [stream, 0, 0, 0, size(uint32 big-endian)] followed by `size` bytes of payload.

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

export interface Frame {
  stream: number;
  data: Buffer;
}

/** Incremental decoder: feed it chunks in any split, get whole frames back. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    let off = 0;
    while (this.buf.length - off >= 8) {
      const stream = this.buf[off];
      if (stream > 3) throw new Error(`unrecognized input header: ${stream}`);
      const size = this.buf.readUInt32BE(off + 4);
      if (this.buf.length - off - 8 < size) break;
      out.push({ stream, data: this.buf.subarray(off + 8, off + 8 + size) });
      off += 8 + size;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
    return out;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Encodes one frame (used by tests and by anything that needs to speak the format). */
export function encodeFrame(stream: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export interface Sink {
  write(b: Buffer): unknown;
}

/**
 * Reads a multiplexed stream to its end, routing frames to `out` and `err`.
 * A SYSTEMERR frame rejects with its text, like Docker's stdcopy.
 */
export function demux(src: NodeJS.ReadableStream, out: Sink | null, err: Sink | null): Promise<void> {
  const dec = new FrameDecoder();
  return new Promise((resolve, reject) => {
    let failed = false;
    src.on('data', (chunk: Buffer) => {
      if (failed) return;
      let frames: Frame[];
      try {
        frames = dec.push(chunk);
      } catch (e) {
        failed = true;
        reject(e);
        return;
      }
      for (const f of frames) {
        if (f.stream === STDOUT || f.stream === STDIN) out?.write(f.data);
        else if (f.stream === STDERR) err?.write(f.data);
        else {
          failed = true;
          reject(new Error(`error from daemon in stream: ${f.data.toString()}`));
          return;
        }
      }
    });
    src.on('end', () => failed || resolve());
    src.on('close', () => failed || resolve());
    src.on('error', (e: Error) => failed || reject(e));
  });
}
