#!/usr/bin/env node
// Berth's benchmark: Berth side by side with the bare runtime ("the floor"), dockerd and podman.
// Speed and memory are measured here, never asserted in tests. Run as root:
//
//   npm run bench                 # build, then the full run (about 3.5 minutes on 2 cores)
//   node dist/bench/run.js --quick
//
// Everything it starts lives under one temporary directory (daemons with their own sockets, data
// roots, exec roots and pidfiles; podman with its own --root/--runroot/--tmpdir) and is removed at
// the end: containers by id, daemons by pid, mounts by path, cgroup parents by path.
// See docs/performance.md for what each scenario measures.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

// ---------------------------------------------------------------- options

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'no-podman': { type: 'boolean', default: false },
    'no-dockerd': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`Usage: node dist/bench/run.js [--quick] [--runs N] [--no-podman] [--no-dockerd] [--no-install] [--json FILE] [--keep]

  --quick       fewer iterations (about 1.5 minutes)
  --runs N      sequential iterations per contestant (default 20, quick 5)
  --no-podman   skip podman;  --no-dockerd  skip dockerd
  --no-install  do not apt-get install missing peers (they are skipped instead)
  --json FILE   also write every sample as JSON
  --keep        leave the temp dir and the daemons' logs (daemons and containers are still removed)
`);
  process.exit(0);
}
const QUICK = opts.quick!;
const N_SEQ = opts.runs ? Number(opts.runs) : QUICK ? 5 : 20;
const WARM = QUICK ? 1 : 2;
const N_PAR = 20; // containers in the parallel scenario
const PAR_ROUNDS = QUICK ? 1 : 3;
const N_EXEC = QUICK ? 5 : 20;
const N_PS_CTRS = QUICK ? 100 : 500;
const N_PS = QUICK ? 3 : 10;
const N_RSS_CTRS = QUICK ? 10 : 50;
const N_CLI = QUICK ? 5 : 20;

import {
  BERTHD,
  BERTH_CLI,
  BERTH_ENV,
  writeBusyboxTar,
  ratio,
  DOCKER_ENV,
  NO_CA_ENV,
  Peer,
  TAG,
  TMP,
  Timed,
  addRow,
  api,
  apiJson,
  cgroupParents,
  dockerBin,
  ensurePackages,
  log,
  markdownTable,
  median,
  mustTime,
  notes,
  p90,
  podmanContainers,
  podmanOnOwnStorage,
  pool,
  processTree,
  processesMatching,
  reportTime,
  rowMedian,
  rows,
  rssMb,
  runBench,
  setKeep,
  sh,
  skipped,
  sleep,
  startBerth,
  startDockerd,
  timeCmd,
  which,
} from './lib.js';
interface Podman {
  base: string[];
  run: string[]; // flags for run/create
  image: string;
}
async function setupPodman(): Promise<Podman> {
  const image = 'localhost/busybox:latest';
  const base = await podmanOnOwnStorage([image]);
  if (!base) throw new Error('podman is not installed');
  const cg = `/${TAG}-podman`;
  cgroupParents.push(cg);
  // This VM's root has no CAP_SYS_RESOURCE: podman's default rlimits (raised to the maximum) fail
  // in crun, so ask for modest ones. The run itself is `true`: they don't matter.
  const run = ['--pull', 'never', '--network', 'none', '--cgroup-parent', cg, '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
  await mustTime([...base, 'run', '--rm', ...run, image, 'true']);
  return { base, run, image };
}

// The floor: mount an overlay of the prepared rootfs, `<runtime> run` the prepared bundle, unmount.
function setupFloor(): { script: string; phases: string; bundle: string; berthBundle: string } {
  const dir = path.join(TMP, 'floor');
  const lower = path.join(dir, 'lower');
  mkdirSync(lower, { recursive: true });
  sh('tar', ['-xf', path.join(TMP, 'busybox.tar'), '-C', lower]);
  const bundle = path.join(dir, 'bundle');
  mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  // `crun spec` writes a minimal config.json (the same as `runc spec`) into its cwd
  const r = spawnSync('crun', ['spec'], { cwd: bundle, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`crun spec failed: ${r.stderr}`);
  const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['true'];
  spec.root = { path: 'rootfs', readonly: false };
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  const berthBundle = path.join(dir, 'berth-bundle');
  mkdirSync(path.join(berthBundle, 'rootfs'), { recursive: true });
  const script = path.join(dir, 'run.sh');
  writeFileSync(
    script,
    `#!/bin/sh
# usage: run.sh <runtime> <container-id> <bundle>
set -e
rt=$1; id=$2; B=$3; d=${dir}/c-$id
mkdir -p $d/upper $d/work
mount -t overlay overlay -o lowerdir=${lower},upperdir=$d/upper,workdir=$d/work $B/rootfs
$rt run --bundle $B $id >/dev/null
umount $B/rootfs
rm -rf $d
`,
    { mode: 0o755 },
  );
  // The same, phase by phase (date +%s%N forks: ~1 ms resolution); the exit is found by polling `state`.
  const phases = path.join(dir, 'phases.sh');
  writeFileSync(
    phases,
    `#!/bin/sh
# usage: phases.sh <runtime> <container-id> <bundle>; prints "<phase> <ns>" lines, each less the
# cost of one timestamp (c: a fork of date(1), measured first)
set -e
rt=$1; id=$2; B=$3; d=${dir}/p-$id
c0=$(date +%s%N)
c1=$(date +%s%N)
t0=$(date +%s%N)
mkdir -p $d/upper $d/work
mount -t overlay overlay -o lowerdir=${lower},upperdir=$d/upper,workdir=$d/work $B/rootfs
t1=$(date +%s%N)
$rt create --bundle $B $id >/dev/null
t2=$(date +%s%N)
$rt start $id
t3=$(date +%s%N)
until $rt state $id | grep -q '"stopped"'; do :; done
t4=$(date +%s%N)
$rt delete $id
t5=$(date +%s%N)
umount $B/rootfs
rm -rf $d
t6=$(date +%s%N)
c=$((c1-c0))
echo "mount $((t1-t0-c))"
echo "create $((t2-t1-c))"
echo "start $((t3-t2-c))"
echo "exited $((t4-t3-c))"
echo "delete $((t5-t4-c))"
echo "umount $((t6-t5-c))"
echo "timestamp $c"
`,
    { mode: 0o755 },
  );
  return { script, phases, bundle, berthBundle };
}

// ---------------------------------------------------------------- daemon-log timeline (Berth)

interface LogEvent {
  t: number;
  msg: string;
}
function readDebugLog(file: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^time="([^"]+)" level=debug msg=(".*")$/.exec(line);
    if (!m) continue;
    try {
      out.push({ t: Date.parse(m[1]), msg: JSON.parse(m[2]) as string });
    } catch {
      /* odd line */
    }
  }
  return out;
}

interface Timeline {
  requests: Map<string, { start: number[]; end: number[]; dur: number[] }>;
  phases: Map<string, number[]>;
  total: number[];
}
/** Lines the daemon logged inside each sample's [t0, t1] window, relative to the sample's spawn. */
function timeline(events: LogEvent[], samples: Timed[]): Timeline {
  const requests: Timeline['requests'] = new Map();
  const phases: Timeline['phases'] = new Map();
  for (const s of samples) {
    for (const e of events) {
      if (e.t < s.t0 || e.t > s.t1 + 2) continue;
      const rq = /^([A-Z]+) (\S+?) (\d+)ms$/.exec(e.msg);
      if (rq) {
        const key = `${rq[1]} ${rq[2].replace(/^\/v1\.\d+/, '').replace(/[0-9a-f]{64}/, '{id}').replace(/\?.*$/, (q) => (q.includes('condition=') ? `?${/condition=\w+/.exec(q)![0]}` : ''))}`;
        const dur = Number(rq[3]);
        if (!requests.has(key)) requests.set(key, { start: [], end: [], dur: [] });
        const r = requests.get(key)!;
        r.end.push(e.t - s.t0);
        r.start.push(e.t - dur - s.t0);
        r.dur.push(dur);
        continue;
      }
      const st = /^start [0-9a-f]+: (.*)$/.exec(e.msg);
      if (st) {
        let prev = 0;
        for (const part of st[1].split(' ')) {
          const pm = /^(\w+)=([\d.]+)ms$/.exec(part);
          if (!pm) continue;
          const at = Number(pm[2]);
          if (!phases.has(pm[1])) phases.set(pm[1], []);
          phases.get(pm[1])!.push(at - prev);
          prev = at;
        }
      }
    }
  }
  return { requests, phases, total: samples.map((s) => s.ms) };
}
function formatTimeline(title: string, tl: Timeline): string {
  const lines = [`${title} — median over ${tl.total.length} runs (ms from the CLI's spawn; the daemon logs with 1 ms resolution)`];
  const reqs = [...tl.requests.entries()].sort((a, b) => median(a[1].start) - median(b[1].start));
  for (const [k, v] of reqs) {
    lines.push(`  ${median(v.start).toFixed(0).padStart(5)} → ${median(v.end).toFixed(0).padStart(5)}   ${k}  (${median(v.dur).toFixed(0)} ms)`);
  }
  lines.push(`  ${median(tl.total).toFixed(0).padStart(5)}           CLI exited`);
  if (tl.phases.size) {
    const names: Record<string, string> = { mount: 'overlay mount', bundle: 'etc files + config.json', create: 'conmon + runtime create', start: 'runtime start', saved: 'state saved' };
    lines.push(`  inside POST /containers/{id}/start: ${[...tl.phases.entries()].map(([k, v]) => `${names[k] ?? k} ${median(v).toFixed(1)}`).join(', ')}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- scenarios

/** Sequential, round-robin over contestants (so drift in machine load hits all alike). */
async function sequential(section: string, contestants: { name: string; argv: (i: number) => string[]; env?: NodeJS.ProcessEnv }[], n: number, warm: number): Promise<Map<string, Timed[]>> {
  const res = new Map<string, Timed[]>();
  const dead = new Set<string>();
  for (const c of contestants) res.set(c.name, []);
  for (let i = -warm; i < n; i++) {
    for (const c of contestants) {
      if (dead.has(c.name)) continue;
      const r = await timeCmd(c.argv(i + warm), c.env);
      if (r.code !== 0) {
        dead.add(c.name);
        skipped.push(`${section} / ${c.name}: failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ').slice(0, 300)}`);
        log(`${c.name} failed: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
        continue;
      }
      if (i >= 0) res.get(c.name)!.push(r);
    }
  }
  for (const c of contestants) if (!dead.has(c.name)) addRow(section, c.name, res.get(c.name)!.map((r) => r.ms));
  return res;
}

async function parallelWall(argv: string[], env: NodeJS.ProcessEnv, n: number): Promise<number> {
  const h0 = process.hrtime.bigint();
  const rs = await Promise.all(Array.from({ length: n }, () => timeCmd(argv, env)));
  const ms = Number(process.hrtime.bigint() - h0) / 1e6;
  const bad = rs.filter((r) => r.code !== 0);
  if (bad.length) throw new Error(`${bad.length}/${n} parallel runs failed: ${bad[0].stderr.trim().slice(0, 300)}`);
  return ms;
}

async function createMany(peer: Peer, n: number, cmd: string[], startThem: boolean): Promise<string[]> {
  const ids = await pool(Array.from({ length: n }, (_, i) => i), 4, async () => {
    const c = await apiJson<{ Id: string }>(peer.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
    peer.daemon.containers.add(c.Id);
    if (startThem) await apiJson(peer.sock, 'POST', `/containers/${c.Id}/start`);
    return c.Id;
  });
  return ids;
}
async function removeMany(peer: Peer, ids: string[]): Promise<void> {
  await pool(ids, 4, async (id) => {
    await api(peer.sock, 'DELETE', `/containers/${id}?force=1`, undefined, 60_000);
    peer.daemon.containers.delete(id);
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the bench runs containers: run it as root');
  if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is missing: build first (npm run build)`);
  const want = ['crun', 'runc', 'conmon', 'busybox-static', 'golang-github-containers-common', 'attr'];
  if (!opts['no-dockerd']) want.push('docker.io');
  if (!opts['no-podman']) want.push('podman');
  ensurePackages(want, opts['no-install']!);
  setKeep(opts.keep!);
  if (!dockerBin) throw new Error('no docker CLI on PATH (Debian: apt-get install docker.io)');
  mkdirSync(DOCKER_ENV.DOCKER_CONFIG!, { recursive: true });
  const started0 = Date.now();
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}`;
  const versions: string[] = [
    `node ${process.version}`,
    `docker CLI ${sh(dockerBin, ['--version']).trim()}`,
    sh('crun', ['--version']).split('\n')[0],
    sh('runc', ['--version']).split('\n')[0],
    `conmon ${sh('conmon', ['--version']).split('\n')[0]}`,
  ];
  log(`temp dir ${TMP}; ${QUICK ? 'quick' : 'full'} run: ${N_SEQ} sequential runs per contestant`);

  // the same busybox rootfs for everyone: Berth's own default image tar
  await writeBusyboxTar();

  // ---- contestants
  log('starting berthd (crun) and berthd (runc)');
  const berth = await startBerth('berth', 'crun');
  const berthRunc = await startBerth('brunc', 'runc');
  const idle: { name: string; mb: number }[] = [];
  await sleep(1500);
  idle.push({ name: 'berthd', mb: rssMb(processTree(berth.daemon.proc.pid!)) });

  let dockerd: Peer | null = null;
  if (!opts['no-dockerd']) {
    try {
      if (!which('dockerd')) throw new Error('dockerd is not installed (apt-get install docker.io)');
      log('starting dockerd');
      dockerd = await startDockerd();
      versions.push(`dockerd ${sh('dockerd', ['--version']).trim()}`);
      await sleep(1500);
      idle.push({ name: 'dockerd + containerd', mb: rssMb(processTree(dockerd.daemon.proc.pid!)) });
    } catch (err) {
      skipped.push(`dockerd: could not start: ${(err as Error).message.split('\n')[0]}`);
      log(`dockerd skipped: ${(err as Error).message}`);
      dockerd = null;
    }
  } else skipped.push('dockerd: --no-dockerd');

  let podman: Podman | null = null;
  if (!opts['no-podman']) {
    try {
      log('setting up podman');
      podman = await setupPodman();
      versions.push(sh(podman.base[0], ['--version']).trim());
    } catch (err) {
      skipped.push(`podman: could not run: ${(err as Error).message.split('\n')[0]}`);
      log(`podman skipped: ${(err as Error).message}`);
      podman = null;
    }
  } else skipped.push('podman: --no-podman');

  const floor = setupFloor();

  // Containers for exec (started before the sequential runs so Berth's real config.json can be
  // replayed on the floor too).
  log('starting exec targets');
  const execTargets: { name: string; argv: () => string[]; env: NodeJS.ProcessEnv }[] = [];
  const execIds = new Map<Peer, string>();
  let podmanExecId = '';
  const berthExecId = (await createMany(berth, 1, ['sleep', '100000'], true))[0];
  execTargets.push({ name: 'Berth (docker CLI)', argv: () => berth.docker('exec', berthExecId, 'true'), env: DOCKER_ENV });
  execTargets.push({ name: 'Berth (berth CLI)', argv: () => [BERTH_CLI, '-H', `unix://${berth.sock}`, 'exec', berthExecId, 'true'], env: BERTH_ENV });
  if (dockerd) {
    const id = (await createMany(dockerd, 1, ['sleep', '100000'], true))[0];
    execIds.set(dockerd, id);
    execTargets.push({ name: 'dockerd', argv: () => dockerd!.docker('exec', id, 'true'), env: DOCKER_ENV });
  }
  if (podman) {
    try {
      const r = await mustTime([...podman.base, 'run', '-d', ...podman.run, podman.image, 'sleep', '100000']);
      const id = r.stdout.trim();
      podmanContainers.add(id);
      podmanExecId = id;
      execTargets.push({ name: 'podman', argv: () => [...podman!.base, 'exec', id, 'true'], env: process.env });
    } catch (err) {
      skipped.push(`podman exec: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  // Berth's own config.json for that container, replayed with `crun run` on the floor's overlay:
  // how much the full Docker-compatible spec (seccomp, caps, mounts, cgroups) costs the runtime.
  let berthSpecFloor = false;
  try {
    const cfg = path.join(TMP, 'bx', 'bundles', berthExecId, 'config.json');
    const spec = JSON.parse(readFileSync(cfg, 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['true'];
    spec.root = { path: 'rootfs', readonly: false };
    const cg = `/${TAG}-floor`;
    cgroupParents.push(cg);
    if (spec.linux) spec.linux.cgroupsPath = `${cg}/CID`;
    delete spec.hooks;
    writeFileSync(path.join(floor.berthBundle, 'config.tmpl.json'), JSON.stringify(spec));
    berthSpecFloor = true;
  } catch (err) {
    notes.push(`Berth's config.json could not be replayed on the floor: ${(err as Error).message}`);
  }
  const berthSpecFor = (id: string): void => {
    // each run gets its own cgroup path
    const tmpl = readFileSync(path.join(floor.berthBundle, 'config.tmpl.json'), 'utf8');
    writeFileSync(path.join(floor.berthBundle, 'config.json'), tmpl.replace('/CID"', `/${id}"`));
  };
  const berthSpecArgv = (i: number): string[] => {
    berthSpecFor(`fb${i}`);
    return ['/bin/sh', floor.script, 'crun', `fb${i}`, floor.berthBundle];
  };

  // ---- 1. sequential run --rm
  log(`1/6 sequential \`run --rm --network none busybox true\` ×${N_SEQ}`);
  const S1 = 'run --rm (sequential)';
  const runArgs = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
  const contestants: { name: string; argv: (i: number) => string[]; env?: NodeJS.ProcessEnv }[] = [
    { name: 'floor: crun run', argv: (i) => ['/bin/sh', floor.script, 'crun', `fc${i}`, floor.bundle] },
    { name: 'floor: runc run', argv: (i) => ['/bin/sh', floor.script, 'runc', `fr${i}`, floor.bundle] },
  ];
  if (berthSpecFloor) contestants.push({ name: "floor: crun run, Berth's config.json", argv: (i) => berthSpecArgv(i) });
  contestants.push(
    { name: 'Berth (docker CLI)', argv: () => berth.docker(...runArgs), env: DOCKER_ENV },
    { name: 'Berth (berth CLI)', argv: () => [BERTH_CLI, '-H', `unix://${berth.sock}`, ...runArgs], env: BERTH_ENV },
    { name: 'Berth --runtime runc (docker CLI)', argv: () => berthRunc.docker(...runArgs), env: DOCKER_ENV },
  );
  if (dockerd) contestants.push({ name: 'dockerd (docker CLI)', argv: () => dockerd!.docker(...runArgs), env: DOCKER_ENV });
  if (podman) contestants.push({ name: 'podman', argv: () => [...podman!.base, 'run', '--rm', ...podman!.run, podman!.image, 'true'] });
  const seq = await sequential(S1, contestants, N_SEQ, WARM);

  const berthLog = readDebugLog(path.join(TMP, 'berth', 'berthd.log'));
  const timelines: string[] = [];
  const viaDocker = seq.get('Berth (docker CLI)');
  if (viaDocker?.length) timelines.push(formatTimeline('Berth via the docker CLI: `docker run --rm --network none busybox true`', timeline(berthLog, viaDocker)));
  const viaBerth = seq.get('Berth (berth CLI)');
  if (viaBerth?.length) timelines.push(formatTimeline('Berth via the berth CLI: `berth run --rm --network none busybox true`', timeline(berthLog, viaBerth)));

  // the floor, phase by phase
  const floorPhases = async (label: string, runtime: string, bundle: string, prep?: (id: string) => void): Promise<void> => {
    const acc = new Map<string, number[]>();
    const totals: number[] = [];
    for (let i = 0; i < Math.min(N_SEQ, 10); i++) {
      const id = `${runtime[0]}p${label.length}x${i}`;
      prep?.(id);
      const r = await timeCmd(['/bin/sh', floor.phases, runtime, id, bundle]);
      if (r.code !== 0) {
        notes.push(`floor phases (${label}) failed: ${r.stderr.trim().slice(0, 200)}`);
        return;
      }
      totals.push(r.ms);
      for (const l of r.stdout.trim().split('\n')) {
        const [k, v] = l.split(' ');
        if (!acc.has(k)) acc.set(k, []);
        acc.get(k)!.push(Number(v) / 1e6);
      }
    }
    timelines.push(`The floor phase by phase, ${label} — median over ${totals.length} runs: ${[...acc.entries()].map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')} (ms; "timestamp" is the cost of one fork of date(1), already taken off each phase; "exited" polls the runtime's state command, itself a fork)`);
  };
  await floorPhases('crun, minimal config.json (`crun spec`)', 'crun', floor.bundle);
  if (berthSpecFloor) await floorPhases("crun, Berth's config.json", 'crun', floor.berthBundle, berthSpecFor);
  await floorPhases('runc, minimal config.json', 'runc', floor.bundle);

  // ---- 2. parallel
  log(`2/6 ${N_PAR} runs in parallel ×${PAR_ROUNDS}`);
  const S2 = `${N_PAR} × run --rm in parallel (wall)`;
  const parPeers: { name: string; argv: string[]; env: NodeJS.ProcessEnv }[] = [{ name: 'Berth (docker CLI)', argv: berth.docker(...runArgs), env: DOCKER_ENV }];
  if (dockerd) parPeers.push({ name: 'dockerd (docker CLI)', argv: dockerd.docker(...runArgs), env: DOCKER_ENV });
  const par = new Map<string, number[]>(parPeers.map((p) => [p.name, []]));
  for (let round = 0; round < PAR_ROUNDS; round++) {
    for (const p of parPeers) {
      try {
        par.get(p.name)!.push(await parallelWall(p.argv, p.env, N_PAR));
      } catch (err) {
        skipped.push(`${S2} / ${p.name}: ${(err as Error).message.split('\n')[0]}`);
        par.delete(p.name);
        parPeers.splice(parPeers.indexOf(p), 1);
      }
    }
  }
  for (const [name, xs] of par) addRow(S2, name, xs);

  // ---- 3. exec
  log(`3/6 exec ×${N_EXEC}`);
  const S3 = 'exec <ctr> true';
  await sequential(S3, execTargets, N_EXEC, WARM);
  execIds.set(berth, berthExecId);
  for (const [p, id] of execIds) await removeMany(p, [id]);
  if (podman && podmanExecId) {
    spawnSync(podman.base[0], [...podman.base.slice(1), 'rm', '-f', '-t', '0', podmanExecId], { stdio: 'ignore' });
    podmanContainers.delete(podmanExecId);
  }

  // ---- 4. ps -a with many containers
  log(`4/6 ps -a with ${N_PS_CTRS} created containers`);
  const S4 = `ps -a, ${N_PS_CTRS} containers`;
  const psPeers: Peer[] = [berth, ...(dockerd ? [dockerd] : [])];
  const psIds = new Map<Peer, string[]>();
  for (const p of psPeers) {
    const t = Date.now();
    psIds.set(p, await createMany(p, N_PS_CTRS, ['true'], false));
    log(`   ${p.name}: ${N_PS_CTRS} containers created in ${((Date.now() - t) / 1000).toFixed(1)} s (API, 4 at a time)`);
  }
  await sequential(
    S4,
    [
      { name: 'Berth (docker CLI)', argv: () => berth.docker('ps', '-a'), env: DOCKER_ENV },
      { name: 'Berth (berth CLI)', argv: () => [BERTH_CLI, '-H', `unix://${berth.sock}`, 'ps', '-a'], env: BERTH_ENV },
      ...(dockerd ? [{ name: 'dockerd (docker CLI)', argv: () => dockerd!.docker('ps', '-a'), env: DOCKER_ENV }] : []),
    ],
    N_PS,
    1,
  );
  for (const p of psPeers) await removeMany(p, psIds.get(p)!);

  // ---- 5. memory
  log(`5/6 daemon RSS idle and with ${N_RSS_CTRS} running containers`);
  const S5 = 'daemon RSS';
  const mem: { name: string; idle: number; daemon: number; monitors: number; nMon: number; after?: number }[] = [];
  for (const p of psPeers) {
    const ids = await createMany(p, N_RSS_CTRS, ['sleep', '1000'], true);
    await sleep(2000);
    const daemonPids = processTree(p.daemon.proc.pid!);
    const isBerth = p === berth;
    // monitors are per-container; Berth's conmons and dockerd's shims both name our temp dir
    const monitors = processesMatching(isBerth ? /^conmon$/ : /^containerd-shim/, path.join(TMP, isBerth ? 'bx/' : 'dockerd/')).filter((x) => !daemonPids.includes(x));
    mem.push({
      name: isBerth ? 'berthd' : 'dockerd + containerd',
      idle: idle.find((x) => x.name === (isBerth ? 'berthd' : 'dockerd + containerd'))?.mb ?? NaN,
      daemon: rssMb(daemonPids),
      monitors: rssMb(monitors),
      nMon: monitors.length,
    });
    await removeMany(p, ids);
    await sleep(1000);
    mem[mem.length - 1].after = rssMb(processTree(p.daemon.proc.pid!));
  }
  for (const m of mem) {
    addRow(S5, `${m.name}, idle`, [m.idle], 'MB');
    addRow(S5, `${m.name}, ${N_RSS_CTRS} running`, [m.daemon], 'MB');
    addRow(S5, `${m.name}: its ${m.nMon} monitors (${m.name === 'berthd' ? 'conmon' : 'containerd-shim'})`, [m.monitors], 'MB');
    addRow(S5, `${m.name}, daemon + monitors`, [m.daemon + m.monitors], 'MB');
    addRow(S5, `${m.name}, idle again (after removing them)`, [m.after ?? NaN], 'MB');
  }

  // ---- 6. CLI overhead against the same berthd
  log(`6/6 CLI overhead ×${N_CLI}`);
  const S6 = 'CLI against the same berthd';
  await sequential(
    S6,
    [
      { name: 'node -e 0 (Node.js start-up alone)', argv: () => [process.execPath, '-e', '0'], env: BERTH_ENV },
      { name: 'docker --version (no daemon)', argv: () => [dockerBin!, '--version'], env: DOCKER_ENV },
      { name: 'berth --version (no daemon)', argv: () => [BERTH_CLI, '--version'], env: BERTH_ENV },
      { name: 'docker version', argv: () => berth.docker('version'), env: DOCKER_ENV },
      { name: 'berth version', argv: () => [BERTH_CLI, '-H', `unix://${berth.sock}`, 'version'], env: BERTH_ENV },
      { name: 'docker ps', argv: () => berth.docker('ps'), env: DOCKER_ENV },
      { name: 'berth ps', argv: () => [BERTH_CLI, '-H', `unix://${berth.sock}`, 'ps'], env: BERTH_ENV },
      // The berth rows run the bin as a user does, through its shebang (`env -S -u
      // NODE_EXTRA_CA_CERTS node`): Node would otherwise parse every certificate that variable
      // names at start-up (this VM sets it to the whole system bundle: about 40 ms).
      ...(process.env.NODE_EXTRA_CA_CERTS ? [{ name: 'node -e 0, NODE_EXTRA_CA_CERTS unset', argv: () => [process.execPath, '-e', '0'], env: NO_CA_ENV }] : []),
    ],
    N_CLI,
    WARM,
  );

  // ---------------------------------------------------------------- report
  const floorMs = rowMedian(S1, 'floor: crun run');
  const dockerdOf = (section: string): number => rowMedian(section, 'dockerd (docker CLI)') || rowMedian(section, 'dockerd');
  const fmt = (x: number, unit: string): string => (Number.isFinite(x) ? `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} ${unit}` : '—');

  interface Target {
    section: string;
    name: string;
    text: string;
    met: boolean | null;
  }
  const targets: Target[] = [];
  const bd = rowMedian(S1, 'Berth (docker CLI)');
  targets.push({ section: S1, name: 'Berth (docker CLI)', text: `≤ 2× floor (${ratio(bd / floorMs)})`, met: Number.isFinite(bd / floorMs) ? bd / floorMs <= 2 : null });
  const dd = dockerdOf(S1);
  targets.push({ section: S1, name: 'Berth (docker CLI)', text: `≥ 3.5× faster than dockerd (${ratio(dd / bd)})`, met: Number.isFinite(dd / bd) ? dd / bd >= 3.5 : null });
  const pb = rowMedian(S2, 'Berth (docker CLI)');
  const pd = dockerdOf(S2);
  targets.push({ section: S2, name: 'Berth (docker CLI)', text: `≥ 4× faster than dockerd (${ratio(pd / pb)})`, met: Number.isFinite(pd / pb) ? pd / pb >= 4 : null });
  const eb = rowMedian(S3, 'Berth (docker CLI)');
  const ed = dockerdOf(S3);
  targets.push({ section: S3, name: 'Berth (docker CLI)', text: `≥ 2× faster than dockerd (${ratio(ed / eb)})`, met: Number.isFinite(ed / eb) ? ed / eb >= 2 : null });
  for (const what of ['version', 'ps']) {
    const b = rowMedian(S6, `berth ${what}`);
    const d = rowMedian(S6, `docker ${what}`);
    targets.push({ section: S6, name: `berth ${what}`, text: `≤ docker ${what} + 40 ms (${b - d >= 0 ? '+' : ''}${(b - d).toFixed(0)} ms)`, met: Number.isFinite(b - d) ? b - d <= 40 : null });
  }
  const ib = rowMedian(S5, 'berthd, idle');
  targets.push({ section: S5, name: 'berthd, idle', text: `< 80 MB`, met: Number.isFinite(ib) ? ib < 80 : null });

  const header = ['scenario', 'contestant', 'median', 'p90', '× floor', 'dockerd ÷', 'target'];
  const table: string[][] = [];
  let lastSection = '';
  for (const r of rows) {
    const m = median(r.samples);
    const isMs = r.unit === 'ms';
    const vsFloor = r.section === S1 && isMs ? ratio(m / floorMs) : '';
    const dref = r.section === S5 ? NaN : dockerdOf(r.section);
    const vsDockerd = isMs && Number.isFinite(dref) && !/^dockerd/.test(r.name) && r.section !== S6 ? ratio(dref / m) : '';
    const tg = targets.filter((t) => t.section === r.section && t.name === r.name).map((t) => `${t.text}: ${t.met === null ? 'n/a' : t.met ? 'MET' : 'NOT MET'}`);
    table.push([r.section === lastSection ? '' : r.section, r.name, fmt(m, r.unit), r.samples.length > 1 ? fmt(p90(r.samples), r.unit) : '', vsFloor, vsDockerd, tg.join('; ')]);
    lastSection = r.section;
  }
  const out: string[] = [];
  out.push('');
  out.push(`Berth benchmark — ${reportTime()} UTC — ${QUICK ? 'quick' : 'full'} run (${N_SEQ} sequential runs, ${WARM} warm-up) — ${((Date.now() - started0) / 1000).toFixed(0)} s`);
  out.push(`machine: ${machine}`);
  out.push(`versions: ${versions.join('; ')}`);
  out.push('');
  out.push(...markdownTable(header, table));
  out.push('');
  out.push('"× floor": median ÷ the crun floor (lower is better). "dockerd ÷": dockerd\'s median ÷ this one (how many times faster than dockerd).');
  out.push('');
  out.push('Targets:');
  for (const t of targets) out.push(`  [${t.met === null ? 'n/a' : t.met ? 'MET' : 'NOT MET'}] ${t.section} / ${t.name}: ${t.text}`);
  if (timelines.length) {
    out.push('');
    out.push('Where Berth\'s time goes (from berthd --log-level debug):');
    for (const t of timelines) out.push(t);
  }
  if (skipped.length || notes.length) {
    out.push('');
    for (const s of skipped) out.push(`skipped: ${s}`);
    for (const n of notes) out.push(`note: ${n}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), machine, versions, quick: QUICK, rows, targets, skipped, notes }, null, 2));
    log(`samples written to ${opts.json}`);
  }
}

runBench(main);
