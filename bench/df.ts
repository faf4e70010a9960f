#!/usr/bin/env node
// What disk usage costs to ask: `GET /system/df` on Berth and on dockerd (on a bridge of its own)
// holding the same content — an image of many small files, containers that wrote files of their
// own, a volume — and Berth's `GET /berth/system/df` (the whole data root walked, what
// `berth system df -v` adds), against the floor: `du -sbx` of the same data root. Runs interleaved
// so drift in machine load hits everyone alike. Run as root:
//
//   npm run bench:df          # or: node dist/bench/df.js [--quick] [--runs 7] [--files 20000] [--no-dockerd]
//
// Nothing is asserted; medians and ratios are printed (docs/performance.md records them).
import { mkdirSync, writeFileSync } from 'node:fs';
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
  sh,
  skipped,
  startBerth,
  startDockerdOrSkip,
  TMP,
} from './lib.js';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    files: { type: 'string' },
    'no-dockerd': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = o.runs ? Number(o.runs) : o.quick ? 3 : 7;
const FILES = o.files ? Number(o.files) : o.quick ? 5000 : 20000;
const CONTAINERS = 3;
const args: OpBenchArgs = { mb: 0, runs: RUNS, noDockerd: !!o['no-dockerd'], noInstall: !!o['no-install'], keep: !!o.keep };

interface Contestant {
  label: string;
  run: () => Promise<void>;
  samples: number[];
}

/** A rootfs of FILES small files in 100 directories, as one tar. */
function payloadTar(): string {
  const dir = path.join(TMP, 'payload');
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, `d${i % 100}`);
    if (i < 100) mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `f${i}`), `file ${i}\n`.repeat(1 + (i % 50)));
  }
  const tar = path.join(TMP, 'payload.tar');
  sh('tar', ['-cf', tar, '-C', dir, '.']);
  return tar;
}

/** The same content on each daemon: the image, containers that wrote files, a volume with files. */
async function fill(peer: Peer, tar: string): Promise<void> {
  await mustTime(peer.docker('import', tar, 'bench-df:latest'), DOCKER_ENV, 120_000);
  const write = (target: string): string => `i=0; while [ $i -lt ${FILES / 10} ]; do echo $i > ${target}/w$i; i=$((i+1)); done`;
  for (let c = 0; c < CONTAINERS; c++) {
    await mustTime(peer.docker('run', '--name', `bench-df-${c}`, '--network', 'none', 'busybox', 'sh', '-c', write('/tmp')), DOCKER_ENV, 120_000);
  }
  await mustTime(peer.docker('run', '--rm', '--network', 'none', '-v', 'bench-df-vol:/v', 'busybox', 'sh', '-c', write('/v')), DOCKER_ENV, 120_000);
}

function timedApi(sock: string, urlPath: string): () => Promise<void> {
  return async () => {
    const r = await api(sock, 'GET', urlPath, undefined, 300_000);
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${r.body.slice(0, 200)}`);
  };
}

async function main(): Promise<void> {
  await prepareOpBench(args, []);
  log(`writing ${FILES} files`);
  const tar = payloadTar();
  log('starting berthd');
  const berth = await startBerth('berth', 'crun');
  const dockerd = await startDockerdOrSkip(args);
  for (const p of [berth, dockerd]) if (p) await fill(p, tar);
  const berthRoot = path.join(TMP, 'berth', 'root');
  const contestants: Contestant[] = [
    { label: 'floor: du -sbx (Berth data root)', run: async () => void sh('du', ['-sbx', berthRoot]), samples: [] },
    { label: 'Berth GET /system/df', run: timedApi(berth.sock, '/system/df'), samples: [] },
    { label: 'Berth GET /berth/system/df', run: timedApi(berth.sock, '/berth/system/df'), samples: [] },
  ];
  if (dockerd) contestants.push({ label: 'dockerd GET /system/df', run: timedApi(dockerd.sock, '/system/df'), samples: [] });
  for (const c of contestants) await c.run(); // warm-up: the page cache holds every tree afterwards
  for (let i = 0; i < RUNS; i++) {
    for (const c of contestants) {
      const t0 = process.hrtime.bigint();
      await c.run();
      c.samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    log(`round ${i + 1}/${RUNS} done`);
  }
  process.stdout.write(report(contestants, !!dockerd));
}

function report(contestants: Contestant[], withDockerd: boolean): string {
  const floor = median(contestants[0]!.samples);
  const dockerd = withDockerd ? median(contestants[contestants.length - 1]!.samples) : NaN;
  const table = contestants.map((c) => {
    const m = median(c.samples);
    return [c.label, m.toFixed(1), ratio(m / floor), c.label.startsWith('dockerd') ? '' : ratio(dockerd / m)];
  });
  return [
    '',
    `Berth disk-usage benchmark — ${reportTime()} UTC — ${RUNS} run(s) each, medians in ms; an image of ${FILES} files, ${CONTAINERS} containers that wrote ${FILES / 10} files each, a volume of ${FILES / 10}`,
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    '',
    ...markdownTable(['operation', 'ms', '÷ floor', 'dockerd ÷ this'], table),
    ...skipped.map((s) => `skipped: ${s}`),
  ].join('\n') + '\n';
}

runBench(main);
