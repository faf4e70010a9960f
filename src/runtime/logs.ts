// Reader for conmon's k8s-file log format. Each line is
//   <RFC3339Nano time> <stdout|stderr> <P|F> <data>\n
// F: <data> is a whole line and the trailing '\n' is the line's own newline.
// P: <data> is a fragment the process wrote without a newline (conmon read it in one go) and the
//    trailing '\n' was added by conmon. Fragments of one stream are joined until its next F line.
import { watch, type FSWatcher } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import type { LogEntry, LogReadOptions, NextLogFile } from './types.js';

// A reader starts with a small buffer and doubles it while reads fill it (catching up on a long
// log), up to CHUNK; at the end of the file it goes back to the small one. A follower waits there
// most of its life: 200 `logs -f` with a 1 MiB buffer each held 200 MiB of the daemon's memory.
const MIN_CHUNK = 16 * 1024;
const CHUNK = 1 << 20;
const NL = 0x0a;
const SP = 0x20;

interface Line {
  stream: 'stdout' | 'stderr';
  partial: boolean;
  timeText: string;
  data: Buffer;
}

/** Parse one log line (without its '\n'); null for garbage. */
export function parseLogLine(line: Buffer): Line | null {
  const sp1 = line.indexOf(SP);
  if (sp1 <= 0) return null;
  const sp2 = line.indexOf(SP, sp1 + 1);
  if (sp2 < 0) return null;
  const s = line.toString('latin1', sp1 + 1, sp2);
  if (s !== 'stdout' && s !== 'stderr') return null;
  const tag = line[sp2 + 1];
  if (tag !== 0x50 /* P */ && tag !== 0x46 /* F */) return null;
  // "<tag> <data>"; tolerate a missing space for an empty F line.
  const dataStart = Math.min(line.length, sp2 + 3);
  return { stream: s, partial: tag === 0x50, timeText: line.toString('latin1', 0, sp1), data: line.subarray(dataStart) };
}

/** RFC3339 with up to nanoseconds -> Date (millisecond precision). */
export function parseLogTime(t: string): Date {
  // Date.parse copes with extra fraction digits in V8, but be explicit: keep 3.
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return new Date(Date.parse(t));
  const frac = (m[2] ?? '').slice(0, 3).padEnd(3, '0');
  return new Date(Date.parse(`${m[1]}.${frac}${m[3]}`));
}

interface Pending {
  time: string;
  parts: Buffer[];
}

class Assembler {
  private pending: { stdout: Pending | null; stderr: Pending | null } = { stdout: null, stderr: null };

  /** Feed a line; returns a finished entry, if any. */
  push(l: Line): { stream: 'stdout' | 'stderr'; timeText: string; data: Buffer } | null {
    const p = this.pending[l.stream];
    if (l.partial) {
      // A copy: the line is a view of the read buffer, which the next read overwrites while
      // the rest of this line is still to come.
      const data = Buffer.from(l.data);
      if (p) p.parts.push(data);
      else this.pending[l.stream] = { time: l.timeText, parts: [data] };
      return null;
    }
    const nl = Buffer.from([NL]);
    if (!p) return { stream: l.stream, timeText: l.timeText, data: Buffer.concat([l.data, nl]) };
    this.pending[l.stream] = null;
    return { stream: l.stream, timeText: p.time, data: Buffer.concat([...p.parts, l.data, nl]) };
  }

  /** Unterminated fragments (the process wrote no newline yet), oldest first. */
  flush(): { stream: 'stdout' | 'stderr'; timeText: string; data: Buffer }[] {
    const out = [];
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.pending[s];
      if (p) out.push({ stream: s, timeText: p.time, data: Buffer.concat(p.parts) });
      this.pending[s] = null;
    }
    return out.sort((a, b) => (a.timeText < b.timeText ? -1 : a.timeText > b.timeText ? 1 : 0));
  }
}

/** What a backwards scan has counted so far, carried from a log file into the one before it. */
interface TailCount {
  count: number;
  seen: { stdout: boolean; stderr: boolean };
}

/**
 * Byte offset where the last `tail` entries start. Scans backwards from the end so that the tail
 * of a large log costs only what is read.
 */
export async function tailOffset(fh: FileHandle, size: number, tail: number): Promise<number> {
  if (tail <= 0) return size;
  return (await scanBack(fh, size, tail, { count: 0, seen: { stdout: false, stderr: false } }, true)) ?? 0;
}

/**
 * Where the last `tail` entries start in this file, counting on from `c` (entries already counted in
 * later files); null when the whole file belongs to the tail. `live`: the file being written, whose
 * bytes after the last newline are a write in progress.
 */
async function scanBack(fh: FileHandle, size: number, tail: number, c: TailCount, live: boolean): Promise<number | null> {
  // Walking backwards, an entry is counted at its F line, or at the last fragment of a stream's
  // unterminated trailing group (a P line of a stream with no later line). The start offset is just
  // after the line that would make it tail+1 entries.
  let end = size;
  let carry: Buffer = Buffer.alloc(0); // an incomplete line continuing into the chunk after this one
  let first = true;
  while (end > 0) {
    const start = Math.max(0, end - 64 * 1024);
    const buf = Buffer.alloc(end - start);
    await fh.read(buf, 0, buf.length, start);
    const data = carry.length ? Buffer.concat([buf, carry]) : buf;
    // lineEnd: index of the '\n' ending the current line (offsets relative to `start`).
    let lineEnd = data.length;
    if (first && !live) {
      first = false;
      if (data[data.length - 1] === NL) lineEnd = data.length - 1;
    } else if (first) {
      first = false;
      // Bytes after the last '\n' are a write in progress: not a line yet.
      lineEnd = data.lastIndexOf(NL);
      if (lineEnd < 0) {
        if (start === 0) return null;
        carry = Buffer.from(data);
        end = start;
        continue;
      }
    }
    for (;;) {
      const prevNl = lineEnd > 0 ? data.lastIndexOf(NL, lineEnd - 1) : -1;
      if (prevNl < 0 && start > 0) break; // this line starts in an earlier chunk
      const line = parseLogLine(data.subarray(prevNl + 1, lineEnd));
      if (line) {
        if (!line.partial || !c.seen[line.stream]) c.count++;
        c.seen[line.stream] = true;
        if (c.count > tail) return start + lineEnd + 1;
      }
      if (prevNl < 0) return null;
      lineEnd = prevNl;
    }
    carry = Buffer.from(data.subarray(0, lineEnd));
    end = start;
  }
  return null;
}

/** Where reading starts for the last `tail` entries of a log kept in several files (oldest first). */
async function tailStart(files: FileHandle[], tail: number): Promise<{ index: number; offset: number }> {
  const last = files.length - 1;
  if (tail <= 0) return { index: last, offset: (await files[last].stat()).size };
  const c: TailCount = { count: 0, seen: { stdout: false, stderr: false } };
  for (let i = last; i >= 0; i--) {
    const offset = await scanBack(files[i], (await files[i].stat()).size, tail, c, i === last);
    if (offset !== null) return { index: i, offset };
  }
  return { index: 0, offset: 0 };
}

function waitForChange(file: string, signal: AbortSignal | undefined, pollMs: number): Promise<void> {
  return new Promise((resolve) => {
    let w: FSWatcher | null = null;
    const done = () => {
      clearTimeout(timer);
      w?.close();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, pollMs);
    try {
      w = watch(file, { persistent: true }, done);
      w.on('error', done);
    } catch {
      /* poll only */
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Opens the log file, waiting for it to appear when following; null when it is not there. */
async function openLog(file: string, opts: LogReadOptions): Promise<FileHandle | null> {
  for (;;) {
    try {
      return await fs.open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!opts.follow || opts.signal?.aborted) return null;
      await waitForChange(file, opts.signal, 100);
    }
  }
}

/** The file (of those to read) with inode `from.ino` and the offset in it, when it is still there. */
async function resumePoint(files: FileHandle[], from: { ino: number; offset: number }): Promise<{ index: number; offset: number } | null> {
  for (let i = 0; i < files.length; i++) {
    const st = await files[i].stat();
    if (st.ino === from.ino && st.size >= from.offset) return { index: i, offset: from.offset };
  }
  return null;
}

/** The file the log path names now, when that is another one than `ino` (the log was rotated). */
export async function nextByPath(file: string, ino: number): Promise<NextLogFile | null> {
  const named = await fs.stat(file).catch(() => null);
  if (!named || named.ino === ino) return null;
  const handle = await fs.open(file, 'r').catch(() => null);
  return handle && { handle, ino: (await handle.stat()).ino };
}

/**
 * Read a container log written by conmon: the files rotated away before it (`opts.rotated`, oldest
 * first) and then the file conmon writes. With follow, keeps reading as the file grows until
 * opts.signal aborts, and across rotations: once the log path names a new file, the old one is read
 * to its end before the reader moves on. Entries carry the exact bytes the process wrote.
 */
export async function* readLogs(file: string, opts: LogReadOptions): AsyncIterable<LogEntry> {
  const { signal } = opts;
  const current = opts.handle ?? (await openLog(file, opts));
  // The files still to read, oldest first; `fh` is the one being read.
  const queue: FileHandle[] = [...(opts.rotated ?? [])];
  if (current) queue.push(current);
  if (queue.length === 0) return;
  let fh = queue[0];
  // The file the log went on in: the one being read gets no more writes once read to its end again.
  let pending: NextLogFile | null = null;
  try {
    const sinceMs = opts.since ? opts.since.getTime() : undefined;
    const untilMs = opts.until ? opts.until.getTime() : undefined;
    let offset = 0;
    let index = 0;
    if (opts.tail !== undefined) ({ index, offset } = await tailStart(queue, opts.tail));
    else if (opts.from) ({ index, offset } = (await resumePoint(queue, opts.from)) ?? { index, offset });
    for (const f of queue.splice(0, index)) await f.close();
    fh = queue.shift()!;
    let ino = (await fh.stat()).ino;
    const successor = opts.successor ?? ((i: number) => nextByPath(file, i));
    const asm = new Assembler();
    let rest: Buffer = Buffer.alloc(0);
    // Only the bytes a read filled are ever looked at: no need to zero it.
    let buf = Buffer.allocUnsafe(MIN_CHUNK);

    const accept = (e: { stream: 'stdout' | 'stderr'; timeText: string; data: Buffer }): LogEntry | 'stop' | null => {
      const time = parseLogTime(e.timeText);
      const t = time.getTime();
      if (untilMs !== undefined && t > untilMs) return 'stop';
      if (sinceMs !== undefined && t < sinceMs) return null;
      return { stream: e.stream, time, data: e.data };
    };

    // After the signal aborts we still read up to the current end of file once ("drain"), so
    // a follower stopped because the container exited gets its last lines; a consumer that went
    // away simply stops iterating.
    let draining = !opts.follow || !!signal?.aborted;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead > 0) {
        offset += bytesRead;
        const data = rest.length ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        let pos = 0;
        const lastNl = data.lastIndexOf(NL);
        for (;;) {
          const nl = data.indexOf(NL, pos);
          if (nl < 0) break;
          const line = parseLogLine(data.subarray(pos, nl));
          pos = nl + 1;
          if (!line) continue;
          const e = asm.push(line);
          if (!e) continue;
          const r = accept(e);
          if (r === 'stop') return;
          // Where the entry ends: a reader that stops here can resume after it (the log pump).
          if (r) yield { ...r, at: { ino, offset: offset - data.length + pos, last: nl === lastNl } };
        }
        // Copy: `buf` is reused for the next read.
        rest = Buffer.from(data.subarray(pos));
        if (bytesRead === buf.length && buf.length < CHUNK) buf = Buffer.allocUnsafe(buf.length * 2);
        continue;
      }
      const queued = queue.shift();
      const next = queued ? { handle: queued, ino: (await queued.stat()).ino } : pending;
      if (next) {
        // On to the next file of the log; a line split across the two is joined by the assembler.
        await fh.close();
        fh = next.handle;
        ino = next.ino;
        pending = null;
        offset = 0;
        rest = Buffer.alloc(0);
        continue;
      }
      if (opts.follow && (pending = await successor(ino))) continue;
      // At EOF: hand out unterminated fragments so a prompt without newline shows up.
      for (const e of opts.wholeLines && !draining ? [] : asm.flush()) {
        const r = accept(e);
        if (r === 'stop') return;
        if (r) yield r;
      }
      if (draining) return;
      if (buf.length > MIN_CHUNK) buf = Buffer.allocUnsafe(MIN_CHUNK);
      if (!signal?.aborted) await waitForChange(file, signal, 250);
      if (signal?.aborted) draining = true;
      const st = await fh.stat().catch(() => null);
      if (st && st.size < offset) {
        offset = 0; // truncated
        rest = Buffer.alloc(0);
      }
    }
  } finally {
    for (const f of [fh, ...queue, ...(pending ? [pending.handle] : [])]) await f.close().catch(() => undefined);
  }
}
