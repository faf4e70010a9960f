// Shared helpers for the integration tests: a real berthd on a temporary socket, data root and
// exec root; the real docker CLI and our berth CLI pointed at it; a small Engine API client;
// and a stop() that leaves nothing behind (containers, conmons, mounts, temp dirs).
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonResources, findLeaks, type DaemonResources } from './leaks.js';
import { pidAlive, TestNetRange } from './net-range.js';

export { pidAlive, TestNetRange };

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/test/). */
export const REPO = path.resolve(HERE, '..', '..');
const DAEMON = path.join(REPO, 'dist', 'src', 'daemon', 'main.js');
/** The berth CLI as built (run it with node). */
export const BERTH_BIN = path.join(REPO, 'dist', 'berth.cjs');
const BERTH = BERTH_BIN;
const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin:/usr/local/bin`;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface ApiResult<T = any> {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  raw: Buffer;
  body: T;
}

/** Runs a program to completion, collecting stdout/stderr; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOpts = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, PATH, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : -1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Polls `fn` until it returns a truthy value (returned) or the timeout passes (throws). */
export async function waitFor<T>(fn: () => Promise<T> | T, what = 'condition', timeoutMs = 10_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function parseMountinfo(): { id: number; parent: number; mountpoint: string; fstype: string }[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      // mountinfo escapes space, tab, newline and backslash as octal.
      const mp = f[4].replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
      return { id: Number(f[0]), parent: Number(f[1]), mountpoint: mp, fstype: f[f.indexOf('-') + 1] ?? '' };
    });
}

/** Mount points at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return parseMountinfo()
    .map((m) => m.mountpoint)
    .filter((m) => m === dir || m.startsWith(prefix));
}

/** Pids of processes whose argv mentions `needle` (read from /proc, so no ps needed). */
export function pidsMentioning(needle: string, exe?: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (exe && path.basename(argv[0] ?? '') !== exe) continue;
      if (argv.some((a) => a.includes(needle))) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}


/** One Engine API request over a unix socket; the body is parsed as JSON when it looks like JSON. */
export function apiRequest<T = any>(sock: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult<T>> {
  return new Promise((resolve, reject) => {
    let payload: Buffer | undefined;
    const h: Record<string, string> = { ...headers };
    if (Buffer.isBuffer(body)) {
      payload = body;
      h['Content-Type'] ??= 'application/x-tar';
    } else if (typeof body === 'string') {
      payload = Buffer.from(body);
      h['Content-Type'] ??= 'application/json';
    } else if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      h['Content-Type'] ??= 'application/json';
    }
    if (payload) h['Content-Length'] = String(payload.length);
    const req = http.request({ socketPath: sock, method, path: urlPath, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = raw.toString();
        let parsed: unknown = text;
        if (/json/.test(String(res.headers['content-type'] ?? '')) || /^\s*[[{]/.test(text)) {
          try {
            parsed = text.trim() === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = text;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, raw, body: parsed as T });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface DaemonOpts {
  runtime?: 'crun' | 'runc';
  noDefaultImage?: boolean;
  /** Extra berthd flags (e.g. --insecure-registry, --registry-certs-dir). */
  args?: string[];
  logLevel?: string;
}

export class TestDaemon {
  readonly root: string;
  readonly sock: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly dockerConfig: string;
  readonly logFile: string;
  proc?: ChildProcess;
  private exited?: Promise<void>;
  /** Every container this daemon created (from its event stream), for the leak check's cgroup look-up. */
  readonly containerIds = new Set<string>();
  /** Networks removed (network rm, prune): nothing of theirs may remain (leaks.ts). */
  readonly removedNetworkIds = new Set<string>();
  /** What berthd held right after its (last) start, for the leak check. */
  baseline?: DaemonResources;
  private stopWatching?: () => void;
  /** This daemon's default bridge, its subnet and its pool for user networks. */
  readonly net: TestNetRange;

  constructor(readonly opts: DaemonOpts = {}) {
    this.root = fs.mkdtempSync('/tmp/bt-');
    this.sock = path.join(this.root, 's.sock');
    this.dataRoot = path.join(this.root, 'd');
    this.execRoot = path.join(this.root, 'e');
    this.dockerConfig = path.join(this.root, 'dcfg');
    this.logFile = path.join(this.root, 'daemon.log');
    fs.mkdirSync(this.dockerConfig);
    this.net = TestNetRange.take();
  }

  get host(): string {
    return `unix://${this.sock}`;
  }

  /** The crun state root this daemon's runtime uses. */
  get crunRoot(): string {
    return path.join(this.execRoot, 'runtime', this.opts.runtime ?? 'crun');
  }

  /** Starts berthd (again, on the same roots if it ran before) and waits for /_ping. */
  async start(): Promise<void> {
    // --expose-gc and MALLOC_ARENA_MAX as berthd's shebang sets them.
    const args = ['--expose-gc', DAEMON, '-H', this.host, '--data-root', this.dataRoot, '--exec-root', this.execRoot, '--log-level', this.opts.logLevel ?? 'info'];
    if (this.opts.runtime) args.push('--runtime', this.opts.runtime);
    if (this.opts.noDefaultImage) args.push('--no-default-image');
    args.push('--bridge', this.net.bridge, '--bip', this.net.bip, '--default-address-pool', this.net.pool);
    if (this.opts.args) args.push(...this.opts.args);
    const log = fs.openSync(this.logFile, 'a');
    const proc = spawn(process.execPath, args, { stdio: ['ignore', log, log], env: { ...process.env, PATH, MALLOC_ARENA_MAX: '2' } });
    fs.closeSync(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    let died = false;
    void this.exited.then(() => (died = true));
    await waitFor(
      async () => {
        if (died) throw new Error(`berthd exited during start-up:\n${this.log()}`);
        const r = await this.api('GET', '/_ping');
        return r.status === 200 && r.text === 'OK';
      },
      'berthd /_ping',
      15_000,
    ).catch((e: Error) => {
      if (died) throw e;
      throw new Error(`${e.message}\n${this.log()}`);
    });
    await this.watchContainers();
    this.baseline = await daemonResources(this);
  }

  /** Records the id of every container created and every network removed, from GET /events (ends with the daemon). */
  private async watchContainers(): Promise<void> {
    this.stopWatching?.();
    const { res, abort } = await this.stream(`/events?filters=${encodeURIComponent(JSON.stringify({ type: ['container', 'network'], event: ['create', 'destroy'] }))}`);
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const ev = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string } };
          const id = ev.Actor?.ID;
          if (id && ev.Type === 'container' && ev.Action === 'create') this.containerIds.add(id);
          if (id && ev.Type === 'network' && ev.Action === 'destroy') this.removedNetworkIds.add(id);
        } catch {
          /* not an event */
        }
      }
    });
    res.on('error', () => {});
    this.stopWatching = abort;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGKILLs the daemon (containers keep running under their conmons). */
  async kill(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERMs the daemon, SIGKILL after `timeoutMs`. */
  async terminate(timeoutMs = 12_000): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  docker(args: string[], opts: RunOpts = {}): Promise<RunResult> {
    return run('docker', ['-H', this.host, ...args], {
      ...opts,
      env: { DOCKER_CONFIG: this.dockerConfig, DOCKER_CLI_HINTS: 'false', ...opts.env },
    });
  }

  /** docker, asserting exit 0; returns stdout. */
  async dockerOk(args: string[], opts: RunOpts = {}): Promise<string> {
    const r = await this.docker(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  berth(args: string[], opts: RunOpts = {}): Promise<RunResult> {
    return run(process.execPath, [BERTH, '-H', this.host, ...args], opts);
  }

  async berthOk(args: string[], opts: RunOpts = {}): Promise<string> {
    const r = await this.berth(args, opts);
    if (r.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  /** One request over the socket; the body is parsed as JSON when it looks like JSON. */
  api<T = any>(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult<T>> {
    return apiRequest<T>(this.sock, method, urlPath, body, headers);
  }

  /** A streaming GET: returns the response and a way to abort it. */
  stream(urlPath: string): Promise<{ res: http.IncomingMessage; abort: () => void }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.sock, method: 'GET', path: urlPath }, (res) => resolve({ res, abort: () => req.destroy() }));
      req.on('error', reject);
      req.end();
    });
  }

  async inspect(id: string): Promise<any> {
    const r = await this.api('GET', `/containers/${encodeURIComponent(id)}/json`);
    if (r.status !== 200) throw new Error(`inspect ${id}: ${r.status} ${r.text}`);
    return r.body;
  }

  /**
   * Waits until the container has written `text` to its log. A shell that traps a signal must
   * say so before the test signals it: pid 1 drops a signal it has no handler for yet.
   */
  async waitForOutput(id: string, text: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => {
      const r = await this.api('GET', `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1`);
      return r.status === 200 && r.text.includes(text);
    }, `"${text}" in the log of ${id}`, timeoutMs, 50);
  }

  /** Creates a container through the API; returns its id. */
  async create(config: Record<string, unknown>, name?: string): Promise<string> {
    const r = await this.api('POST', `/containers/create${name ? `?name=${encodeURIComponent(name)}` : ''}`, { Image: 'busybox', ...config });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
    return r.body.Id;
  }

  /** Stops everything this daemon made, then removes the temp dirs. Safe to call twice. */
  async stop(): Promise<void> {
    if (!fs.existsSync(this.root)) return;
    try {
      await this.stopDaemonAndContainers();
    } finally {
      this.net.release();
    }
  }

  private async stopDaemonAndContainers(): Promise<void> {
    // 1. Remove every container, by id, through the API while the daemon still runs.
    const failedDeletes: string[] = [];
    if (this.running) {
      try {
        const list = await this.api<{ Id: string }[]>('GET', '/containers/json?all=1');
        if (list.status !== 200) failedDeletes.push(`GET /containers/json answered ${list.status} ${list.text}`);
        else {
          await Promise.all(
            list.body.map(async (c) => {
              const r = await this.api('DELETE', `/containers/${c.Id}?force=1`).catch((e: Error) => ({ status: 0, text: e.message }));
              if (r.status !== 204) failedDeletes.push(`DELETE ${c.Id}: ${r.status} ${r.text}`);
            }),
          );
        }
      } catch (e) {
        failedDeletes.push(`listing containers: ${(e as Error).message}`);
      }
    }
    this.stopWatching?.();
    await this.terminate();
    // 2. Anything the runtime still knows about: delete it by id, in our own state root only.
    for (const rt of ['crun', 'runc'] as const) {
      const stateRoot = path.join(this.execRoot, 'runtime', rt);
      let ids: string[] = [];
      try {
        ids = fs.readdirSync(stateRoot).filter((n) => /^[0-9a-f]{64}$/.test(n));
      } catch {
        continue;
      }
      for (const id of ids) {
        try {
          execFileSync(rt, ['--root', stateRoot, 'delete', '-f', id], { stdio: 'ignore', env: { ...process.env, PATH } });
        } catch {
          /* already gone */
        }
      }
    }
    // 3. Monitors (conmon) of ours that outlived their containers.
    for (const pid of pidsMentioning(this.execRoot, 'conmon')) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // 4. Mounts under our own root, deepest first.
    for (let i = 0; i < 3; i++) {
      const mps = mountsUnder(this.root).sort((a, b) => b.length - a.length);
      if (mps.length === 0) break;
      for (const mp of mps) {
        try {
          execFileSync('umount', [mp], { stdio: 'ignore', env: { ...process.env, PATH } });
        } catch {
          try {
            execFileSync('umount', ['-l', mp], { stdio: 'ignore', env: { ...process.env, PATH } });
          } catch {
            /* already gone */
          }
        }
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
    // Cleaned up all the same, but a daemon that could not remove a container has a bug to report.
    if (failedDeletes.length) throw new Error(`the daemon failed to remove containers:\n${failedDeletes.join('\n')}`);
  }

  /** What stop() cleaned up should be gone: for an after()-hook assertion. */
  leftovers(): { conmons: number[]; mounts: string[] } {
    return { conmons: pidsMentioning(this.execRoot, 'conmon'), mounts: mountsUnder(this.root) };
  }
}

/** Starts a daemon; the caller stops it in `after`. */
export async function startDaemon(opts: DaemonOpts = {}): Promise<TestDaemon> {
  const d = new TestDaemon(opts);
  try {
    await d.start();
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}

/** Builds an uncompressed tar (ustar) from entries, for import tests. */
export interface TarEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'link';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
  /** seconds since the epoch; default now */
  mtime?: number;
}

export function makeTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    const h = Buffer.alloc(512, 0);
    const name = type === 'dir' && !e.name.endsWith('/') ? e.name + '/' : e.name;
    h.write(name, 0, 100, 'utf8');
    const oct = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0') + '\0';
    h.write(oct(e.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100);
    h.write(oct(0, 8), 108);
    h.write(oct(0, 8), 116);
    h.write(oct(data.length, 12), 124);
    h.write(oct(e.mtime ?? Math.floor(Date.now() / 1000), 12), 136);
    h.write('        ', 148);
    h.write({ file: '0', link: '1', symlink: '2', dir: '5' }[type], 156);
    if (e.linkname) h.write(e.linkname, 157, 100);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** A tiny rootfs tar with busybox, enough to run `sh`. */
export function busyboxTar(extra: TarEntry[] = []): Buffer {
  const bb = fs.readFileSync('/bin/busybox');
  return makeTar([
    { name: 'bin', type: 'dir' },
    { name: 'bin/busybox', content: bb, mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/cat', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/echo', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/ls', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/sleep', type: 'symlink', linkname: 'busybox' },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
    ...extra,
  ]);
}

/** Splits docker's multiplexed stream (stdcopy) into stdout and stderr. */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const len = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + len);
    (kind === 2 ? err : out).push(chunk);
    i += 8 + len;
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Non-empty lines of a command's output. */
export const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/**
 * Each file's `after`: while the daemon still runs, remove its containers through the API and fail
 * on anything left of them or on berthd holding more than at its start (see leaks.ts); then stop it
 * and fail if a monitor or a mount outlived the daemon.
 */
export async function stopAndCheckClean(d: TestDaemon | undefined): Promise<void> {
  if (!d) return;
  let leaks: string[];
  try {
    leaks = await findLeaks(d);
  } finally {
    await d.stop();
  }
  assert.deepEqual(leaks, [], `left behind by the tests of this file:\n${leaks.join('\n')}`);
  assert.deepEqual(d.leftovers(), { conmons: [], mounts: [] });
}
