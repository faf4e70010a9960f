// Peer tools for interop tests: a real dockerd (Debian's docker.io) on its own socket, data root
// and exec root, started by the test and stopped by pid; and checks for peer binaries.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { busyboxTar, mountsUnder, pidAlive, pidsMentioning, run, sleep, type RunOpts, type RunResult } from './harness.js';

const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin:/usr/local/bin`;

/** The path of a program on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', env: { ...process.env, PATH } });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

export interface Dockerd {
  sock: string;
  host: string;
  root: string;
  pid: number;
  /** The docker CLI pointed at this dockerd (its own DOCKER_CONFIG). */
  docker(args: string[], opts?: RunOpts): Promise<RunResult>;
  dockerOk(args: string[], opts?: RunOpts): Promise<string>;
  /** SIGTERM (SIGKILL after a grace period), then its containerd, mounts and directories. */
  stop(): Promise<void>;
}

function ping(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: sock, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function killPid(pid: number, graceMs: number): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Starts dockerd with no networking of its own (--bridge=none: it must never take docker0 or
 * touch iptables) and, unless `image` is false, imports busybox:latest from the host's busybox.
 * Throws with dockerd's log when it cannot start.
 */
export async function startDockerd(opts: { image?: boolean } = {}): Promise<Dockerd> {
  const bin = which('dockerd');
  if (!bin) throw new Error('dockerd is not installed (Debian package docker.io)');
  const root = fs.mkdtempSync('/tmp/bdk-');
  const sock = path.join(root, 'docker.sock');
  const execRoot = path.join(root, 'exec');
  const logFile = path.join(root, 'dockerd.log');
  const cfg = path.join(root, 'cli');
  fs.mkdirSync(cfg);
  const argv = [
    '-H', `unix://${sock}`, '--data-root', path.join(root, 'data'), '--exec-root', execRoot, '--pidfile', path.join(root, 'dockerd.pid'),
    '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--storage-driver', 'overlay2',
  ];
  const log = fs.openSync(logFile, 'a');
  const proc: ChildProcess = spawn(bin, argv, { stdio: ['ignore', log, log], detached: true, env: { ...process.env, PATH } });
  fs.closeSync(log);
  const pid = proc.pid!;
  proc.unref();

  const docker = (args: string[], o: RunOpts = {}): Promise<RunResult> =>
    run('docker', ['-H', `unix://${sock}`, ...args], { timeoutMs: 120_000, ...o, env: { DOCKER_CONFIG: cfg, DOCKER_CLI_HINTS: 'false', ...o.env } });
  const dockerOk = async (args: string[], o: RunOpts = {}): Promise<string> => {
    const r = await docker(args, o);
    if (r.code !== 0) throw new Error(`docker (dockerd) ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const stop = async (): Promise<void> => {
    if (!fs.existsSync(root)) return;
    try {
      const ids = (await docker(['ps', '-aq'], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
      if (ids.length) await docker(['rm', '-f', ...ids], { timeoutMs: 30_000 });
    } catch {
      /* the daemon may be gone already */
    }
    await killPid(pid, 20_000);
    // Its containerd and shims (they name the exec root on their command line).
    for (const p of pidsMentioning(execRoot)) await killPid(p, 5000);
    for (const mp of mountsUnder(root).sort((a, b) => b.length - a.length)) {
      try {
        execFileSync('umount', ['-l', mp], { stdio: 'ignore', env: { ...process.env, PATH } });
      } catch {
        /* gone */
      }
    }
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };

  const deadline = Date.now() + 60_000;
  while (!(await ping(sock))) {
    if (!pidAlive(pid) || Date.now() > deadline) {
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      await stop();
      throw new Error(`dockerd did not come up on ${sock}\n${tail}`);
    }
    await sleep(100);
  }
  const d: Dockerd = { sock, host: `unix://${sock}`, root, pid, docker, dockerOk, stop };
  if (opts.image !== false) {
    try {
      await dockerOk(['import', '-', 'busybox:latest'], { input: busyboxTar() });
    } catch (e) {
      await stop();
      throw e;
    }
  }
  return d;
}
