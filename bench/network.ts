#!/usr/bin/env node
// Networks and published ports, side by side: `run --rm busybox true` on the default network, with
// `-p`, and with `--network none` (Berth, dockerd with a bridge of its own, podman); TCP throughput
// and connection latency through a published port (Berth's netavark DNAT, dockerd's docker-proxy)
// against a plain loopback connection to the same server program on the host (the floor); and
// container to container over a user network. The throughput transfers run twice: from Node (its
// socket on the host's default TCP congestion control) and, when that default is not cubic, from a
// python3 sender whose socket asks for cubic (Node cannot set TCP_CONGESTION), because the gap
// between a 1500-byte bridge path and loopback depends on it (docs/performance.md). Run as root:
//
//   npm run bench:network          node dist/bench/network.js [--quick] [--runs N] [--mb N] [--alt-cc NAME]
//
// Every daemon has its own roots, socket and bridge; everything is removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DOCKER_ENV,
  TMP,
  addRow,
  cgroupParents,
  log,
  markdownTable,
  median,
  mustTime,
  notes,
  p90,
  podmanContainers,
  podmanOnOwnStorage,
  ratio,
  reportTime,
  rowMedian,
  rows,
  runBench,
  setKeep,
  skipped,
  startBerth,
  startDockerd,
  sleep,
  TAG,
  timeCmd,
  verdict,
  which,
  writeBusyboxTar,
  type Peer,
} from './lib.js';
import { freePort } from '../test/tcp.js';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    mb: { type: 'string' },
    'no-dockerd': { type: 'boolean', default: false },
    'no-podman': { type: 'boolean', default: false },
    'alt-cc': { type: 'string', default: 'cubic' },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = o.runs ? Number(o.runs) : o.quick ? 5 : 15;
const MB = o.mb ? Number(o.mb) : o.quick ? 128 : 512;
const CONNS = o.quick ? 50 : 200;
const RUN = 'run --rm';
const TPUT = 'TCP throughput into a container (MB/s)';
const CONN = 'TCP connect + one-line reply, sequential';
const FLOOR = 'floor: loopback to a host busybox nc';
const PUBLISHED = 'Berth, published port (netavark DNAT)';

/**
 * Ratios taken round by round (a published-port transfer against the floor's transfer just before
 * it; Berth's run against dockerd's in the same round): on a loaded host the medians of each drift
 * with the load over minutes, a pair measured seconds apart sees the same load.
 */
const paired = new Map<string, number[]>();
function pair(key: string, x: number): void {
  paired.set(key, [...(paired.get(key) ?? []), x]);
}

const loadAverages: string[] = [];
function noteLoad(when: string): void {
  loadAverages.push(`${when} ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}`);
}

/** Sends MB megabytes to host:port and waits for the server to close: milliseconds. */
function sendBytes(host: string, port: number, mb: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(1 << 20);
    const t0 = process.hrtime.bigint();
    const sock = net.connect(port, host);
    let sent = 0;
    const pump = (): void => {
      while (sent < mb) {
        sent++;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      sock.end();
    };
    sock.once('connect', pump);
    sock.on('data', () => undefined);
    sock.on('close', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    sock.on('error', reject);
  });
}

/** The host's default TCP congestion control: what Node's sockets (and docker-proxy's) use. */
const HOST_CC = readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
/** The second congestion control the throughput rows are measured with, or null (the host's own, no python3, or not in this kernel). */
const ALT_CC = altCc(o['alt-cc']);
function altCc(cc: string | undefined): string | null {
  if (!cc || cc === HOST_CC) return null;
  const probe = `import socket; socket.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'${cc.replace(/\W/g, '')}')`;
  if (which('python3') && spawnSync('python3', ['-c', probe]).status === 0) return cc;
  skipped.push(`throughput with senders on ${cc}: ${which('python3') ? 'not available in this kernel' : 'no python3'}`);
  return null;
}

// The same transfer as sendBytes (1 MiB writes, then wait for the server to close), from a socket
// with TCP_CONGESTION set; prints the milliseconds from connect to the server's close.
const CC_SENDER = `
import socket, sys, time
host, port, mb, cc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
buf = bytearray(1 << 20)
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
t0 = time.perf_counter()
s.connect((host, port))
for _ in range(mb):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print((time.perf_counter() - t0) * 1000)
`;

/** sendBytes from a socket on congestion control `cc`: milliseconds. */
function sendBytesCc(cc: string, host: string, port: number, mb: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', CC_SENDER, host, String(port), String(mb), cc], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`python3 sender (${cc}): ${err.trim().split('\n').at(-1) ?? code}`))));
  });
}

/** A throughput row's name when its sender used `cc`. */
const ccRow = (name: string, cc: string): string => `${name}, sender on ${cc}`;

/** One connection reading the server's line: milliseconds. */
function oneRequest(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const sock = net.connect(port, host);
    sock.on('data', () => undefined);
    sock.on('close', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    sock.on('error', reject);
  });
}

async function retry<T>(fn: () => Promise<T>, what: string): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what}: ${(last as Error).message}`);
}

interface Target {
  name: string;
  host: string;
  sinkPort: number;
  replyPort: number;
}

async function measureTargets(targets: Target[]): Promise<void> {
  for (const t of targets) await retry(() => oneRequest(t.host, t.replyPort), `${t.name} reply server`);
  const tput = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const conn = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const senders: { cc: string | null; send: (host: string, port: number) => Promise<number> }[] = [{ cc: null, send: (host, port) => sendBytes(host, port, MB) }];
  if (ALT_CC) senders.push({ cc: ALT_CC, send: (host, port) => sendBytesCc(ALT_CC, host, port, MB) });
  for (const { cc } of senders) for (const t of targets) if (cc) tput.set(ccRow(t.name, cc), []);
  for (let i = 0; i < Math.max(5, Math.min(RUNS, 9)); i++) {
    for (const { cc, send } of senders) {
      let floor = 0;
      for (const t of targets) {
        const name = cc ? ccRow(t.name, cc) : t.name;
        const mbs = (MB / (await retry(() => send(t.host, t.sinkPort), `${name} sink`))) * 1000;
        tput.get(name)!.push(mbs);
        if (t.name === FLOOR) floor = mbs;
        else pair(`${TPUT}/${name}`, mbs / floor);
      }
    }
  }
  for (let i = 0; i < CONNS; i++) for (const t of targets) conn.get(t.name)!.push(await retry(() => oneRequest(t.host, t.replyPort), t.name));
  for (const [name, samples] of tput) addRow(TPUT, name, samples, 'MB');
  for (const t of targets) addRow(CONN, t.name, conn.get(t.name)!);
}

/** The same busybox servers on the host, reached over loopback: the floor. */
function hostServers(sinkPort: number, replyPort: number): { pids: number[]; stop: () => void } {
  const procs = [
    spawn('busybox', ['nc', '-ll', '-p', String(sinkPort), '-e', 'busybox', 'dd', 'of=/dev/null', 'bs=65536'], { stdio: 'ignore', detached: true }),
    spawn('busybox', ['nc', '-ll', '-p', String(replyPort), '-e', 'echo', 'x'], { stdio: 'ignore', detached: true }),
  ];
  return { pids: procs.flatMap((p) => (p.pid ? [p.pid] : [])), stop: () => procs.forEach((p) => p.pid && process.kill(-p.pid, 'SIGKILL')) };
}

/**
 * Moves the floor's servers into a cpu cgroup of the bench's own beside the Berth container's
 * (a sibling under the same parent). On a loaded host the container's sink gets its CPU as one
 * group among its siblings; the floor's sink, left in the bench's cgroup, would get it as one task
 * among the host's, and the ratio would measure the scheduler. Returns the cgroup to remove after
 * the servers, or null when the container has no cpu cgroup to stand beside.
 */
async function besideContainer(peer: Peer, id: string, pids: number[]): Promise<string | null> {
  const pid = (await mustTime(peer.docker('inspect', '-f', '{{.State.Pid}}', id), DOCKER_ENV)).stdout.trim();
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
  const v1 = lines.find(([, controllers]) => controllers.split(',').includes('cpu'));
  const [mount, cgroup] = v1 ? [`/sys/fs/cgroup/${v1[1]}`, v1[2]] : ['/sys/fs/cgroup', lines.find(([h]) => h === '0')?.[2]];
  if (!cgroup || !existsSync(path.join(mount, cgroup))) return null;
  const dir = path.join(mount, path.dirname(cgroup), `${TAG}-floor`);
  mkdirSync(dir);
  cgroupParents.push(path.relative(mount, dir)); // the clean-up's, should the bench stop before removeCgroup
  for (const p of pids) writeFileSync(path.join(dir, 'cgroup.procs'), String(p));
  return dir;
}

/** Removes a cgroup once the killed processes in it are gone (a few seconds at most). */
async function removeCgroup(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      return rmdirSync(dir);
    } catch {
      await sleep(100);
    }
  }
  log(`could not remove ${dir}`);
}

// nc -ll forks PROG per connection with the socket as its stdin: dd drains it, echo answers.
const SERVERS = 'nc -ll -p 80 -e dd of=/dev/null bs=65536 & nc -ll -p 81 -e echo x & wait';

async function publishedServer(peer: Peer, name: string): Promise<Target & { ip: string; id: string }> {
  const [sink, reply] = [await freePort('0.0.0.0'), await freePort('0.0.0.0')];
  const id = (await mustTime(peer.docker('run', '-d', '-p', `${sink}:80`, '-p', `${reply}:81`, 'busybox', 'sh', '-c', SERVERS), DOCKER_ENV)).stdout.trim();
  peer.daemon.containers.add(id);
  const ip = (await mustTime(peer.docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', id), DOCKER_ENV)).stdout.trim();
  return { name, host: '127.0.0.1', sinkPort: sink, replyPort: reply, ip, id };
}

async function podmanBase(): Promise<string[] | null> {
  if (o['no-podman']) {
    skipped.push('podman: --no-podman');
    return null;
  }
  const base = await podmanOnOwnStorage(['localhost/busybox:latest']);
  if (!base) skipped.push('podman: not installed');
  return base;
}

async function runRows(berth: Peer, dockerd: Peer | null, podman: string[] | null): Promise<void> {
  const port = await freePort('0.0.0.0');
  const podRun = ['run', '--rm', '--pull', 'never', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
  const contestants: { name: string; argv: string[]; env?: NodeJS.ProcessEnv }[] = [
    { name: 'Berth, default network', argv: berth.docker('run', '--rm', 'busybox', 'true'), env: DOCKER_ENV },
    { name: 'Berth, --network none', argv: berth.docker('run', '--rm', '--network', 'none', 'busybox', 'true'), env: DOCKER_ENV },
    { name: `Berth, -p ${port}:80`, argv: berth.docker('run', '--rm', '-p', `${port}:80`, 'busybox', 'true'), env: DOCKER_ENV },
  ];
  if (dockerd) {
    contestants.push(
      { name: 'dockerd, default network', argv: dockerd.docker('run', '--rm', 'busybox', 'true'), env: DOCKER_ENV },
      { name: `dockerd, -p ${port + 1}:80`, argv: dockerd.docker('run', '--rm', '-p', `${port + 1}:80`, 'busybox', 'true'), env: DOCKER_ENV },
    );
  }
  if (podman) {
    contestants.push(
      { name: 'podman, default network', argv: [...podman, ...podRun, 'localhost/busybox:latest', 'true'] },
      { name: 'podman, --network none', argv: [...podman, ...podRun, '--network', 'none', 'localhost/busybox:latest', 'true'] },
    );
  }
  const samples = new Map<string, number[]>(contestants.map((c) => [c.name, []]));
  for (let i = -1; i < RUNS; i++) {
    for (const c of contestants) {
      const r = await timeCmd(c.argv, c.env);
      if (r.code !== 0) throw new Error(`${c.name}: ${r.stderr.trim().slice(0, 300)}`);
      if (i >= 0) samples.get(c.name)!.push(r.ms);
    }
    const berthMs = samples.get('Berth, default network')!.at(-1);
    const dockerdMs = samples.get('dockerd, default network')?.at(-1);
    if (i >= 0 && berthMs && dockerdMs) pair('dockerd ÷ Berth, default network', dockerdMs / berthMs);
  }
  for (const c of contestants) addRow(RUN, c.name, samples.get(c.name)!);
}

async function containerToContainer(berth: Peer): Promise<void> {
  await mustTime(berth.docker('network', 'create', 'benchnet'), DOCKER_ENV);
  const srv = (await mustTime(berth.docker('run', '-d', '--network', 'benchnet', '--name', 'sink', 'busybox', 'nc', '-ll', '-p', '80', '-e', 'dd', 'of=/dev/null', 'bs=65536'), DOCKER_ENV)).stdout.trim();
  berth.daemon.containers.add(srv);
  const cli = (await mustTime(berth.docker('run', '-d', '--network', 'benchnet', 'busybox', 'sleep', '3600'), DOCKER_ENV)).stdout.trim();
  berth.daemon.containers.add(cli);
  const mbs: number[] = [];
  // busybox nc moves a pipe in small writes (about 25 MB/s here): a smaller transfer, a longer wait.
  const mb = Math.min(MB, 128);
  for (let i = 0; i < 3; i++) {
    // busybox's time prints "real 0m 1.23s" on stderr; dd's own figure is not printed by busybox.
    const r = await mustTime(berth.docker('exec', cli, 'sh', '-c', `time sh -c 'dd if=/dev/zero bs=1048576 count=${mb} 2>/dev/null | nc sink 80'`), DOCKER_ENV, 120_000);
    const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.stderr);
    if (m) mbs.push(mb / (Number(m[1]) * 60 + Number(m[2])));
  }
  addRow(TPUT, 'Berth, container → container by name (user network)', mbs, 'MB');
  await mustTime(berth.docker('rm', '-f', srv, cli), DOCKER_ENV);
  berth.daemon.containers.delete(srv);
  berth.daemon.containers.delete(cli);
  await mustTime(berth.docker('network', 'rm', 'benchnet'), DOCKER_ENV);
}

/** What the throughput rows depend on beside the engine: the senders' congestion control and the two paths' MTUs. */
const pathNotes: string[] = [];

function report(): string {
  const out: string[] = [`# Network bench, ${reportTime()} (${RUNS} runs, ${MB} MB per transfer, ${CONNS} connections)`, '', `Load average (1/5/15 min): ${loadAverages.join('; ')}.`, ''];
  out.push(`Senders' TCP congestion control: ${HOST_CC} (the host's default)${ALT_CC ? ` and ${ALT_CC} (rows "sender on ${ALT_CC}"; docker-proxy's own socket to the container stays on ${HOST_CC})` : ''}. ${pathNotes.join('; ')}.`, '');
  const runRowsOf = rows.filter((r) => r.section === RUN);
  const none = rowMedian(RUN, 'Berth, --network none');
  const dockerdDefault = rowMedian(RUN, 'dockerd, default network');
  out.push(`## ${RUN} busybox true`, '');
  out.push(...markdownTable(['contestant', 'median', 'p90', '× Berth none', 'dockerd default ÷'], runRowsOf.map((r) => [r.name, `${median(r.samples).toFixed(0)} ms`, `${p90(r.samples).toFixed(0)} ms`, ratio(median(r.samples) / none), ratio(dockerdDefault / median(r.samples))])));
  const floorT = rowMedian(TPUT, FLOOR);
  const floorC = rowMedian(CONN, FLOOR);
  const pairedOf = (key: string): number[] | undefined => paired.get(key);
  out.push('', `## ${TPUT}`, '');
  out.push(...markdownTable(['path', 'median MB/s', '× floor', '× floor, paired (median, min–max)'], rows.filter((r) => r.section === TPUT).map((r) => {
    const pr = pairedOf(`${TPUT}/${r.name}`);
    // a row from the second sender against that sender's floor
    const floor = ALT_CC && r.name.endsWith(ccRow('', ALT_CC)) ? rowMedian(TPUT, ccRow(FLOOR, ALT_CC)) : floorT;
    return [r.name, median(r.samples).toFixed(0), ratio(median(r.samples) / floor), pr ? `${ratio(median(pr))} (${ratio(Math.min(...pr))}–${ratio(Math.max(...pr))})` : ''];
  })));
  out.push('', `## ${CONN}`, '');
  out.push(...markdownTable(['path', 'median', 'p90', 'req/s', '× floor time'], rows.filter((r) => r.section === CONN).map((r) => [r.name, `${median(r.samples).toFixed(2)} ms`, `${p90(r.samples).toFixed(2)} ms`, (1000 / median(r.samples)).toFixed(0), ratio(median(r.samples) / floorC)])));
  const berthDefault = rowMedian(RUN, 'Berth, default network');
  const published = rowMedian(TPUT, PUBLISHED);
  const vsDockerd = median(pairedOf('dockerd ÷ Berth, default network') ?? [dockerdDefault / berthDefault]);
  const vsFloor = median(pairedOf(`${TPUT}/${PUBLISHED}`) ?? [published / floorT]);
  const altRows = ALT_CC ? [ccRow(PUBLISHED, ALT_CC), ccRow(FLOOR, ALT_CC)] : [];
  const vsFloorAlt = ALT_CC ? median(pairedOf(`${TPUT}/${altRows[0]}`) ?? [NaN]) : NaN;
  out.push('', '## targets', '', 'Ratios of medians, and the median of the round-by-round ratios (paired).', '');
  out.push(...markdownTable(['target', 'ratio of medians', 'paired', ''], [
    ['default-network run within 1.3× of Berth --network none', ratio(berthDefault / none), '', verdict(berthDefault / none, (x) => x <= 1.3)],
    ['default-network run ≥ 3× faster than dockerd default network', ratio(dockerdDefault / berthDefault), ratio(vsDockerd), verdict(vsDockerd, (x) => x >= 3)],
    ['published-port throughput ≥ 0.8× loopback floor', ratio(published / floorT), ratio(vsFloor), verdict(vsFloor, (x) => x >= 0.8)],
    ...(ALT_CC ? [[`the same, both senders on ${ALT_CC}`, ratio(rowMedian(TPUT, altRows[0]) / rowMedian(TPUT, altRows[1])), ratio(vsFloorAlt), verdict(vsFloorAlt, (x) => x >= 0.8)]] : []),
  ]));
  if (skipped.length) out.push('', 'Skipped: ' + skipped.join('; '));
  if (notes.length) out.push('', 'Notes: ' + notes.join('; '));
  return out.join('\n') + '\n';
}

runBench(async () => {
  if (process.getuid?.() !== 0) throw new Error('run the bench as root');
  setKeep(!!o.keep);
  mkdirSync(DOCKER_ENV.DOCKER_CONFIG!, { recursive: true });
  await writeBusyboxTar();
  noteLoad('at the start');
  log('starting berthd');
  const berth = await startBerth('berth', 'crun');
  let dockerd: Peer | null = null;
  if (!o['no-dockerd']) {
    try {
      log('starting dockerd (a bridge of its own, no iptables: published ports via docker-proxy)');
      dockerd = await startDockerd();
    } catch (e) {
      skipped.push(`dockerd: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const podman = await podmanBase().catch((e: Error) => {
    skipped.push(`podman: ${e.message.split('\n')[0]}`);
    return null;
  });
  log('run --rm');
  await runRows(berth, dockerd, podman);
  log('published ports');
  const [sink, reply] = [await freePort('0.0.0.0'), await freePort('0.0.0.0')];
  const host = hostServers(sink, reply);
  let floorCgroup: string | null = null;
  try {
    const targets: Target[] = [{ name: FLOOR, host: '127.0.0.1', sinkPort: sink, replyPort: reply }];
    const b = await publishedServer(berth, PUBLISHED);
    floorCgroup = await besideContainer(berth, b.id, host.pids);
    pathNotes.push(floorCgroup ? `The floor's servers in a cpu cgroup beside the container's (${path.dirname(floorCgroup)})` : "The floor's servers in the bench's own cgroup (the container has no cpu cgroup)");
    const mtu = (await mustTime(berth.docker('exec', b.id, 'cat', '/sys/class/net/eth0/mtu'), DOCKER_ENV)).stdout.trim();
    pathNotes.push(`MTU: loopback ${readFileSync('/sys/class/net/lo/mtu', 'utf8').trim()}, the container's eth0 ${mtu}`);
    targets.push(b, { name: 'Berth, the container address over the bridge', host: b.ip, sinkPort: 80, replyPort: 81 });
    if (dockerd) targets.push(await publishedServer(dockerd, 'dockerd, published port (docker-proxy)'));
    await measureTargets(targets);
  } finally {
    host.stop();
    if (floorCgroup) await removeCgroup(floorCgroup);
  }
  log('container to container');
  await containerToContainer(berth);
  if (podman) podmanContainers.clear();
  noteLoad('at the end');
  process.stdout.write('\n' + report());
});
