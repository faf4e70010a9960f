// Rotation of a container's log files, as Docker's json-file and local drivers rotate theirs:
// once the file conmon writes reaches max-size it becomes container.log.1 (the older ones move up
// to .2 … and the oldest beyond max-file goes), gzipped to container.log.1.gz with compress.
//
// conmon's own --log-size-max cannot be used: it replaces the full file with an empty one, losing
// every line. Instead Berth renames the file away and asks conmon to reopen its log path (its `ctl`
// fifo, message 2, as CRI-O does for the kubelet's rotation). conmon writes to the renamed file until
// it has opened the new one, so nothing is lost or written twice, and the container never waits:
// the file may run past max-size by what conmon writes before the check sees it.
import { createReadStream, createWriteStream, promises as fsp, watch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { InvalidParameterError } from '../../errors.js';
import type { LogConfig } from '../../types/api.js';
import { nextByPath } from '../../runtime/logs.js';
import { fromHumanSize } from '../../util/units.js';
import type { NextLogFile } from '../../runtime/types.js';

export interface RotationPolicy {
  /** Bytes at which the file is rotated. */
  maxSize: number;
  /** Files kept, the one being written included. */
  maxFile: number;
  /** Rotated files are gzipped. */
  compress: boolean;
}

function fail(msg: string): never {
  throw new InvalidParameterError(`failed to initialize logging driver: ${msg}`);
}

/** max-size, as Docker's drivers parse it (go-units' FromHumanSize: decimal units). */
function parseMaxSize(v: string): number {
  try {
    return fromHumanSize(v);
  } catch (err) {
    fail((err as Error).message);
  }
}

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

function parseBool(v: string): boolean {
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  fail(`strconv.ParseBool: parsing "${v}": invalid syntax`);
}

function parseCount(v: string): number {
  if (!/^[-+]?\d+$/.test(v)) fail(`strconv.Atoi: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** json-file: no rotation unless max-size is given (dockerd's checks and messages, at start). */
function jsonFilePolicy(cfg: Record<string, string>): RotationPolicy | undefined {
  const maxSize = cfg['max-size'] !== undefined && cfg['max-size'] !== '-1' ? parseMaxSize(cfg['max-size']) : -1;
  if (cfg['max-size'] !== undefined && cfg['max-size'] !== '-1' && maxSize <= 0) fail('max-size must be a positive number');
  const maxFile = cfg['max-file'] !== undefined ? parseCount(cfg['max-file']) : 1;
  if (maxFile < 1) fail('max-file cannot be less than 1');
  const compress = cfg['compress'] !== undefined ? parseBool(cfg['compress']) : false;
  if (compress && (maxFile === 1 || maxSize === -1)) fail('compress cannot be true when max-file is less than 2 or max-size is not set');
  return maxSize > 0 ? { maxSize, maxFile, compress } : undefined;
}

/** local: Docker's defaults, 20 MiB, 5 files, compressed. */
const LOCAL_MAX_SIZE = 20 * 1024 * 1024;

function localPolicy(cfg: Record<string, string>): RotationPolicy {
  const maxSize = cfg['max-size'] !== undefined ? parseMaxSize(cfg['max-size']) : LOCAL_MAX_SIZE;
  const maxFile = cfg['max-file'] !== undefined ? parseCount(cfg['max-file']) : 5;
  const compress = cfg['compress'] !== undefined ? parseBool(cfg['compress']) : true;
  if (maxSize < 0) fail('max size should be a positive number');
  if (maxFile < 0) fail('max file count cannot be less than 0');
  if (compress && maxFile <= 1) fail('compression cannot be enabled when max file count is 1');
  return { maxSize: maxSize || LOCAL_MAX_SIZE, maxFile: maxFile || 5, compress };
}

/**
 * How a container's log file is rotated, from its LogConfig; throws dockerd's start-time errors for
 * bad values. syslog and fluentd keep their local copy (Docker's "dual logging" cache) as local
 * does by default; none keeps nothing.
 */
export function rotationPolicy(lc: LogConfig): RotationPolicy | undefined {
  const cfg = lc.Config ?? {};
  if (lc.Type === 'json-file' || !lc.Type) return jsonFilePolicy(cfg);
  if (lc.Type === 'local') return localPolicy(cfg);
  if (lc.Type === 'none') return undefined;
  return localPolicy({});
}

/** What the rotation needs from the rest of the engine. */
export interface RotationDeps {
  logPath(id: string): string;
  /** Asks the container's conmon to reopen its log path; false when no conmon listens. */
  reopen(id: string): Promise<boolean>;
  /** Whether the container's conmon still runs (so a reopen it was asked for will happen). */
  monitorAlive(id: string): boolean;
}

/** Runs one task at a time, in the order they came. */
class Mutex {
  private last: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.last.then(fn, fn);
    this.last = next.catch(() => undefined);
    return next;
  }
}

interface Watched {
  policy: RotationPolicy;
  watcher?: FSWatcher;
  interval: NodeJS.Timeout;
  checking: boolean;
  again: boolean;
}

/** The log files of one container as a reader gets them: the rotated ones oldest first, then the live one. */
export interface LogFileSet {
  rotated: FileHandle[];
  current: FileHandle | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LogRotation {
  private readonly locks = new Map<string, Mutex>();
  private readonly watched = new Map<string, Watched>();
  /** A rotated file being gzipped, per container: the next rotation waits for it. */
  private readonly compressing = new Map<string, Promise<void>>();
  /** Per container, the inodes of the log's files as this process rotated them, oldest first, the live one last. */
  private readonly chains = new Map<string, number[]>();
  /** Containers whose log was checked for a rotation a crash cut short, since this process started. */
  private readonly recovered = new Set<string>();

  constructor(private readonly deps: RotationDeps) {}

  private lock(id: string): Mutex {
    let m = this.locks.get(id);
    if (!m) this.locks.set(id, (m = new Mutex()));
    return m;
  }

  private rotatedPath(id: string, n: number, gz: boolean): string {
    return `${this.deps.logPath(id)}.${n}${gz ? '.gz' : ''}`;
  }

  /** Checks the size whenever conmon writes (and every second, should a change event be missed). */
  watch(id: string, policy: RotationPolicy): void {
    this.unwatch(id);
    const w: Watched = { policy, interval: setInterval(() => this.check(id), 1000).unref(), checking: false, again: false };
    const file = this.deps.logPath(id);
    try {
      w.watcher = watch(path.dirname(file), (_ev, name) => {
        if (name === path.basename(file)) this.check(id);
      });
      w.watcher.on('error', () => undefined);
    } catch {
      /* the interval alone */
    }
    this.watched.set(id, w);
    this.check(id);
  }

  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    this.watched.delete(id);
    clearInterval(w.interval);
    w.watcher?.close();
  }

  /** The container is gone: nothing of its log to keep track of. */
  forget(id: string): void {
    this.unwatch(id);
    this.locks.delete(id);
    this.chains.delete(id);
    this.compressing.delete(id);
    this.recovered.delete(id);
  }

  private check(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    if (w.checking) {
      w.again = true;
      return;
    }
    w.checking = true;
    w.again = false;
    void this.rotate(id, w.policy, true)
      .catch(() => undefined)
      .finally(() => {
        w.checking = false;
        if (w.again && this.watched.get(id) === w) setTimeout(() => this.check(id), 20).unref();
      });
  }

  /**
   * Rotates the log if it reached max-size. `live`: a conmon writes it (it is asked to reopen);
   * otherwise (before a start) the file is simply renamed.
   */
  rotate(id: string, policy: RotationPolicy, live: boolean): Promise<void> {
    return this.lock(id).run(async () => {
      const file = this.deps.logPath(id);
      const moving = `${file}.rotating`;
      if (!this.recovered.has(id)) {
        this.recovered.add(id);
        if (await this.recover(id, file, moving, policy)) return;
      }
      const st = await fsp.stat(file).catch(() => null);
      if (!st || st.size < policy.maxSize) return;
      await this.compressing.get(id);
      await fsp.rename(file, moving);
      if (live && !(await this.handOver(id, file, moving))) return;
      await this.finish(id, moving, policy, st.ino);
    });
  }

  /**
   * A rotation that a berthd crash cut short (the file renamed away, not yet numbered): when conmon
   * had not created a new file, it still writes the renamed one, which gets its name back;
   * otherwise the renamed file is complete and the rotation is finished.
   */
  private async recover(id: string, file: string, moving: string, policy: RotationPolicy): Promise<boolean> {
    const left = await fsp.stat(moving).catch(() => null);
    if (!left) return false;
    try {
      await fsp.link(moving, file);
      await fsp.unlink(moving);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      await this.finish(id, moving, policy, left.ino);
    }
    return true;
  }

  /** Numbers the renamed file .1, the others one up; compresses it with `compress`. */
  private async finish(id: string, moving: string, policy: RotationPolicy, movedIno: number): Promise<void> {
    // The files there are move up one, highest first; what would pass max-file goes.
    for (const n of await this.rotatedNumbers(id)) {
      for (const gz of [false, true]) {
        const from = this.rotatedPath(id, n, gz);
        await (n >= policy.maxFile - 1 ? fsp.unlink(from) : fsp.rename(from, this.rotatedPath(id, n + 1, gz))).catch(ignoreMissing);
      }
    }
    if (policy.maxFile > 1) await fsp.rename(moving, this.rotatedPath(id, 1, false));
    else await fsp.unlink(moving);
    await this.extendChain(id, movedIno, this.deps.logPath(id), policy.maxFile);
    if (policy.compress && policy.maxFile > 1) this.compressing.set(id, this.gzip(this.rotatedPath(id, 1, false)).catch(() => undefined));
  }

  /**
   * conmon moves to a new file at the log path; false (and the file put back) when no conmon
   * listens, as while one starts: its writes then still go to the file, under its own name again.
   */
  private async handOver(id: string, file: string, moving: string): Promise<boolean> {
    if (!(await this.deps.reopen(id).catch(() => false))) {
      try {
        await fsp.link(moving, file);
      } catch (e) {
        // A conmon starting meanwhile created a new file: the renamed one is complete after all.
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return true;
        throw e;
      }
      await fsp.unlink(moving);
      return false;
    }
    // conmon closes the old file before it creates the new one: once the new one is there, the
    // renamed file is complete. A conmon that exits instead leaves it complete too.
    const deadline = Date.now() + 30_000;
    while (!(await exists(file)) && this.deps.monitorAlive(id) && Date.now() < deadline) await sleep(5);
    return true;
  }

  private async extendChain(id: string, movedIno: number, file: string, maxFile: number): Promise<void> {
    const chain = this.chains.get(id) ?? [];
    if (chain[chain.length - 1] !== movedIno) chain.push(movedIno);
    const now = await fsp.stat(file).catch(() => null);
    if (now) chain.push(now.ino);
    this.chains.set(id, chain.slice(-maxFile));
  }

  private async gzip(file: string): Promise<void> {
    const tmp = `${file}.gz.tmp`;
    await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp, { mode: 0o640 }));
    await fsp.rename(tmp, `${file}.gz`);
    await fsp.unlink(file);
  }

  /** The numbers of the rotated files there are, highest (oldest) first. */
  private async rotatedNumbers(id: string): Promise<number[]> {
    const base = path.basename(this.deps.logPath(id));
    const names = await fsp.readdir(path.dirname(this.deps.logPath(id))).catch(() => [] as string[]);
    const re = new RegExp(`^${base.replace(/\./g, '\\.')}\\.(\\d+)(\\.gz)?$`);
    const nums = new Set<number>();
    for (const n of names) {
      const m = re.exec(n);
      if (m) nums.add(Number(m[1]));
    }
    return [...nums].sort((a, b) => b - a);
  }

  /** Opens rotated file `n`, the plain one or else its gzipped form (read from a decompressed copy). */
  private async openRotated(id: string, n: number): Promise<FileHandle | null> {
    const plain = this.rotatedPath(id, n, false);
    const fh = await fsp.open(plain, 'r').catch(() => null);
    if (fh) return fh;
    return gunzipped(this.rotatedPath(id, n, true)).catch(() => null);
  }

  /** All of the log's files, opened together so that no rotation falls between them. */
  open(id: string, live: boolean): Promise<LogFileSet> {
    return this.lock(id).run(async () => {
      const rotated: FileHandle[] = [];
      for (const n of await this.rotatedNumbers(id)) {
        const fh = await this.openRotated(id, n);
        if (fh) rotated.push(fh);
      }
      const current = await fsp.open(this.deps.logPath(id), live ? 'a+' : 'r').catch(() => null);
      return { rotated, current };
    });
  }

  /**
   * For a reader following across rotations, at the end of the file with inode `ino`: the file
   * conmon went on to write (complete, or the live one), or null while `ino` is still the newest.
   */
  successor(id: string, ino: number): Promise<NextLogFile | null> {
    return this.lock(id).run(async () => {
      const chain = this.chains.get(id) ?? [];
      // The last one with that number: inode numbers of deleted files come back, but not while the
      // reader holds its file open.
      const i = chain.lastIndexOf(ino);
      if (i < 0) return nextByPath(this.deps.logPath(id), ino);
      if (i === chain.length - 1) return null;
      const n = chain.length - 2 - i;
      const handle = n > 0 ? await this.openRotated(id, n) : await fsp.open(this.deps.logPath(id), 'r').catch(() => null);
      return handle && { handle, ino: chain[i + 1] };
    });
  }
}

function ignoreMissing(e: NodeJS.ErrnoException): void {
  if (e.code !== 'ENOENT') throw e;
}

async function exists(file: string): Promise<boolean> {
  return fsp.stat(file).then(
    () => true,
    () => false,
  );
}

/** A gzipped log file decompressed into an unnamed temporary file next to it, open for reading. */
async function gunzipped(gz: string): Promise<FileHandle> {
  const tmp = `${gz}.${process.pid}.${Math.random().toString(36).slice(2)}.read`;
  const fh = await fsp.open(tmp, 'w+', 0o600);
  try {
    await fsp.unlink(tmp);
    // Written by hand: a FileHandle's write stream keeps it from closing (close() waits on it).
    await pipeline(createReadStream(gz), createGunzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) await fh.write(chunk);
    });
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}
