#!/usr/bin/env node
// Volumes: what a mount adds to `docker run --rm` — an existing named volume, a new named volume
// (created by the run), a bind mount — against the same run without one, and `volume create` +
// `volume rm` latency over the API; Berth and dockerd (on a bridge of its own) through the same
// docker CLI, runs interleaved so drift in machine load hits everyone alike. Run as root:
//
//   npm run build && node dist/bench/volumes.js [--quick] [--runs 15] [--no-dockerd]
//
// Nothing is asserted; medians, overheads and ratios are printed (docs/performance.md records
// them). Target: a volume adds under 10 ms to a run.
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  api,
  DOCKER_ENV,
  log,
  markdownTable,
  median,
  mustTime,
  type OpBenchArgs,
  type Peer,
  prepareOpBench,
  ratio,
  reportTime,
  runBench,
  skipped,
  startBerth,
  startDockerdOrSkip,
  TMP,
  verdict,
} from './lib.js';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'no-dockerd': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = o.runs ? Number(o.runs) : o.quick ? 5 : 15;
const args: OpBenchArgs = { mb: 0, runs: RUNS, noDockerd: !!o['no-dockerd'], noInstall: !!o['no-install'], keep: !!o.keep };

type Variant = 'no mount' | 'existing volume' | 'new volume' | 'bind mount';
const VARIANTS: Variant[] = ['no mount', 'existing volume', 'new volume', 'bind mount'];
const CREATE_RM = 'volume create + rm (API)';

interface Contestant {
  peer: Peer;
  label: string;
  samples: Map<string, number[]>;
}

function runArgv(c: Contestant, v: Variant, i: number): string[] {
  const mount: Record<Variant, string[]> = {
    'no mount': [],
    'existing volume': ['-v', 'bench-vol:/data'],
    'new volume': ['-v', `bench-new-${i}:/data`],
    'bind mount': ['-v', `${path.join(TMP, 'bind-src')}:/data`],
  };
  return c.peer.docker('run', '--rm', '--network', 'none', ...mount[v], 'busybox', 'true');
}

function record(c: Contestant, key: string, ms: number): void {
  c.samples.set(key, [...(c.samples.get(key) ?? []), ms]);
}

async function timeRun(c: Contestant, v: Variant, i: number): Promise<void> {
  const r = await mustTime(runArgv(c, v, i), DOCKER_ENV);
  record(c, v, r.ms);
  if (v === 'new volume') await mustTime(c.peer.docker('volume', 'rm', `bench-new-${i}`), DOCKER_ENV);
}

/** POST /volumes/create then DELETE /volumes/{name}, straight over the socket: the daemon's own latency. */
async function timeCreateRm(c: Contestant, i: number): Promise<void> {
  const name = `bench-cr-${i}`;
  const t0 = process.hrtime.bigint();
  const made = await api(c.peer.sock, 'POST', '/volumes/create', { Name: name });
  const gone = await api(c.peer.sock, 'DELETE', `/volumes/${name}`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (made.status !== 201 || gone.status !== 204) throw new Error(`volume create/rm on ${c.label}: ${made.status} ${gone.status}`);
  record(c, CREATE_RM, ms);
}

async function main(): Promise<void> {
  await prepareOpBench(args, []);
  mkdirSync(path.join(TMP, 'bind-src'), { recursive: true });
  log('starting berthd');
  const contestants: Contestant[] = [{ peer: await startBerth('berth', 'crun'), label: 'Berth', samples: new Map() }];
  const dockerd = await startDockerdOrSkip(args);
  if (dockerd) contestants.push({ peer: dockerd, label: 'dockerd', samples: new Map() });
  for (const c of contestants) {
    await mustTime(c.peer.docker('volume', 'create', 'bench-vol'), DOCKER_ENV);
    // warm-up: first runs pay for caches (seccomp, image config) the others reuse
    for (const v of VARIANTS) await mustTime(runArgv(c, v, -1), DOCKER_ENV);
    await mustTime(c.peer.docker('volume', 'rm', 'bench-new--1'), DOCKER_ENV);
  }
  for (let i = 0; i < RUNS; i++) {
    for (const c of contestants) {
      for (const v of VARIANTS) await timeRun(c, v, i);
      for (let k = 0; k < 4; k++) await timeCreateRm(c, i * 4 + k);
    }
    log(`round ${i + 1}/${RUNS} done`);
  }
  process.stdout.write(report(contestants));
}

function report(contestants: Contestant[]): string {
  const med = (c: Contestant | undefined, key: string): number => median(c?.samples.get(key) ?? []);
  const berth = contestants[0];
  const dockerd = contestants.find((c) => c.label === 'dockerd');
  const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—');
  const table: string[][] = [];
  for (const key of [...VARIANTS, CREATE_RM]) {
    const b = med(berth, key);
    const d = med(dockerd, key);
    const overhead = (c: Contestant | undefined): number => (VARIANTS.includes(key as Variant) && key !== 'no mount' ? med(c, key) - med(c, 'no mount') : NaN);
    table.push([key, fmt(b), fmt(overhead(berth)), fmt(d), fmt(overhead(dockerd)), ratio(d / b)]);
  }
  const worst = Math.max(...(['existing volume', 'new volume', 'bind mount'] as Variant[]).map((v) => med(berth, v) - med(berth, 'no mount')));
  return [
    '',
    `Berth volume benchmark — ${reportTime()} UTC — ${RUNS} run(s) each, medians in ms, \`docker run --rm --network none busybox true\``,
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}`,
    '',
    ...markdownTable(['operation', 'Berth ms', 'Berth + vs no mount', 'dockerd ms', 'dockerd + vs no mount', 'dockerd ÷ Berth'], table),
    '',
    `target: a volume adds under 10 ms to a run: ${verdict(worst, (v) => v < 10)} (largest Berth overhead ${fmt(worst)} ms)`,
    ...skipped.map((s) => `skipped: ${s}`),
  ].join('\n') + '\n';
}

runBench(main);
