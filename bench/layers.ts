#!/usr/bin/env node
// Layer throughput: `commit` of a container with a large writable layer, `save` and `load` of the
// resulting image (`load` while the layer is still there, as the earlier commits' images hold it;
// `load-new` after those are pruned, so the layer is unpacked again) and `export` of the container — Berth and dockerd through the same docker CLI,
// side by side with the floor (GNU tar writing or reading the same tree). Run as root:
//
//   npm run build && node dist/bench/layers.js [--quick] [--mb 500] [--runs 3]
//
// Every contestant gets the same payload: a host directory of MB megabytes (files of 1 MB, half
// random and half compressible text, plus a tree of small files), copied into a container's
// writable layer with `cp -a` from a read-only bind mount. Nothing is asserted; medians and ratios
// are printed (docs/performance.md records them).
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DOCKER_ENV,
  DOCKERD_CLI,
  log,
  mustTime,
  type OpContestant,
  opBenchArgs,
  prepareOpBench,
  opReport,
  type OpResult,
  type Peer,
  ratio,
  reportTime,
  runBench,
  runOps,
  sh,
  startBerth,
  startDockerdOrSkip,
  TMP,
  verdict,
} from './lib.js';

const opts = opBenchArgs('layers.js', 'payload size in MB (default 500)');
const MB = opts.mb;
const RUNS = opts.runs;
const OP_TIMEOUT_MS = 15 * 60_000;

/** load: the image's layer is still there (the earlier commits' images hold it); load-new: it is not. */
type Op = 'commit' | 'save' | 'load' | 'load-new' | 'export';
type Contestant = OpContestant<Op>;
const FLOOR = 'floor: GNU tar';
const BERTH = 'Berth (docker CLI)';

/** MB files of 1 MiB (half random, half base64 text) and 1000 small files in nested dirs. */
function writePayload(dir: string): number {
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  for (let i = 0; i < MB; i++) {
    const half = randomBytes(512 * 1024);
    const text = randomBytes(384 * 1024).toString('base64');
    const sub = path.join(dir, `d${Math.floor(i / 50)}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `f${i}.bin`), Buffer.concat([half, Buffer.from(text)]));
    bytes += half.length + text.length;
  }
  for (let i = 0; i < 1000; i++) {
    const sub = path.join(dir, 'small', `s${i % 20}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `x${i}.txt`), `small file ${i}\n`.repeat(8));
  }
  return bytes;
}

function dockerContestant(peer: Peer, label: string, payload: string): { c: Contestant; setup: () => Promise<void> } {
  const ctr = `bench-layers-${peer.name}`;
  const image = `bench-layers-${peer.name}:latest`;
  const out = path.join(TMP, `${peer.name}-out`);
  const timed = async (argv: string[]): Promise<number> => {
    const r = await mustTime(argv, DOCKER_ENV, OP_TIMEOUT_MS);
    return r.ms / 1000;
  };
  const setup = async (): Promise<void> => {
    mkdirSync(out, { recursive: true });
    // a stopped container whose writable layer holds the payload
    await mustTime(peer.docker('run', '--name', ctr, '--network', 'none', '-v', `${payload}:/payload:ro`, 'busybox', 'cp', '-a', '/payload', '/data'), DOCKER_ENV, OP_TIMEOUT_MS);
    peer.daemon.containers.add(ctr);
  };
  const c: Contestant = {
    name: label,
    run: async (op, i) => {
      const file = path.join(out, `${op}-${i}.tar`);
      switch (op) {
        case 'commit':
          return timed(peer.docker('commit', ctr, image));
        case 'save':
          return timed(peer.docker('save', '-o', file, image));
        case 'load':
        case 'load-new': {
          const archive = path.join(out, 'save-0.tar');
          await mustTime(peer.docker('rmi', image), DOCKER_ENV, OP_TIMEOUT_MS);
          // The images of the earlier commits (dangling now) share the layer: gone, it is unpacked again.
          if (op === 'load-new') await mustTime(peer.docker('image', 'prune', '-f'), DOCKER_ENV, OP_TIMEOUT_MS);
          return timed(peer.docker('load', '-q', '-i', archive));
        }
        case 'export': {
          const s = await timed(peer.docker('export', '-o', file, ctr));
          rmSync(file, { force: true });
          return s;
        }
      }
    },
  };
  return { c, setup };
}

/** The floor: GNU tar writing the tree to a file (commit, save, export) and reading it back (load). */
function floorContestant(payload: string): Contestant {
  const dir = path.join(TMP, 'floor');
  mkdirSync(dir, { recursive: true });
  const archive = path.join(dir, 'payload.tar');
  return {
    name: FLOOR,
    run: async (op, i) => {
      if (op === 'load' || op === 'load-new') {
        const target = path.join(dir, `x${i}`);
        mkdirSync(target);
        const r = await mustTime(['tar', '-xf', archive, '-C', target], undefined, OP_TIMEOUT_MS);
        rmSync(target, { recursive: true, force: true });
        return r.ms / 1000;
      }
      const r = await mustTime(['tar', '-cf', archive, '-C', payload, '.'], undefined, OP_TIMEOUT_MS);
      return r.ms / 1000;
    },
  };
}

async function main(): Promise<void> {
  await prepareOpBench(opts, ['tar']);

  log(`writing a ${MB} MB payload`);
  const payload = path.join(TMP, 'payload');
  const bytes = writePayload(payload);
  const megabytes = bytes / 2 ** 20;

  const contestants: Contestant[] = [floorContestant(payload)];
  const setups: (() => Promise<void>)[] = [];
  log('starting berthd');
  const berth = await startBerth('berth', 'crun');
  const b = dockerContestant(berth, BERTH, payload);
  contestants.push(b.c);
  setups.push(b.setup);
  const dockerd = await startDockerdOrSkip(opts);
  if (dockerd) {
    const d = dockerContestant(dockerd, DOCKERD_CLI, payload);
    contestants.push(d.c);
    setups.push(d.setup);
  }

  log('copying the payload into each contestant\'s container');
  for (const s of setups) await s();

  // save runs before load, which loads the first saved archive
  const results = await runOps<Op>(['commit', 'save', 'load', 'load-new', 'export'], contestants, RUNS);
  process.stdout.write(report(results, megabytes));
}

function report(results: OpResult<Op>[], megabytes: number): string {
  return opReport({
    title: `Berth layer benchmark — ${reportTime()} UTC — payload ${megabytes.toFixed(0)} MB, ${RUNS} run(s) each`,
    versions: sh('tar', ['--version']).split('\n')[0],
    results,
    megabytes,
    floor: FLOOR,
    hasFloor: () => true,
    target: (r, s, floor, dockerd) => {
      if ((r.op !== 'save' && r.op !== 'load' && r.op !== 'load-new') || r.name !== BERTH) return undefined;
      const cell = `≥ 1.5× dockerd: ${verdict(dockerd / s, (v) => v >= 1.5)}; ≤ 1.5× floor: ${verdict(s / floor, (v) => v <= 1.5)}`;
      return { cell, summary: `${cell} (${ratio(dockerd / s)} dockerd's speed, ${ratio(s / floor)} the floor's time)` };
    },
    legend: 'MB/s: payload megabytes ÷ median seconds. "× floor time": median ÷ GNU tar\'s (lower is better). "dockerd ÷": dockerd\'s time ÷ this one (how many times faster).',
  });
}

runBench(main);

