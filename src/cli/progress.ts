// Renders a daemon's JSON message stream (pull, push, import, load, build) as the Docker CLI's
// jsonmessage package does. On a terminal each layer id owns a line that is redrawn in place
// (cursor up, erase line, carriage return, cursor down) with a progress bar built from
// `progressDetail`; elsewhere every status change is one plain line and progress updates are
// dropped. `aux` messages go to a callback, `errorDetail` ends the stream with an error.

import type { JSONMessage } from '../types/api.js';
import { jsonStream } from '../client/jsonstream.js';
import { humanSize } from '../util/units.js';
import { formatGoDuration } from '../util/duration.js';

/** One message of the stream: src/types/api.ts's JSONMessage as a client must read it (any field may be null). */
export interface StreamMessage {
  status?: string;
  id?: string;
  /** Pre-rendered progress bar (deprecated by the API; shown only when progressDetail is absent). */
  progress?: string;
  progressDetail?: Progress | null;
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string } | null;
  aux?: JSONMessage['aux'] | null;
  from?: string;
  time?: number;
  timeNano?: number;
}

export interface Progress {
  current?: number;
  total?: number;
  /** Unix seconds the operation started at: enables the time-left estimate. */
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

/** An error the daemon reported inside the stream (errorDetail). */
export class JSONStreamError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'JSONStreamError';
  }
}

export interface Sink {
  write(s: string): unknown;
}

export interface RenderOptions {
  /** Draw progress bars and redraw lines in place. */
  isTerminal: boolean;
  /** Terminal columns; the bar needs more than 110, the time left more than 50 (Go falls back to 200). */
  width?: () => number;
  /** Receives messages carrying `aux` (push's {Tag, Digest, Size}, build's image id). */
  aux?: (m: StreamMessage) => void;
  /** Clock for the time-left estimate, in ms. */
  now?: () => number;
}

const ESC = '\x1b[';
const clearLine = `${ESC}2K`;
const up = (n: number): string => (n > 0 ? `${ESC}${n}A` : '');
const down = (n: number): string => (n > 0 ? `${ESC}${n}B` : '');

/** Go's time.Duration.String() for a whole number of seconds. */
export function goDuration(seconds: number): string {
  return formatGoDuration(seconds * 1e9);
}

/** JSONProgress.String(): "[====>     ]  1.2MB/3.4MB 5s" depending on the width. */
export function progressString(p: Progress, width: number, nowMs: number = Date.now()): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbers = '';
  if (p.hidecounts) numbers = '';
  else if (!p.units) {
    const c = humanSize(current);
    numbers = current > total ? c.padStart(8) : `${c.padStart(8)}/${humanSize(total)}`;
  } else numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  let left = '';
  if (width > 50 && current > 0 && p.start && p.start > 0 && percentage < 50) {
    const fromStartNs = (nowMs - p.start * 1000) * 1e6;
    const perEntry = Math.trunc(fromStartNs / current);
    const leftNs = (total - current) * perEntry;
    // Duration.Round(time.Second): halves away from zero
    left = ` ${goDuration(Math.sign(leftNs) * Math.floor(Math.abs(leftNs) / 1e9 + 0.5))}`;
  }
  return bar + numbers + left;
}

/** time.Format(RFC3339NanoFixed) in local time. */
function rfc3339NanoFixed(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = String(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).padStart(9, '0');
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p2(Math.trunc(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${frac}${zone}`;
}

function hasValue<T>(v: T | null | undefined): v is T {
  return v !== undefined && v !== null;
}

/**
 * The stateful part of DisplayJSONMessagesStream: which line each layer id owns. `render` returns
 * the text for one message, or throws JSONStreamError (after the text that must still be written
 * is handed to `flush`).
 */
export class JSONMessageRenderer {
  private ids = new Map<string, number>();

  constructor(private readonly opts: RenderOptions) {}

  private width(): number {
    return this.opts.width ? this.opts.width() : 200;
  }

  render(m: StreamMessage, flush: (s: string) => void): string {
    if (hasValue(m.aux)) {
      this.opts.aux?.(m);
      return '';
    }
    const tty = this.opts.isTerminal;
    const progress = hasValue(m.progressDetail) ? m.progressDetail : undefined;
    let s = '';
    let diff = 0;
    if (m.id && (progress || m.progress)) {
      let line = this.ids.get(m.id);
      if (line === undefined) {
        line = this.ids.size;
        this.ids.set(m.id, line);
        if (tty) s += '\n';
      }
      diff = this.ids.size - line;
      if (tty) s += up(diff);
    } else {
      // A line that is not a layer's progress ends the block of redrawable lines
      // (pull -a moves on to the next tag).
      this.ids.clear();
    }
    const error = hasValue(m.errorDetail) ? m.errorDetail : m.error ? { message: m.error } : undefined;
    if (error) {
      if (m.id && tty) s += down(diff);
      flush(s);
      throw new JSONStreamError(error.message ?? '', error.code);
    }
    s += this.display(m, progress);
    if (m.id && tty) s += down(diff);
    return s;
  }

  /** JSONMessage.Display. */
  private display(m: StreamMessage, progress: Progress | undefined): string {
    const tty = this.opts.isTerminal;
    let s = '';
    let endl = '';
    if (tty && !m.stream && progress) {
      s += clearLine + '\r';
      endl = '\r';
    } else if (progress && progressString(progress, this.width(), this.now()) !== '') {
      return ''; // no progress bars off a terminal
    }
    if (m.timeNano) s += `${rfc3339NanoFixed(BigInt(Math.trunc(m.timeNano)))} `;
    else if (m.time) s += `${rfc3339NanoFixed(BigInt(Math.trunc(m.time)) * 1_000_000_000n)} `;
    if (m.id) s += `${m.id}: `;
    if (m.from) s += `(from ${m.from}) `;
    const status = m.status ?? '';
    if (progress && tty) s += `${status} ${progressString(progress, this.width(), this.now())}${endl}`;
    else if (m.progress) s += `${status} ${m.progress}${endl}`;
    else if (m.stream) s += `${m.stream}${endl}`;
    else s += `${status}${endl}\n`;
    return s;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }
}

/**
 * Reads a JSON message stream to its end, writing it to `out` (null: parse only, for --quiet).
 * Rejects with JSONStreamError on the first error message.
 */
export async function displayJSONMessages(src: AsyncIterable<Buffer | string>, out: Sink | null, opts: RenderOptions): Promise<void> {
  const r = new JSONMessageRenderer(opts);
  const write = (s: string) => {
    if (s && out) out.write(s);
  };
  for await (const m of jsonStream<StreamMessage>(src)) {
    if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
    write(r.render(m, write));
  }
}

/** Render options for a process stream: terminal detection and live width, like docker's streams.Out. */
export function renderOptionsFor(stream: NodeJS.WriteStream, aux?: (m: StreamMessage) => void): RenderOptions {
  const tty = !!stream.isTTY;
  return {
    isTerminal: tty,
    width: () => (tty ? (stream.columns ?? 200) : 200),
    aux,
  };
}

/** Displays a stream on stdout or stderr as docker does (null stream: --quiet). */
export function displayTo(src: AsyncIterable<Buffer | string>, stream: NodeJS.WriteStream | null, aux?: (m: StreamMessage) => void): Promise<void> {
  if (!stream) return displayJSONMessages(src, null, { isTerminal: false, aux });
  return displayJSONMessages(src, stream, renderOptionsFor(stream, aux));
}
