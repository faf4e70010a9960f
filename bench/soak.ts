#!/usr/bin/env node
// Soak: N containers created, started, stopped and removed at concurrency C while F `logs -f`
// followers read a few chatty containers, and `ps` / `inspect` are timed all along. The daemon's
// RSS and open descriptors are sampled: idle before, peak under load, and after (which should be
// back within 10 % of idle, with no descriptor growth). Berth and dockerd side by side. As root:
//
//   npm run build && node dist/bench/soak.js [--containers 2000] [--concurrency 20] [--followers 200] [--no-dockerd]
//
// Nothing is asserted; the figures are printed (docs/performance.md records them).
import { readdirSync } from 'node:fs';
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
  },
});
const N = Number(o.containers);
const C = Number(o.concurrency);
const F = Number(o.followers);
const opts: OpBenchArgs = { mb: 0, runs: 1, noDockerd: !!o['no-dockerd'], noInstall: !!o['no-install'], keep: false };

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

interface Result {
  idle: Sample;
  peak: Sample;
  after: Sample;
  /** 30 s later: V8 gives pages back only once the heap has been idle a while. */
  settled: Sample;
  ps: number[];
  inspect: number[];
  lifecycleS: number;
  failures: number;
}

async function soak(peer: Peer): Promise<Result> {
  const pid = peer.daemon.proc.pid!;
  await sleep(1000);
  const idle = sample(pid);
  const chatty: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await api(peer.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'while :; do echo tick; sleep 0.1; done'] });
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    peer.daemon.containers.add(id);
    await api(peer.sock, 'POST', `/containers/${id}/start`);
    chatty.push(id);
  }
  const followers = Array.from({ length: F }, (_, i) => follow(peer.sock, chatty[i % chatty.length]));
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
    Array.from({ length: N }, (_, i) => i),
    C,
    async (i) => {
      const c = await api(peer.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '30'], Labels: { soak: String(i) } });
      if (c.status !== 201) return void failures++;
      const id = (JSON.parse(c.body) as { Id: string }).Id;
      for (const [m, p] of [['POST', `/containers/${id}/start`], ['POST', `/containers/${id}/stop?t=0`], ['DELETE', `/containers/${id}`]] as const) {
        const r = await api(peer.sock, m, p);
        if (r.status >= 300) failures++;
      }
      if ((i + 1) % 200 === 0) log(`${peer.name}: ${i + 1}/${N} containers`);
    },
  );
  const lifecycleS = (performance.now() - t0) / 1000;
  for (const f of followers) f.stop();
  running = false;
  await Promise.all([sampler, prober]);
  for (const id of chatty) {
    await api(peer.sock, 'DELETE', `/containers/${id}?force=1`);
    peer.daemon.containers.delete(id);
  }
  // Node's global agent keeps idle connections open (keep-alive): close ours, or the daemon's end
  // of each counts as a descriptor it holds.
  http.globalAgent.destroy();
  await sleep(3000);
  const after = sample(pid);
  await sleep(30_000);
  return { idle, peak, after, settled: sample(pid), ps, inspect, lifecycleS, failures };
}

async function main(): Promise<void> {
  await prepareOpBench(opts, []);
  const peers: Peer[] = [await startBerth('berth', 'crun')];
  const dockerd = await startDockerdOrSkip(opts);
  if (dockerd) peers.push(dockerd);
  const results = new Map<string, Result>();
  for (const p of peers) {
    log(`${p.name}: soak, ${N} containers at concurrency ${C}, ${F} followers`);
    results.set(p.name, await soak(p));
  }
  const header = ['daemon', 'RSS idle', 'RSS peak', 'RSS after', 'after / idle', 'RSS 30 s later', 'later / idle', 'fds idle → peak → after', 'ps p99 ms', 'inspect p99 ms', `${N} lifecycles (s)`, 'failures'];
  const rows = [...results].map(([name, r]) => [
    name,
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
}

runBench(main);
