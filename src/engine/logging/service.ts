// Logging drivers at run time. conmon always writes the container's output to its k8s-file
// (containers/<id>/container.log): that file is what `docker logs` reads for json-file and local,
// and the local cache it reads for syslog and fluentd (Docker 20.10's "dual logging"). For
// syslog and fluentd a pump in berthd follows that file from the container's start and ships
// each line to the receiver, so a container writing faster than the receiver takes lines never
// waits on it or on the daemon: the pump only falls behind in the file. `none` keeps nothing.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { InvalidParameterError } from '../../errors.js';
import { readLogs } from '../../runtime/logs.js';
import type { LogEntry } from '../../runtime/types.js';
import type { ContainerRecord } from '../containers/container.js';
import { openFluentd } from './fluentd.js';
import { MAX_MESSAGE, type LogSink } from './sink.js';
import { openSyslog } from './syslog.js';
import type { LogContainer } from './tag.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

function fail(msg: string): never {
  throw new InvalidParameterError(`failed to initialize logging driver: ${msg}`);
}

/** json-file's and local's option values, parsed when the container starts (dockerd's messages). */
function checkFileOptions(cfg: Record<string, string>): void {
  const size = cfg['max-size'];
  if (size !== undefined && size !== '-1' && !(/^(\d+(?:\.\d+)?)\s*([kmg]?b?)$/i.exec(size) && UNITS[/[a-z]*$/i.exec(size)![0].toLowerCase()])) fail(`invalid size: '${size}'`);
  const files = cfg['max-file'];
  if (files !== undefined) {
    if (!/^-?\d+$/.test(files)) fail(`strconv.Atoi: parsing "${files}": invalid syntax`);
    if (Number(files) < 1) fail('max-file cannot be less than 1');
  }
  const compress = cfg['compress'];
  if (compress !== undefined && !['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(compress)) fail(`strconv.ParseBool: parsing "${compress}": invalid syntax`);
}

function logContainer(c: ContainerRecord): LogContainer {
  return { id: c.id, name: c.name, image: c.image, imageId: c.imageId, labels: c.config.Labels ?? {}, env: c.config.Env ?? [] };
}

interface Pump {
  sink: LogSink;
  stop: AbortController;
  done?: Promise<void>;
}

export class LogDrivers {
  private readonly pumps = new Map<string, Pump>();

  constructor(private readonly logPath: (id: string) => string) {}

  /** Whether conmon keeps the container's output (everything but `none`). */
  keepsOutput(c: ContainerRecord): boolean {
    return c.hostConfig.LogConfig?.Type !== 'none';
  }

  /**
   * Before the container starts: the driver's options are checked and its receiver connected,
   * so a bad value or a receiver that is down fails the start as with dockerd. Lines are shipped
   * from this moment on.
   */
  async prepare(c: ContainerRecord): Promise<void> {
    const lc = c.hostConfig.LogConfig ?? { Type: 'json-file' };
    const cfg = lc.Config ?? {};
    if (lc.Type === 'json-file' || lc.Type === 'local') checkFileOptions(cfg);
    if (lc.Type !== 'syslog' && lc.Type !== 'fluentd') return;
    await this.stop(c.id);
    const sink = lc.Type === 'syslog' ? await openSyslog(cfg, logContainer(c)) : await openFluentd(cfg, logContainer(c));
    // conmon appends to this file. Opened now, before the container starts: a container that
    // exits and is removed (--rm) before the pump's first look would otherwise take its lines
    // with it (seen: every line of a quick `run --rm` lost).
    const handle = await fsp.open(this.logPath(c.id), 'a+', 0o640).catch(() => undefined);
    const pump: Pump = { sink, stop: new AbortController() };
    this.pumps.set(c.id, pump);
    pump.done = this.run(c.id, pump, new Date(), handle);
  }

  /** After a daemon restart: ship what running containers write from now on. */
  async resume(c: ContainerRecord): Promise<void> {
    if (!this.pumps.has(c.id)) await this.prepare(c).catch(() => undefined);
  }

  private async run(id: string, pump: Pump, since: Date, handle?: FileHandle): Promise<void> {
    try {
      for await (const e of readLogs(this.logPath(id), { follow: true, since, signal: pump.stop.signal, wholeLines: true, handle })) await ship(pump.sink, e);
    } catch {
      // the spool went away (container removed): nothing more to ship
    } finally {
      await pump.sink.close().catch(() => undefined);
    }
  }

  /**
   * The container exited: ship what is left in the spool, then close the connection. conmon may
   * still be writing the last of the output when the exit is seen, so the pump goes on until the
   * file has stopped growing.
   */
  async stop(id: string): Promise<void> {
    const pump = this.pumps.get(id);
    if (!pump) return;
    this.pumps.delete(id);
    await settled(this.logPath(id));
    pump.stop.abort();
    await pump.done;
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
