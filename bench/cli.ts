#!/usr/bin/env node
// The berth CLI against the docker CLI, command by command, both against one berthd: what each
// CLI adds to the same daemon's answer. Run as root:
//
//   npm run build && node dist/bench/cli.js [--quick] [--runs 30] [--nice=-15] [--no-install] [--keep]
//
// On a machine other work keeps busy, --nice N gives the bench's session and its berthd's a
// scheduler weight of nice N (Linux autogroups: /proc/<pid>/autogroup), so both CLIs and the
// daemon run about as on a quiet machine; the report says so.
//
// Each round runs every command once with each CLI (the order flips from round to round), so
// drift in machine load hits both alike. Wall time is from spawn to exit; CPU time is the user +
// system time the CLI process used (read from this process's children's totals in /proc, so it
// is a mean), which machine load hardly moves. Nothing is asserted; the target (every berth
// command within 30 ms of docker's) is printed, and docs/performance.md records the figures.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  apiJson,
  BERTH_CLI,
  DOCKER_ENV,
  dockerBin,
  log,
  markdownTable,
  median,
  NO_CA_ENV,
  p90,
  type OpBenchArgs,
  type Peer,
  prepareOpBench,
  ratio,
  reportTime,
  runBench,
  skipped,
  startBerth,
  TMP,
  timeCmd,
  verdict,
} from './lib.js';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    nice: { type: 'string' },
    'no-install': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = o.runs ? Number(o.runs) : o.quick ? 8 : 30;
const WARM = 2;
const TARGET_MS = 30;
const NICE = o.nice === undefined ? undefined : Number(o.nice);
const args: OpBenchArgs = { mb: 0, runs: RUNS, noDockerd: true, noInstall: !!o['no-install'], keep: !!o.keep };

/** The commands compared, as the same words for both CLIs; CTR is a running container with some log lines. */
const COMMANDS: { name: string; words: string[] }[] = [
  { name: 'version', words: ['version'] },
  { name: 'ps -a', words: ['ps', '-a'] },
  { name: 'images', words: ['images'] },
  { name: 'inspect CTR', words: ['inspect', 'cli-bench'] },
  { name: 'logs CTR', words: ['logs', 'cli-bench'] },
  { name: 'exec CTR true', words: ['exec', 'cli-bench', 'true'] },
  { name: 'run --rm busybox true', words: ['run', '--rm', '--network', 'none', 'busybox', 'true'] },
];

interface Sample {
  wall: number[];
  /** summed CPU ms over the timed runs (whole clock ticks add up exactly over many runs) */
  cpuTotal: number;
}

const CLK_TCK = 100; // USER_HZ: /proc's clock ticks on Linux

/** CPU time (user + system, ms) of this process's waited-for children so far: fields cutime and cstime of /proc/self/stat. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK;
}

async function timed(argv: string[], env: NodeJS.ProcessEnv, s: Sample | undefined): Promise<void> {
  const cpu0 = childrenCpuMs();
  const r = await timeCmd(argv, env);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  if (!s) return;
  s.wall.push(r.ms);
  s.cpuTotal += childrenCpuMs() - cpu0;
}

/** Sets the scheduler weight of the autogroup (session) `pid` is in. */
function setAutogroupNice(pid: number | 'self', nice: number): void {
  writeFileSync(`/proc/${pid}/autogroup`, String(nice));
}

function loadavg(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  await prepareOpBench(args, []);
  log('starting berthd');
  const berth: Peer = await startBerth('berth', 'crun');
  if (NICE !== undefined) {
    setAutogroupNice('self', NICE);
    // berthd runs in a session of its own (the bench starts it detached)
    setAutogroupNice(berth.daemon.proc.pid!, NICE);
  }
  const ctr = await apiJson<{ Id: string }>(berth.sock, 'POST', '/containers/create?name=cli-bench', { Image: 'busybox', Cmd: ['sh', '-c', 'seq 1 20; exec sleep 100000'], HostConfig: { NetworkMode: 'none' } });
  berth.daemon.containers.add(ctr.Id);
  await apiJson(berth.sock, 'POST', `/containers/${ctr.Id}/start`);
  // a few stopped containers, so ps -a has rows to format
  for (let i = 0; i < 5; i++) {
    const c = await apiJson<{ Id: string }>(berth.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    berth.daemon.containers.add(c.Id);
  }
  // The berth CLI keeps its code cache under $XDG_CACHE_HOME: the bench's own (the warm-up
  // rounds fill it), and a path it can't write for the "no code cache" row.
  const berthEnv: NodeJS.ProcessEnv = { ...NO_CA_ENV, XDG_CACHE_HOME: path.join(TMP, 'cache') };
  const noCacheEnv: NodeJS.ProcessEnv = { ...NO_CA_ENV, XDG_CACHE_HOME: '/dev/null' };
  const docker = (words: string[]): string[] => berth.docker(...words);
  const berthCli = (words: string[]): string[] => [BERTH_CLI, '-H', `unix://${berth.sock}`, ...words];

  const loadBefore = loadavg();
  const samples = new Map<string, Sample>();
  const sample = (key: string): Sample => {
    let s = samples.get(key);
    if (!s) samples.set(key, (s = { wall: [], cpuTotal: 0 }));
    return s;
  };
  for (let i = -WARM; i < RUNS; i++) {
    const keep = i >= 0;
    await timed([process.execPath, '-e', '0'], NO_CA_ENV, keep ? sample('node -e 0') : undefined);
    await timed([dockerBin!, '--version'], DOCKER_ENV, keep ? sample('--version/docker') : undefined);
    await timed([BERTH_CLI, '--version'], berthEnv, keep ? sample('--version/berth') : undefined);
    for (const c of COMMANDS) {
      const pair: [string, () => Promise<void>][] = [
        ['docker', () => timed(docker(c.words), DOCKER_ENV, keep ? sample(`${c.name}/docker`) : undefined)],
        ['berth', () => timed(berthCli(c.words), berthEnv, keep ? sample(`${c.name}/berth`) : undefined)],
      ];
      if (i % 2) pair.reverse();
      for (const [, run] of pair) await run();
    }
    await timed(berthCli(['ps', '-a']), noCacheEnv, keep ? sample('ps -a/berth, no code cache') : undefined);
    if (keep && (i + 1) % 5 === 0) log(`round ${i + 1}/${RUNS} (load ${loadavg()})`);
  }
  process.stdout.write(report(samples, loadBefore, loadavg()));
}

function report(samples: Map<string, Sample>, loadBefore: string, loadAfter: string): string {
  const med = (key: string): number => median(samples.get(key)?.wall ?? []);
  const cpu = (key: string): number => {
    const s = samples.get(key);
    return s && s.wall.length ? s.cpuTotal / s.wall.length : NaN;
  };
  const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—');
  const table: string[][] = [];
  const misses: string[] = [];
  const rows = [{ name: '--version (no daemon)', key: '--version' }, ...COMMANDS.map((c) => ({ name: c.name, key: c.name }))];
  for (const { name, key } of rows) {
    const d = med(`${key}/docker`);
    const b = med(`${key}/berth`);
    const isTarget = key !== '--version';
    if (isTarget && !(b - d <= TARGET_MS)) misses.push(name);
    table.push([name, ms(d), ms(b), `${b - d >= 0 ? '+' : ''}${ms(b - d)}`, ratio(b / d), ms(p90(samples.get(`${key}/berth`)?.wall ?? [])), ms(cpu(`${key}/docker`)), ms(cpu(`${key}/berth`)), isTarget ? verdict(b - d, (v) => v <= TARGET_MS) : '']);
  }
  const nc = 'ps -a/berth, no code cache';
  table.push(['ps -a, berth without its code cache', '', ms(med(nc)), `${ms(med(nc) - med('ps -a/docker'))}`, ratio(med(nc) / med('ps -a/docker')), ms(p90(samples.get(nc)?.wall ?? [])), '', ms(cpu(nc)), '']);
  table.push(['node -e 0 (Node start-up alone)', '', ms(med('node -e 0')), '', '', ms(p90(samples.get('node -e 0')?.wall ?? [])), '', ms(cpu('node -e 0')), '']);
  return [
    '',
    `berth CLI vs docker CLI against one berthd — ${reportTime()} UTC — ${RUNS} rounds, medians in ms (CPU: mean user+system ms of the CLI process)`,
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}, node ${process.version}; load average ${loadBefore} before, ${loadAfter} after${NICE === undefined ? '' : `; the bench and berthd at autogroup nice ${NICE}`}`,
    '',
    ...markdownTable(['command', 'docker', 'berth', 'berth − docker', 'berth ÷ docker', 'berth p90', 'docker CPU', 'berth CPU', `≤ docker + ${TARGET_MS} ms`], table),
    '',
    `target: every berth command within ${TARGET_MS} ms of docker's: ${misses.length ? `NOT MET (${misses.join(', ')})` : 'MET'}`,
    ...skipped.map((s) => `skipped: ${s}`),
  ].join('\n') + '\n';
}

runBench(main);
