#!/usr/bin/env node
// Soak: N containers created, started, stopped and removed at concurrency C while F `logs -f`
// followers read a few chatty containers, and `ps` / `inspect` are timed all along. The daemon's
// RSS and open descriptors are sampled: idle before, peak under load, and after (which should be
// back within 10 % of idle, with no descriptor growth). Idle is measured as after is: a warm-up
// (a small soak: --warmup containers, 10 followers) and then --settle seconds without requests,
// so both figures include what any use leaves (compiled code, the validators); the RSS at
// start-up is printed too. For berthd, where the memory is (idle and after): /proc smaps_rollup
// and its SIGUSR1 dump. Berth and dockerd side by side. As root:
//
//   npm run build && node dist/bench/soak.js [--containers 2000] [--concurrency 20] [--followers 200] [--no-dockerd]
//      [--warmup 20] [--settle 30] [--berthd-env KEY=VALUE]... [--keep]
//
// --berthd-env: environment for berthd alone, e.g. NODE_OPTIONS=--max-semi-space-size=1 to
// measure a V8 flag's trade-off; --keep: keep the temp dir (berthd's log says when it gave
// memory back).
//
// Nothing is asserted; the figures are printed (docs/performance.md records them).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { api, log, markdownTable, type OpBenchArgs, type Peer, pool, prepareOpBench, procStatus, reportTime, runBench, sleep, startBerth, startDockerdOrSkip } from './lib.js';

const { values: o } = parseArgs({
  options: {
    containers: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '20' },
    followers: { type: 'string', default: '200' },
    'no-dockerd': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '20' },
    settle: { type: 'string', default: '30' },
    'berthd-env': { type: 'string', multiple: true, default: [] },
  },
});
const N = Number(o.containers);
const C = Number(o.concurrency);
const F = Number(o.followers);
const WARMUP = Number(o.warmup);
const SETTLE = Number(o.settle);
/** KEY=VALUE for berthd alone, e.g. NODE_OPTIONS=--max-semi-space-size=1 to measure that trade-off. */
const BERTHD_ENV = Object.fromEntries(o['berthd-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const opts: OpBenchArgs = { mb: 0, runs: 1, noDockerd: !!o['no-dockerd'], noInstall: !!o['no-install'], keep: !!o.keep };

interface Sample {
  rssMb: number;
  fds: number;
}

function sample(pid: number): Sample {
  return { rssMb: (procStatus(pid)?.rssKb ?? 0) / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? NaN;
}

async function timed(sock: string, method: string, p: string, body?: unknown): Promise<{ ms: number; status: number; body: string }> {
  const t = performance.now();
  const r = await api(sock, method, p, body);
  return { ms: performance.now() - t, ...r };
}

/** A `logs -f` follower: a streaming GET kept open until `stop`. */
function follow(sock: string, id: string): { stop: () => void } {
  const req = http.request({ socketPath: sock, method: 'GET', path: `/v1.41/containers/${id}/logs?follow=1&stdout=1&stderr=1&tail=1` }, (res) => res.resume());
  req.on('error', () => undefined);
  req.end();
  return { stop: () => req.destroy() };
}

interface Load {
  ps: number[];
  inspect: number[];
  lifecycleS: number;
  failures: number;
  peak: Sample;
}

/** `n` lifecycles at concurrency C while `f` followers read 5 chatty containers; everything removed after. */
async function load(peer: Peer, n: number, f: number): Promise<Load> {
  const pid = peer.daemon.proc.pid!;
  const chatty: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await api(peer.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'while :; do echo tick; sleep 0.1; done'] });
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    peer.daemon.containers.add(id);
    await api(peer.sock, 'POST', `/containers/${id}/start`);
    chatty.push(id);
  }
  const followers = Array.from({ length: f }, (_, i) => follow(peer.sock, chatty[i % chatty.length]));
  let peak = sample(pid);
  let running = true;
  const sampler = (async () => {
    while (running) {
      const s = sample(pid);
      peak = { rssMb: Math.max(peak.rssMb, s.rssMb), fds: Math.max(peak.fds, s.fds) };
      await sleep(250);
    }
  })();
  const ps: number[] = [];
  const inspect: number[] = [];
  const prober = (async () => {
    while (running) {
      ps.push((await timed(peer.sock, 'GET', '/containers/json')).ms);
      inspect.push((await timed(peer.sock, 'GET', `/containers/${chatty[0]}/json`)).ms);
      await sleep(50);
    }
  })();
  let failures = 0;
  const t0 = performance.now();
  await pool(
    Array.from({ length: n }, (_, i) => i),
    Math.min(C, n),
    async (i) => {
      const c = await api(peer.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '30'], Labels: { soak: String(i) } });
      if (c.status !== 201) return void failures++;
      const id = (JSON.parse(c.body) as { Id: string }).Id;
      for (const [m, p] of [['POST', `/containers/${id}/start`], ['POST', `/containers/${id}/stop?t=0`], ['DELETE', `/containers/${id}`]] as const) {
        const r = await api(peer.sock, m, p);
        if (r.status >= 300) failures++;
      }
      if ((i + 1) % 200 === 0) log(`${peer.name}: ${i + 1}/${n} containers`);
    },
  );
  const lifecycleS = (performance.now() - t0) / 1000;
  for (const x of followers) x.stop();
  running = false;
  await Promise.all([sampler, prober]);
  for (const id of chatty) {
    await api(peer.sock, 'DELETE', `/containers/${id}?force=1`);
    peer.daemon.containers.delete(id);
  }
  // Node's global agent keeps idle connections open (keep-alive): close ours, or the daemon's end
  // of each counts as a descriptor it holds.
  http.globalAgent.destroy();
  return { ps, inspect, lifecycleS, failures, peak };
}

interface Result extends Load {
  /** 1 s after start-up, before any request (the figure earlier runs called idle). */
  started: Sample;
  /** After the warm-up and SETTLE seconds without requests: the idle the ratio is taken against. */
  idle: Sample;
  after: Sample;
  /** SETTLE seconds after the load, as idle was measured after the warm-up. */
  settled: Sample;
  memory: { idle: Breakdown | null; settled: Breakdown | null };
}

type Breakdown = Record<string, number>;

/**
 * Where berthd's memory is: the kernel's view (/proc/PID/smaps_rollup: anonymous vs file-backed)
 * and V8's and Node's (berthd's SIGUSR1 resource dump: process.memoryUsage() and each heap space's
 * physical size). In bytes.
 */
async function breakdown(peer: Peer): Promise<Breakdown | null> {
  if (!peer.execRoot) return null;
  const pid = peer.daemon.proc.pid!;
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
  const dump = path.join(peer.execRoot, 'berthd-resources.json');
  rmSync(dump, { force: true });
  process.kill(pid, 'SIGUSR1');
  for (let i = 0; i < 200; i++) {
    try {
      const { memory } = JSON.parse(readFileSync(dump, 'utf8')) as { memory: Breakdown };
      return { rss: kb('Rss'), anonymous: kb('Anonymous'), ...memory };
    } catch {
      await sleep(25);
    }
  }
  return null;
}

async function soak(peer: Peer): Promise<Result> {
  const pid = peer.daemon.proc.pid!;
  await sleep(1000);
  const started = sample(pid);
  // Warm-up: every code path the load takes runs once (lazy compilation, the validators, the
  // first containers' caches), then the same quiet time the load is followed by.
  log(`${peer.name}: warm-up, ${WARMUP} containers, ${Math.min(F, 10)} followers, then ${SETTLE} s idle`);
  await load(peer, WARMUP, Math.min(F, 10));
  await sleep(SETTLE * 1000);
  const idle = sample(pid);
  const idleMemory = await breakdown(peer);
  log(`${peer.name}: soak, ${N} containers at concurrency ${C}, ${F} followers`);
  const r = await load(peer, N, F);
  await sleep(3000);
  const after = sample(pid);
  await sleep(SETTLE * 1000);
  const settled = sample(pid);
  return { ...r, started, idle, after, settled, memory: { idle: idleMemory, settled: await breakdown(peer) } };
}

async function main(): Promise<void> {
  await prepareOpBench(opts, []);
  const peers: Peer[] = [await startBerth('berth', 'crun', [], 'bx', BERTHD_ENV)];
  const dockerd = await startDockerdOrSkip(opts);
  if (dockerd) peers.push(dockerd);
  const results = new Map<string, Result>();
  for (const p of peers) results.set(p.name, await soak(p));
  const header = ['daemon', 'RSS at start-up', 'RSS idle', 'RSS peak', 'RSS after', 'after / idle', 'RSS 30 s later', 'later / idle', 'fds idle → peak → after', 'ps p99 ms', 'inspect p99 ms', `${N} lifecycles (s)`, 'failures'];
  const rows = [...results].map(([name, r]) => [
    name,
    `${r.started.rssMb.toFixed(0)} MB`,
    `${r.idle.rssMb.toFixed(0)} MB`,
    `${r.peak.rssMb.toFixed(0)} MB`,
    `${r.after.rssMb.toFixed(0)} MB`,
    (r.after.rssMb / r.idle.rssMb).toFixed(2),
    `${r.settled.rssMb.toFixed(0)} MB`,
    (r.settled.rssMb / r.idle.rssMb).toFixed(2),
    `${r.idle.fds} → ${r.peak.fds} → ${r.after.fds}`,
    p99(r.ps).toFixed(1),
    p99(r.inspect).toFixed(1),
    r.lifecycleS.toFixed(1),
    String(r.failures),
  ]);
  process.stdout.write(`\nSoak (${reportTime()} UTC): ${N} containers created/started/stopped/removed at concurrency ${C}, ${F} logs -f followers\n\n`);
  process.stdout.write(markdownTable(header, rows).join('\n') + '\n');
  for (const [name, r] of results) {
    const { idle, settled } = r.memory;
    if (!idle || !settled) continue;
    process.stdout.write(`\n${name}: where the RSS is, idle (after the warm-up) and ${SETTLE} s after the load, MB\n\n`);
    process.stdout.write(markdownTable(['part', 'idle', 'after', 'grew'], breakdownRows(idle, settled)).join('\n') + '\n');
  }
}

/** The breakdown's parts; "the rest" is anonymous memory neither V8's heap nor counted as external (glibc's free pages, threads' stacks, V8's own tables). */
function breakdownRows(a: Breakdown, b: Breakdown): string[][] {
  const parts: [string, (m: Breakdown) => number][] = [
    ['RSS', (m) => m.rss],
    ['file-backed (code of node and its libraries)', (m) => m.rss - m.anonymous],
    ['anonymous', (m) => m.anonymous],
    ['V8 heap (heapTotal)', (m) => m.heapTotal],
    ['  new space (young generation)', (m) => m['heap.new_space'] ?? 0],
    ['  old space', (m) => m['heap.old_space'] ?? 0],
    ['  code space', (m) => m['heap.code_space'] ?? 0],
    ['  large objects', (m) => m['heap.large_object_space'] ?? 0],
    ['V8 heap in use (heapUsed)', (m) => m.heapUsed],
    ['external (Buffers: arrayBuffers)', (m) => m.external],
    ['the rest of anonymous (malloc arenas, stacks)', (m) => m.anonymous - m.heapTotal - m.external],
  ];
  const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
  return parts.map(([label, f]) => [label, mb(f(a)), mb(f(b)), mb(f(b) - f(a))]);
}

runBench(main);
