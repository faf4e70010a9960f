// Logging drivers at run time. conmon always writes the container's output to its k8s-file
// (containers/<id>/container.log): that file is what `docker logs` reads for json-file and local,
// and the local cache it reads for syslog and fluentd (Docker 20.10's "dual logging"). For
// syslog and fluentd a pump in berthd follows that file from the container's start and ships
// each line to the receiver, so a container writing faster than the receiver takes lines never
// waits on it or on the daemon: the pump only falls behind in the file. `none` keeps nothing.
import { promises as fsp, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readLogs } from '../../runtime/logs.js';
import type { LogEntry, LogReadOptions } from '../../runtime/types.js';
import { isRunning, type ContainerRecord } from '../containers/container.js';
import type { LogConfig } from '../../types/api.js';
import { openFluentd } from './fluentd.js';
import { LogRotation, rotationPolicy, type RotationDeps } from './rotation.js';
import { MAX_MESSAGE, type LogSink } from './sink.js';
import { openSyslog } from './syslog.js';
import type { LogContainer } from './tag.js';

function logContainer(c: ContainerRecord): LogContainer {
  return { id: c.id, name: c.name, image: c.image, imageId: c.imageId, labels: c.config.Labels ?? {}, env: c.config.Env ?? [] };
}

function logConfig(c: ContainerRecord): LogConfig {
  return { Type: c.hostConfig.LogConfig?.Type || 'json-file', Config: c.hostConfig.LogConfig?.Config ?? {} };
}

type PumpStart = Pick<LogReadOptions, 'since' | 'handle' | 'rotated' | 'from'>;

interface Position {
  ino: number;
  offset: number;
  time: string;
  /** false while the pump runs; true once it shipped the container's last line. */
  done?: boolean;
}

/**
 * Where a pump got to in the log (after the last line handed to the receiver's socket), saved in
 * the container's directory so that a berthd restarted after a crash goes on from there: the lines
 * written while it was down are shipped once. Saved after the last line of each read, and every
 * 20 ms within a long one: a crash between a line's write to the socket and the save sends that
 * line again.
 */
class PumpCursor {
  private latest?: Position;
  private savedAt = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly file: string) {}

  load(): Position | undefined {
    try {
      const p = JSON.parse(readFileSync(this.file, 'utf8')) as Position;
      return typeof p.ino === 'number' && typeof p.offset === 'number' ? p : undefined;
    } catch {
      return undefined;
    }
  }

  save(p: Position): void {
    this.latest = p;
    this.flush();
  }

  /** The container's last line was shipped: nothing to resume. */
  finish(): void {
    if (this.latest) this.save({ ...this.latest, done: true });
  }

  /** After a line went to the receiver; `last` of those read together: saved at once. */
  advance(p: Position, last: boolean): void {
    this.latest = { ...p, done: false };
    if (last || Date.now() - this.savedAt >= 20) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 20);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.latest) return;
    this.savedAt = Date.now();
    try {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(this.latest));
      renameSync(`${this.file}.tmp`, this.file);
    } catch {
      /* the container's directory is gone */
    }
  }
}

interface Pump {
  sink: LogSink;
  cursor: PumpCursor;
  stop: AbortController;
  done?: Promise<void>;
}

export class LogDrivers {
  private readonly pumps = new Map<string, Pump>();
  private readonly rotation: LogRotation;

  constructor(private readonly deps: RotationDeps) {
    this.rotation = new LogRotation(deps);
  }

  /** Whether conmon keeps the container's output (everything but `none`). */
  keepsOutput(c: ContainerRecord): boolean {
    return c.hostConfig.LogConfig?.Type !== 'none';
  }

  /**
   * Before the container starts: the driver's options are checked and its receiver connected,
   * so a bad value or a receiver that is down fails the start as with dockerd. Lines are shipped
   * from this moment on, and the log file is rotated as it grows.
   */
  async prepare(c: ContainerRecord, resuming = false): Promise<void> {
    const lc = logConfig(c);
    const policy = rotationPolicy(lc);
    await this.stop(c.id);
    if (policy) await this.rotation.rotate(c.id, policy, resuming);
    if (lc.Type === 'syslog' || lc.Type === 'fluentd') {
      const sink = lc.Type === 'syslog' ? await openSyslog(lc.Config ?? {}, logContainer(c)) : await openFluentd(lc.Config ?? {}, logContainer(c));
      // conmon appends to this file. Opened now, before the container starts: a container that
      // exits and is removed (--rm) before the pump's first look would otherwise take its lines
      // with it (seen: every line of a quick `run --rm` lost).
      const files = await this.rotation.open(c.id, true);
      const cursor = this.cursorOf(c.id);
      const saved = resuming ? cursor.load() : undefined;
      if (resuming) {
        // Lines written while berthd was down: from where the pump got to, or from the start.
        this.startPump(c.id, sink, cursor, { handle: files.current ?? undefined, rotated: files.rotated, from: saved, since: new Date(saved?.time ?? c.state.startedAt) });
      } else {
        for (const f of files.rotated) await f.close();
        const st = await files.current?.stat();
        if (st) cursor.save({ ino: st.ino, offset: st.size, time: new Date().toISOString(), done: false });
        this.startPump(c.id, sink, cursor, { since: new Date(), handle: files.current ?? undefined });
      }
    }
    if (policy) this.rotation.watch(c.id, policy);
  }

  private cursorOf(id: string): PumpCursor {
    return new PumpCursor(path.join(path.dirname(this.deps.logPath(id)), 'log-pump.json'));
  }

  /**
   * After a daemon restart: rotate, and ship what running containers wrote meanwhile and from now
   * on, and what containers that exited meanwhile wrote before their end.
   */
  async resume(c: ContainerRecord): Promise<void> {
    if (this.pumps.has(c.id)) return;
    if (isRunning(c)) return this.prepare(c, true).catch(() => undefined);
    // It exited while berthd was down: ship what its pump had not, then stop.
    if (this.cursorOf(c.id).load()?.done !== false) return;
    void this.prepare(c, true).then(
      () => this.stop(c.id),
      () => undefined,
    );
  }

  private startPump(id: string, sink: LogSink, cursor: PumpCursor, from: PumpStart): void {
    const pump: Pump = { sink, cursor, stop: new AbortController() };
    this.pumps.set(id, pump);
    pump.done = this.run(id, pump, cursor, from);
  }

  private async run(id: string, pump: Pump, cursor: PumpCursor, from: PumpStart): Promise<void> {
    try {
      for await (const e of readLogs(this.deps.logPath(id), { ...from, follow: true, signal: pump.stop.signal, wholeLines: true, successor: (ino) => this.rotation.successor(id, ino) })) {
        await ship(pump.sink, e);
        if (e.at) cursor.advance({ ino: e.at.ino, offset: e.at.offset, time: e.time.toISOString() }, e.at.last);
      }
    } catch {
      // the spool went away (container removed): nothing more to ship
    } finally {
      cursor.flush();
      await pump.sink.close().catch(() => undefined);
    }
  }

  /** `docker logs`: the container's log across its rotated files. */
  async *read(id: string, opts: Omit<LogReadOptions, 'handle' | 'rotated' | 'successor'>): AsyncIterable<LogEntry> {
    const files = await this.rotation.open(id, false);
    yield* readLogs(this.deps.logPath(id), { ...opts, handle: files.current ?? undefined, rotated: files.rotated, successor: (ino) => this.rotation.successor(id, ino) });
  }

  /**
   * The container exited: ship what is left in the spool, then close the connection. conmon may
   * still be writing the last of the output when the exit is seen, so the pump goes on until the
   * file has stopped growing.
   */
  async stop(id: string): Promise<void> {
    this.rotation.unwatch(id);
    const pump = this.pumps.get(id);
    if (!pump) return;
    this.pumps.delete(id);
    await settled(this.deps.logPath(id));
    pump.stop.abort();
    await pump.done;
    pump.cursor.finish();
  }

  /** The container was removed. */
  forget(id: string): void {
    this.rotation.forget(id);
  }
}

/** Resolves once the file's size held still for two looks 50 ms apart (2 s at most). */
async function settled(file: string): Promise<void> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const size = await fsp.stat(file).then((st) => st.size, () => -1);
    if (size === last) return;
    last = size;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A line without its newline, in pieces of at most 16 KiB; all but the last marked partial. */
async function ship(sink: LogSink, e: LogEntry): Promise<void> {
  const complete = e.data.length > 0 && e.data[e.data.length - 1] === 0x0a;
  const data = complete ? e.data.subarray(0, -1) : e.data;
  for (let off = 0; off < data.length || off === 0; off += MAX_MESSAGE) {
    const piece = data.subarray(off, off + MAX_MESSAGE);
    const last = off + MAX_MESSAGE >= data.length;
    const wait = sink.write({ stream: e.stream, time: e.time, data: piece }, !last || !complete);
    if (wait) await wait;
    if (data.length === 0) break;
  }
}
