#!/usr/bin/env node
// The restart loop: a container that fails at once under `--restart on-failure:N`, restarted by
// the daemon with Docker's back-off (100 ms doubling). Each delay is read from the daemon's own
// events (die → the next start), for Berth and dockerd side by side, with the floor: the back-off
// alone. What a daemon adds over the floor is its cost of a restart. Run as root:
//
//   npm run build && node dist/bench/restart.js [--quick] [--runs 3] [--no-dockerd]
//
// Nothing is asserted; medians and ratios are printed (docs/performance.md records them).
import {
  api,
  DOCKER_ENV,
  log,
  markdownTable,
  median,
  mustTime,
  opBenchArgs,
  type Peer,
  prepareOpBench,
  ratio,
  reportTime,
  runBench,
  sleep,
  startBerth,
  startDockerdOrSkip,
} from './lib.js';

const opts = opBenchArgs('restart.js', '(unused)');
const RUNS = opts.runs;
const RESTARTS = 6;
const BACKOFF = Array.from({ length: RESTARTS }, (_, i) => 100 * 2 ** i);

interface Ev {
  Action?: string;
  status?: string;
  timeNano: number;
}

/** die → next start, in ms, for one container, from the daemon's event log. */
async function delays(peer: Peer, id: string): Promise<number[]> {
  const filters = encodeURIComponent(JSON.stringify({ container: [id] }));
  const r = await api(peer.sock, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
  const out: number[] = [];
  let died: number | undefined;
  for (const line of r.body.split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as Ev;
    const action = e.Action ?? e.status;
    if (action === 'die') died = e.timeNano;
    else if (action === 'start' && died !== undefined) {
      out.push((e.timeNano - died) / 1e6);
      died = undefined;
    }
  }
  return out;
}

async function restartLoop(peer: Peer): Promise<number[]> {
  const run = await mustTime(peer.docker('run', '-d', '--restart', `on-failure:${RESTARTS}`, 'busybox', 'false'), DOCKER_ENV);
  const id = run.stdout.trim();
  peer.daemon.containers.add(id);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await api(peer.sock, 'GET', `/containers/${id}/json`);
    const info = JSON.parse(r.body) as { RestartCount: number; State: { Status: string } };
    if (info.State.Status === 'exited' && info.RestartCount === RESTARTS) break;
    if (Date.now() > deadline) throw new Error(`${peer.name}: the restart loop did not finish (${info.RestartCount} restarts)`);
    await sleep(50);
  }
  const d = await delays(peer, id);
  await mustTime(peer.docker('rm', id), DOCKER_ENV);
  peer.daemon.containers.delete(id);
  return d;
}

async function main(): Promise<void> {
  await prepareOpBench(opts, []);
  const peers: Peer[] = [];
  log('starting Berth');
  peers.push(await startBerth('berth', 'crun'));
  const dockerd = await startDockerdOrSkip(opts);
  if (dockerd) peers.push(dockerd);
  const results = new Map<string, number[][]>();
  for (let i = 0; i < RUNS; i++) {
    for (const p of peers) {
      log(`${p.name}: restart loop ${i + 1}/${RUNS}`);
      const d = await restartLoop(p);
      const list = results.get(p.name) ?? [];
      list.push(d);
      results.set(p.name, list);
    }
  }
  const med = (name: string, k: number): number => median((results.get(name) ?? []).map((d) => d[k]).filter((x) => x !== undefined));
  const header = ['restart', 'floor: back-off', 'Berth', 'dockerd', 'Berth − floor', 'dockerd − floor', 'Berth / dockerd'];
  const table = BACKOFF.map((b, k) => {
    const berth = med('berth', k);
    const dk = med('dockerd', k);
    const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '—');
    return [`${k + 1}`, `${b}`, f(berth), f(dk), f(berth - b), f(dk - b), ratio(berth / dk)];
  });
  process.stdout.write(`\nRestart loop (${reportTime()} UTC), on-failure:${RESTARTS}, busybox false; ms from die to the next start, median of ${RUNS}\n\n`);
  process.stdout.write(markdownTable(header, table).join('\n') + '\n');
}

runBench(main);
