// What every benchmark shares: timing commands, the Engine API over a unix socket, /proc readings,
// the daemons a run starts (Berth, dockerd) and the clean-up of everything it started, by id, pid
// and path, under one temporary directory per run.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultImageTar } from '../src/engine/images/default-image.js';
import { TestNetRange } from '../test/net-range.js';
import { createPeerBridge, type PeerBridge } from '../test/peer-bridge.js';

let keep = false;
/** --keep: leave the temp dir and the daemons' logs. */
export function setKeep(value: boolean): void {
  keep = value;
}
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BERTHD = path.join(ROOT, 'dist/src/daemon/main.js');
export const BERTH_CLI = path.join(ROOT, 'dist/berth.cjs');

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------- small helpers

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim().slice(0, 500)}`);
  return r.stdout;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function p90(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)];
}

export interface Timed {
  ms: number;
  t0: number; // wall clock (epoch ms), to line samples up with the daemon's log
  t1: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns argv and measures from spawn to exit; a command that hangs is killed after CMD_TIMEOUT_MS. */
export const CMD_TIMEOUT_MS = 30_000;
export function timeCmd(argv: string[], env?: NodeJS.ProcessEnv, timeoutMs = CMD_TIMEOUT_MS): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const h0 = process.hrtime.bigint();
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      err += `\n(timed out after ${timeoutMs / 1000} s; killed)`;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => {
      err += String(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - h0) / 1e6;
      resolve({ ms, t0, t1: Date.now(), code, stdout: out, stderr: err });
    });
  });
}

export async function mustTime(argv: string[], env?: NodeJS.ProcessEnv, timeoutMs = CMD_TIMEOUT_MS): Promise<Timed> {
  const r = await timeCmd(argv, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
  return r;
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------- Engine API over a unix socket

export function api(sock: string, method: string, p: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: sock, method, path: p, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}, timeout: timeoutMs },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: timed out`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

export async function apiJson<T>(sock: string, method: string, p: string, body?: unknown): Promise<T> {
  const r = await api(sock, method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.body.trim().slice(0, 300)}`);
  return (r.body ? JSON.parse(r.body) : {}) as T;
}

export async function waitForPing(sock: string, proc: ChildProcess, what: string, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    try {
      const r = await api(sock, 'GET', '/_ping', undefined, 2000);
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  let tail = '';
  try {
    tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    /* no log */
  }
  throw new Error(`${what} did not come up on ${sock}\n${tail}`);
}

// ---------------------------------------------------------------- /proc

export function procStatus(pid: number): { rssKb: number; ppid: number; name: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(s)?.[1] ?? '';
    return { rssKb: parseInt(get('VmRSS'), 10) || 0, ppid: parseInt(get('PPid'), 10) || 0, name: get('Name') };
  } catch {
    return null;
  }
}
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}
/** Alive and not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
/** pid and all its descendants. */
export function processTree(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const p of allPids()) {
    const st = procStatus(p);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid)!.push(p);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    for (const k of kids.get(p) ?? []) stack.push(k);
  }
  return out;
}
/** Live processes named `name` whose command line mentions `needle` (our temp dir). */
export function processesMatching(name: RegExp, needle: string): number[] {
  return allPids().filter((p) => {
    const st = procStatus(p);
    return st !== null && name.test(st.name) && st.rssKb > 0 && cmdlineOf(p).includes(needle);
  });
}
export function rssMb(pids: number[]): number {
  return pids.reduce((a, p) => a + (procStatus(p)?.rssKb ?? 0), 0) / 1024;
}

// ---------------------------------------------------------------- what we started (for clean-up)

// Short on purpose: conmon's attach sockets live below the exec root and a unix socket path has
// 107 bytes at most (Berth's exec hangs when <exec-root>/runtime/socket/<64 hex>/attach is longer,
// i.e. with an exec root over 20 characters), so Berth's exec roots are /tmp/bbXXXXXX/bx and /rx.
export const TMP = mkdtempSync('/tmp/bb');
export const TAG = `berth-bench-${path.basename(TMP)}`; // unique, used for cgroup parents
export const started: { name: string; proc: ChildProcess; sock?: string; containers: Set<string>; kind: 'docker-api' }[] = [];
export const podmanContainers = new Set<string>();
export const cgroupParents: string[] = [];
export let podmanBase: string[] | null = null;
export function setPodmanBase(base: string[]): void {
  podmanBase = base;
}
/**
 * podman's command line on storage of its own under TMP (root, run root, temp dir; cgroupfs,
 * file events), removed with TMP; busybox.tar imported under each of `images`.
 */
export async function podmanOnOwnStorage(images: string[]): Promise<string[] | null> {
  const bin = which('podman');
  if (!bin) return null;
  const dir = path.join(TMP, 'podman');
  mkdirSync(dir, { recursive: true });
  const base = [bin, '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--tmpdir', path.join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--storage-driver', 'overlay'];
  setPodmanBase(base);
  for (const image of images) await mustTime([...base, 'import', '-q', path.join(TMP, 'busybox.tar'), image]);
  return base;
}

// podman (even with --root/--runroot/--tmpdir) creates its lock file and an empty network run dir
export const podmanLeftovers = ['/dev/shm/libpod_lock', '/run/containers/networks', '/run/containers'].filter((f) => !existsSync(f));

export async function startDaemon(name: string, argv: string[], sock: string, logFile: string, env: NodeJS.ProcessEnv = process.env): Promise<(typeof started)[number]> {
  const fd = openSync(logFile, 'a');
  // Own process group: a ^C at the terminal reaches only the bench, which then cleans up in order.
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], detached: true, cwd: TMP, env });
  closeSync(fd);
  const d = { name, proc, sock, containers: new Set<string>(), kind: 'docker-api' as const };
  started.push(d);
  await waitForPing(sock, proc, name, logFile);
  return d;
}

export async function stopPid(pid: number, what: string, graceMs = 15_000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    log(`${what} (pid ${pid}) did not stop on SIGTERM; SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

let cleanedUp = false;
export async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  log('cleaning up');
  // 1. containers, by id
  for (const d of started) {
    if (!d.sock || d.containers.size === 0 || d.proc.exitCode !== null) continue;
    await pool([...d.containers], 4, async (id) => {
      await api(d.sock!, 'DELETE', `/containers/${id}?force=1`, undefined, 30_000).catch(() => undefined);
    });
  }
  if (podmanBase && podmanContainers.size > 0) {
    spawnSync(podmanBase[0], [...podmanBase.slice(1), 'rm', '-f', '-t', '0', ...podmanContainers], { stdio: 'ignore' });
  }
  // 2. daemons, by pid (dockerd stops its containerd; anything of theirs still alive is killed by pid)
  for (const d of [...started].reverse()) {
    const pid = d.proc.pid;
    if (!pid) continue;
    const tree = processTree(pid).filter((p) => p !== pid);
    await stopPid(pid, d.name);
    for (const p of tree) await stopPid(p, `${d.name} child`, 5000);
  }
  // leftover monitors (conmon, shims) of our containers: their command lines name our temp dir
  for (const p of processesMatching(/^(conmon|containerd-shim)/, TMP)) await stopPid(p, 'monitor', 3000);
  // 3. mounts under our temp dir, deepest first
  const mounts = () =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => !!m && (m === TMP || m.startsWith(TMP + '/')))
      .map((m) => m.replace(/\\040/g, ' '));
  for (let pass = 0; pass < 3; pass++) {
    const ms = mounts().sort((a, b) => b.length - a.length);
    if (ms.length === 0) break;
    for (const m of ms) {
      const r = spawnSync('umount', [m], { stdio: 'ignore' });
      if (r.status !== 0 && pass > 0) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  // 4. the bridges we made or named (by name; a berthd's goes with its last container)
  for (const b of peerBridges) b.remove();
  for (const n of netRanges) n.release();
  // cgroup parents we named (empty by now)
  for (const parent of cgroupParents) {
    for (const hier of readdirSync('/sys/fs/cgroup')) {
      const dir = path.join('/sys/fs/cgroup', hier, parent);
      if (existsSync(dir)) rmdirTree(dir);
    }
  }
  if (podmanBase) {
    for (const f of podmanLeftovers) {
      try {
        if (f.startsWith('/dev/shm/')) rmSync(f, { force: true });
        else rmdirSync(f); // only when empty
      } catch {
        /* not there, or not empty */
      }
    }
  }
  // 5. the temp dir
  const left = mounts();
  if (left.length > 0) log(`not removing ${TMP}: still mounted: ${left.join(', ')}`);
  else if (keep) log(`kept ${TMP}`);
  else rmSync(TMP, { recursive: true, force: true });
}
export function rmdirTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(path.join(dir, e.name));
    rmdirSync(dir);
  } catch {
    /* busy or gone */
  }
}
process.on('SIGINT', () => {
  log('interrupted');
  void cleanup().finally(() => process.exit(130));
});
process.on('SIGTERM', () => {
  void cleanup().finally(() => process.exit(143));
});

// ---------------------------------------------------------------- installation

export function dpkgInstalled(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

export function ensurePackages(want: string[], noInstall: boolean): void {
  const missing = want.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return;
  if (noInstall) {
    log(`not installing (--no-install): ${missing.join(' ')}`);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error(`missing packages ${missing.join(' ')} and not root`);
  log(`installing ${missing.join(' ')}`);
  // policy-rc.d 101: the packages must not start their system services (dockerd would create
  // docker0 and iptables rules); the bench starts its own daemons.
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = existsSync(policy);
  if (!hadPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) log(`apt-get install failed (${r.status}); peers that are still missing will be skipped`);
  } finally {
    if (!hadPolicy) rmSync(policy, { force: true });
  }
}

// ---------------------------------------------------------------- results

export interface Row {
  section: string;
  name: string;
  samples: number[]; // ms, or MB for memory rows
  unit: 'ms' | 'MB';
  note?: string;
}
export const rows: Row[] = [];
export const skipped: string[] = [];
export const notes: string[] = [];
export function addRow(section: string, name: string, samples: number[], unit: 'ms' | 'MB' = 'ms', note?: string): void {
  rows.push({ section, name, samples, unit, note });
}
export function rowMedian(section: string, name: string): number {
  const r = rows.find((x) => x.section === section && x.name === name);
  return r ? median(r.samples) : NaN;
}

// ---------------------------------------------------------------- set-up

export interface Peer {
  name: string;
  docker: (...a: string[]) => string[]; // argv of the docker CLI against this daemon
  sock: string;
  daemon: (typeof started)[number];
  /** berthd's: where its SIGUSR1 resource dump goes. */
  execRoot?: string;
}

export const dockerBin = which('docker');
export const DOCKER_ENV: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: path.join(TMP, 'docker-config'), DOCKER_CLI_HINTS: 'false' };
delete DOCKER_ENV.DOCKER_HOST;
delete DOCKER_ENV.DOCKER_CONTEXT;
export const BERTH_ENV: NodeJS.ProcessEnv = { ...process.env };
delete BERTH_ENV.DOCKER_HOST;
delete BERTH_ENV.BERTH_HOST;
export const NO_CA_ENV: NodeJS.ProcessEnv = { ...BERTH_ENV };
delete NO_CA_ENV.NODE_EXTRA_CA_CERTS;

/** Network ranges and bridges the bench took for its daemons, released at clean-up. */
const netRanges: TestNetRange[] = [];
const peerBridges: PeerBridge[] = [];


/** `execRoot`: a directory name under TMP of its own, for a second berthd with the same runtime. */
/** `env`: more environment for berthd alone (e.g. NODE_OPTIONS, to measure a V8 flag's trade-off). */
export async function startBerth(name: string, runtime: 'crun' | 'runc', extra: string[] = [], execRoot = runtime === 'crun' ? 'bx' : 'rx', env: NodeJS.ProcessEnv = {}): Promise<Peer> {
  const dir = path.join(TMP, name);
  mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, 'berth.sock');
  // a 10.X.0.0/16 locked against the test daemons and other benches (test/net-range.ts)
  const net = TestNetRange.take();
  netRanges.push(net);
  const argv = [process.execPath, '--expose-gc', BERTHD, '-H', `unix://${sock}`, '--data-root', path.join(dir, 'root'), '--exec-root', path.join(TMP, execRoot), '--pidfile', path.join(dir, 'berthd.pid'), '--runtime', runtime, '--log-level', 'debug', '--bridge', net.bridge, '--bip', net.bip, '--default-address-pool', net.pool, ...extra];
  // --expose-gc and MALLOC_ARENA_MAX as berthd's shebang sets them.
  const daemon = await startDaemon(name, argv, sock, path.join(dir, 'berthd.log'), { ...process.env, MALLOC_ARENA_MAX: '2', ...env });
  return { name, sock, daemon, execRoot: path.join(TMP, execRoot), docker: (...a) => [dockerBin!, '-H', `unix://${sock}`, ...a] };
}

/** `name`: a second dockerd needs its own (its directory, cgroup parent and log); `extra`: more flags. */
export async function startDockerd(name = 'dockerd', extra: string[] = []): Promise<Peer> {
  const dir = path.join(TMP, name);
  mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, 'docker.sock');
  if (existsSync('/run/containerd/containerd.sock')) notes.push('a system containerd runs at /run/containerd/containerd.sock: dockerd uses it instead of starting its own, so its RSS is not counted');
  const cg = `/${TAG}-${name}`;
  cgroupParents.push(cg);
  // A bridge of its own (never --bridge=none, which deletes an existing docker0); no iptables, so
  // dockerd touches no firewall rule and its published ports go through docker-proxy.
  const bridge = createPeerBridge();
  peerBridges.push(bridge);
  const argv = [
    'dockerd', '-H', `unix://${sock}`, '--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'dockerd.pid'),
    ...bridge.dockerdArgs, '--cgroup-parent', cg, '--storage-driver', 'overlay2', ...extra,
  ];
  const daemon = await startDaemon(name, argv, sock, path.join(dir, 'dockerd.log'));
  const peer: Peer = { name, sock, daemon, docker: (...a) => [dockerBin!, '-H', `unix://${sock}`, ...a] };
  await mustTime(peer.docker('import', path.join(TMP, 'busybox.tar'), 'busybox:latest'), DOCKER_ENV);
  return peer;
}


/** The same busybox rootfs for every contestant: Berth's own default image tar, at TMP/busybox.tar. */
export async function writeBusyboxTar(): Promise<string> {
  const file = path.join(TMP, 'busybox.tar');
  const { stream } = await defaultImageTar();
  await fsp.writeFile(file, stream);
  return file;
}

/** x as a ratio ("2.50×"), or n/a. */
export function ratio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : '—';
}

// ---------------------------------------------------------------- reports

/** A markdown table, every column padded to its widest cell. */
export function markdownTable(header: string[], table: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.map(line)];
}

/** Now, to the minute, for report titles ("2026-11-23 22:31"; UTC). */
export function reportTime(): string {
  return new Date().toISOString().slice(0, 16).replace('T', ' ');
}

// ---------------------------------------------------------------- timed operations (layers, registry)

export const DOCKERD_CLI = 'dockerd (docker CLI)';

export interface OpContestant<Op extends string> {
  name: string;
  /** one timed run of op, in seconds; `i` numbers the run */
  run: (op: Op, i: number) => Promise<number>;
}

export interface OpResult<Op extends string> {
  op: Op;
  name: string;
  seconds: number[];
}

/**
 * Runs each op `runs` times, round-robin over the contestants within a run so drift in machine
 * load hits everyone alike. A failed run drops that contestant's samples for the op (reported
 * under skipped); ops run in the order given, so one may use what an earlier one left.
 */
export async function runOps<Op extends string>(ops: Op[], contestants: OpContestant<Op>[], runs: number, takesPart: (op: Op, c: OpContestant<Op>) => boolean = () => true): Promise<OpResult<Op>[]> {
  const results: OpResult<Op>[] = [];
  for (const op of ops) {
    const who = contestants.filter((c) => takesPart(op, c));
    const mine = who.map((c) => ({ op, name: c.name, seconds: [] as number[] }));
    results.push(...mine);
    for (let i = 0; i < runs; i++) {
      for (const [k, c] of who.entries()) {
        const r = mine[k];
        try {
          r.seconds.push(await c.run(op, i));
          log(`${op} ${c.name}: ${r.seconds.at(-1)!.toFixed(2)} s`);
        } catch (err) {
          skipped.push(`${op} / ${c.name}: ${(err as Error).message.split('\n')[0].slice(0, 300)}`);
          r.seconds.length = 0;
        }
      }
    }
  }
  return results;
}

export interface OpReport<Op extends string> {
  title: string;
  /** what follows the machine on its line (tool versions) */
  versions: string;
  results: OpResult<Op>[];
  megabytes: number;
  /** the floor contestant's name */
  floor: string;
  /** whether the row's op has a floor to compare with */
  hasFloor: (op: Op) => boolean;
  /** the row's target verdict (table cell) and its summary line, if it has one */
  target: (r: OpResult<Op>, seconds: number, floor: number, dockerd: number) => { cell: string; summary: string } | undefined;
  legend: string;
}

/** The throughput table of timed operations (median s, MB/s, against the floor and dockerd), with targets and skips. */
export function opReport<Op extends string>(rep: OpReport<Op>): string {
  const med = (op: Op, name: string): number => median(rep.results.find((r) => r.op === op && r.name === name)?.seconds ?? []);
  const header = ['operation', 'contestant', 'median s', 'MB/s', '× floor time', 'dockerd ÷', 'target'];
  const table: string[][] = [];
  const targets: string[] = [];
  for (const r of rep.results) {
    const s = median(r.seconds);
    const floor = med(r.op, rep.floor);
    const dockerd = med(r.op, DOCKERD_CLI);
    const target = rep.target(r, s, floor, dockerd);
    if (target) targets.push(`${r.op}: ${target.summary}`);
    table.push([
      r.op,
      r.name,
      Number.isFinite(s) ? s.toFixed(2) : 'failed',
      Number.isFinite(s) ? (rep.megabytes / s).toFixed(0) : '',
      r.name === rep.floor || !rep.hasFloor(r.op) ? '' : ratio(s / floor),
      r.name === DOCKERD_CLI || r.name === rep.floor ? '' : ratio(dockerd / s),
      target?.cell ?? '',
    ]);
  }
  const out = [
    '',
    rep.title,
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}; ${rep.versions}`,
    '',
    ...markdownTable(header, table),
    '',
    rep.legend,
    ...targets.map((t) => `target ${t}`),
    ...skipped.map((s) => `skipped: ${s}`),
  ];
  return out.join('\n') + '\n';
}

/** MET, NOT MET, or n/a when x could not be measured. */
export function verdict(x: number, ok: (v: number) => boolean): string {
  return Number.isFinite(x) ? (ok(x) ? 'MET' : 'NOT MET') : 'n/a';
}

/** Runs a benchmark's main: a failure becomes the exit code, and whatever it started is cleaned up either way. */
export function runBench(main: () => Promise<void>): void {
  main()
    .catch((err: Error) => {
      process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
    });
}

export interface OpBenchArgs {
  /** payload megabytes */
  mb: number;
  runs: number;
  noDockerd: boolean;
  /** Leave podman out (the benches that have it as a peer). */
  noPodman?: boolean;
  noInstall: boolean;
  keep: boolean;
}

/** The command line of the throughput benchmarks (layers, registry); --help prints the usage and exits. */
export function opBenchArgs(program: string, mbMeaning: string): OpBenchArgs {
  const { values: o } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      mb: { type: 'string' },
      runs: { type: 'string' },
      'no-dockerd': { type: 'boolean', default: false },
      'no-podman': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (o.help) {
    process.stdout.write(`Usage: node dist/bench/${program} [--quick] [--mb N] [--runs N] [--no-dockerd] [--no-podman] [--no-install] [--keep]

  --quick     100 MB, one run per operation
  --mb N      ${mbMeaning}
  --runs N    runs per operation and contestant (default 3; the median is reported)
`);
    process.exit(0);
  }
  return {
    mb: o.mb ? Number(o.mb) : o.quick ? 100 : 500,
    runs: o.runs ? Number(o.runs) : o.quick ? 1 : 3,
    noDockerd: o['no-dockerd']!,
    noPodman: o['no-podman']!,
    noInstall: o['no-install']!,
    keep: o.keep!,
  };
}

/**
 * The common start of the throughput benchmarks: root, packages (Berth's and `extra`, plus
 * docker.io unless --no-dockerd), the docker CLI, its config dir and the busybox rootfs tar.
 */
export async function prepareOpBench(args: OpBenchArgs, extra: string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the bench runs daemons and containers: run it as root');
  const want = ['crun', 'conmon', 'busybox-static', 'golang-github-containers-common', 'attr', ...extra];
  if (!args.noDockerd) want.push('docker.io');
  ensurePackages(want, args.noInstall);
  setKeep(args.keep);
  if (!dockerBin) throw new Error('no docker CLI on PATH (Debian: apt-get install docker.io)');
  mkdirSync(DOCKER_ENV.DOCKER_CONFIG!, { recursive: true });
  await writeBusyboxTar();
}

/** dockerd for a throughput benchmark, or null (with the reason in `skipped`) when it can't or shouldn't run. */
export async function startDockerdOrSkip(args: OpBenchArgs): Promise<Peer | null> {
  if (args.noDockerd) {
    skipped.push('dockerd: --no-dockerd');
    return null;
  }
  try {
    if (!which('dockerd')) throw new Error('dockerd is not installed (apt-get install docker.io)');
    log('starting dockerd');
    return await startDockerd();
  } catch (err) {
    skipped.push(`dockerd: could not start: ${(err as Error).message.split('\n')[0]}`);
    return null;
  }
}
