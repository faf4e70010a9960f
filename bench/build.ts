#!/usr/bin/env node
// Dockerfile builds: Berth's builder against dockerd's legacy builder, both through the same
// docker CLI (`docker build`, which without buildx sends the legacy POST /build). Run as root:
//
//   npm run build && node dist/bench/build.js [--quick] [--runs 5] [--no-dockerd]
//
// Cases: a 10-step Dockerfile built cold (--no-cache), fully cached, and after one COPY'd file
// changed; a two-stage build (two independent stages, each with a RUN that sleeps 1 s, joined by
// COPY --from) against the sum of building each stage alone. podman's build (buildah) runs the
// same cases on storage of its own under the bench's temp dir. RUN steps use --network none
// everywhere (each daemon has a bridge of its own all the same; podman then sets up no network).
// Nothing is asserted; medians and ratios are printed (docs/performance.md records them).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DOCKER_ENV,
  DOCKERD_CLI,
  log,
  markdownTable,
  median,
  mustTime,
  opBenchArgs,
  podmanOnOwnStorage,
  type OpContestant,
  prepareOpBench,
  type Peer,
  ratio,
  reportTime,
  runBench,
  runOps,
  skipped,
  startBerth,
  startDockerdOrSkip,
  TMP,
  verdict,
} from './lib.js';
import os from 'node:os';

const opts = opBenchArgs('build.js', '(unused)');
const RUNS = opts.runs === 1 ? 1 : Math.max(opts.runs, 5);
const BERTH = 'Berth (docker CLI)';
const PODMAN = 'podman build (buildah)';
type Op = 'cold' | 'cached' | 'changed' | 'two-stage' | 'stage a + stage b';

const TEN_STEPS = `FROM busybox
ENV APP=/app MODE=bench
WORKDIR /app
COPY config.txt /app/config.txt
RUN echo "built in $MODE" > /app/built && cp /app/config.txt /app/config.copy
COPY src/ /app/src/
RUN cat /app/src/*.txt | wc -c > /app/size
LABEL org.example.bench=build
RUN ls -la /app > /app/listing
CMD ["cat", "/app/built"]
`;

const TWO_STAGE = `FROM busybox AS a
RUN sleep 1 && echo a > /a
FROM busybox AS b
RUN sleep 1 && echo b > /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
`;

function writeContext(): { ten: string; two: string } {
  const ten = path.join(TMP, 'ctx-ten');
  mkdirSync(path.join(ten, 'src'), { recursive: true });
  writeFileSync(path.join(ten, 'Dockerfile'), TEN_STEPS);
  writeFileSync(path.join(ten, 'config.txt'), 'mode=bench\n');
  for (let i = 0; i < 20; i++) writeFileSync(path.join(ten, 'src', `f${i}.txt`), randomBytes(2048).toString('base64'));
  const two = path.join(TMP, 'ctx-two');
  mkdirSync(two, { recursive: true });
  writeFileSync(path.join(two, 'Dockerfile'), TWO_STAGE);
  return { ten, two };
}

type Build = (...args: string[]) => Promise<number>;

function contestant(peer: Peer, name: string, ctx: { ten: string; two: string }): OpContestant<Op> {
  return cases(name, ctx, async (...args) => (await mustTime(peer.docker('build', '--network', 'none', '-q', ...args), DOCKER_ENV, 120_000)).ms / 1000);
}

/**
 * `podman build` (buildah): layers cached as docker's (--layers is its default), never pulling;
 * modest rlimits, as this VM's root cannot raise them to podman's default maximum.
 */
function podmanContestant(base: string[], ctx: { ten: string; two: string }): OpContestant<Op> {
  const flags = ['build', '--network', 'none', '-q', '--pull=never', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
  return cases(PODMAN, ctx, async (...args) => (await mustTime([...base, ...flags, ...args], process.env, 120_000)).ms / 1000);
}

function cases(name: string, ctx: { ten: string; two: string }, build: Build): OpContestant<Op> {
  return {
    name,
    run: async (op) => {
      switch (op) {
        case 'cold':
          return build('--no-cache', '-t', 'bench:ten', ctx.ten);
        case 'cached':
          await build('-t', 'bench:ten', ctx.ten);
          return build('-t', 'bench:ten', ctx.ten);
        case 'changed':
          // The second COPY's sources change: steps 6 to 10 run again.
          writeFileSync(path.join(ctx.ten, 'src', 'f0.txt'), randomBytes(2048).toString('base64'));
          return build('-t', 'bench:ten', ctx.ten);
        case 'two-stage':
          return build('--no-cache', '-t', 'bench:two', ctx.two);
        case 'stage a + stage b':
          return (await build('--no-cache', '--target', 'a', ctx.two)) + (await build('--no-cache', '--target', 'b', ctx.two));
      }
    },
  };
}

async function main(): Promise<void> {
  await prepareOpBench(opts, []);
  const ctx = writeContext();
  const contestants: OpContestant<Op>[] = [];
  log('starting berthd');
  contestants.push(contestant(await startBerth('berth', 'crun'), BERTH, ctx));
  const dockerd = await startDockerdOrSkip(opts);
  if (dockerd) contestants.push(contestant(dockerd, DOCKERD_CLI, ctx));
  // FROM busybox resolves to docker.io/library/busybox in podman's own storage: nothing is pulled.
  const podman = opts.noPodman ? null : await podmanOnOwnStorage(['docker.io/library/busybox:latest']);
  if (podman) contestants.push(podmanContestant(podman, ctx));
  else skipped.push(`podman: ${opts.noPodman ? '--no-podman' : 'not installed'}`);
  const ops: Op[] = ['cold', 'cached', 'changed', 'two-stage', 'stage a + stage b'];
  const results = await runOps<Op>(ops, contestants, RUNS);
  const med = (op: Op, name: string): number => median(results.find((r) => r.op === op && r.name === name)?.seconds ?? []);
  const table = results.map((r) => {
    const s = median(r.seconds);
    const d = med(r.op, DOCKERD_CLI);
    const p = med(r.op, PODMAN);
    return [r.op, r.name, Number.isFinite(s) ? (s * 1000).toFixed(0) : 'failed', r.name === DOCKERD_CLI ? '' : ratio(d / s), r.name === PODMAN || !Number.isFinite(p) ? '' : ratio(p / s)];
  });
  const cold = med('cold', DOCKERD_CLI) / med('cold', BERTH);
  const cached = med('cached', DOCKERD_CLI) / med('cached', BERTH);
  const two = med('stage a + stage b', BERTH) / med('two-stage', BERTH);
  const out = [
    '',
    `Berth build benchmark — ${reportTime()} UTC — ${RUNS} run(s) each`,
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}`,
    '',
    ...markdownTable(['case', 'contestant', 'median ms', 'dockerd ÷', 'podman ÷'], table),
    '',
    '"dockerd ÷" / "podman ÷": that peer\'s time ÷ this one (how many times faster). "cached" times the second of two identical builds; "changed" rebuilds after one COPY\'d file changed.',
    `target cold ≥ 2× dockerd's legacy builder: ${verdict(cold, (v) => v >= 2)} (${ratio(cold)})`,
    `target fully cached no slower than dockerd: ${verdict(cached, (v) => v >= 1)} (${ratio(cached)})`,
    `target two-stage faster than the sum of its stages: ${verdict(two, (v) => v > 1)} (${ratio(two)} faster)`,
    ...skipped.map((s) => `skipped: ${s}`),
  ];
  process.stdout.write(out.join('\n') + '\n');
}

runBench(main);
