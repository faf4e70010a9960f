// Peer tools for interop tests: a real dockerd (Debian's docker.io) on its own socket, data root,
// exec root and bridge (never touching docker0 or iptables), started by the test and stopped by pid; and
// checks for peer binaries. The peer docker-registry lives in test/registry/registry.ts.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createPeerBridge, type PeerBridge } from './peer-bridge.js';
import { busyboxTar, mountsUnder, pidAlive, pidsMentioning, run, sleep, waitFor, type RunOpts, type RunResult } from './harness.js';

const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin:/usr/local/bin`;

/** The path of an executable on PATH (plus the sbin directories), or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of PATH.split(':')) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Why the peers cannot run here, or undefined when they can. */
export function peersMissing(bins: string[] = ['dockerd', 'docker', 'docker-registry', 'htpasswd']): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const missing = bins.filter((b) => !which(b));
  return missing.length ? `not installed: ${missing.join(', ')} (scripts/install.sh installs them)` : undefined;
}

/** SIGTERM, then SIGKILL when it outlives the grace period. */
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

export interface DockerdOpts {
  /** Import busybox:latest (the harness's busybox rootfs) once it is up. */
  busybox?: boolean;
}

export class Dockerd {
  readonly root = fs.mkdtempSync('/tmp/bdk-');
  readonly sock = path.join(this.root, 'docker.sock');
  private readonly execRoot = path.join(this.root, 'exec');
  private readonly logFile = path.join(this.root, 'dockerd.log');
  private proc?: { pid: number };
  private bridge?: PeerBridge;

  get host(): string {
    return `unix://${this.sock}`;
  }

  /** The name of the bridge this dockerd uses (created by start, deleted by stop). */
  get bridgeName(): string | undefined {
    return this.bridge?.name;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** `extraArgs`: more dockerd flags (e.g. --userns-remap). */
  async start(extraArgs: string[] = []): Promise<void> {
    const bin = which('dockerd');
    if (!bin) throw new Error('dockerd is not installed (Debian package docker.io)');
    // a bridge of its own: --bridge=none would delete the host's docker0, no --bridge would create it
    this.bridge = createPeerBridge();
    const argv = [
      '-H', this.host, '--data-root', path.join(this.root, 'data'), '--exec-root', this.execRoot, '--pidfile', path.join(this.root, 'dockerd.pid'),
      ...this.bridge.dockerdArgs, '--storage-driver', 'overlay2', ...extraArgs,
    ];
    const fd = fs.openSync(this.logFile, 'a');
    const proc = spawn(bin, argv, { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, PATH } });
    fs.closeSync(fd);
    proc.unref();
    const pid = proc.pid!;
    this.proc = { pid };
    // waitFor retries on a throw, so a dead dockerd ends the wait as a value and is reported here
    await waitFor(async () => !pidAlive(pid) || (await ping(this.sock)), `dockerd on ${this.sock}`, 60_000, 100);
    if (!pidAlive(pid)) throw new Error(`dockerd exited during start-up:\n${this.log().split('\n').slice(-15).join('\n')}`);
  }

  /** The real docker CLI against this dockerd, with its own config dir unless one is given. */
  docker(args: string[], opts: RunOpts = {}): Promise<RunResult> {
    return run('docker', ['-H', this.host, ...args], { timeoutMs: 120_000, ...opts, env: { DOCKER_CONFIG: path.join(this.root, 'cli'), DOCKER_CLI_HINTS: 'false', ...opts.env } });
  }

  async dockerOk(args: string[], opts: RunOpts = {}): Promise<string> {
    const r = await this.docker(args, opts);
    if (r.code !== 0) throw new Error(`docker (dockerd) ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Gives dockerd an image with no registry: `docker import` of the harness's busybox rootfs. */
  async importBusybox(ref = 'busybox:latest'): Promise<string> {
    return (await this.dockerOk(['import', '-', ref], { input: busyboxTar() })).trim();
  }

  /** Removes its containers, stops dockerd by pid, then whatever of ours survived (its containerd and shims), unmounts, removes the root. */
  async stop(): Promise<void> {
    if (!fs.existsSync(this.root)) return;
    if (this.proc && pidAlive(this.proc.pid)) {
      try {
        const ids = (await this.docker(['ps', '-aq'], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
        if (ids.length) await this.docker(['rm', '-f', ...ids], { timeoutMs: 30_000 });
      } catch {
        /* the daemon may be gone already */
      }
      await killPid(this.proc.pid, 20_000);
    }
    // containerd and the shims name the exec root (under our root) on their command lines
    for (const pid of pidsMentioning(this.root)) await killPid(pid, 5000);
    for (const mp of mountsUnder(this.root).sort((a, b) => b.length - a.length)) {
      try {
        execFileSync('umount', ['-l', mp], { stdio: 'ignore', env: { ...process.env, PATH } });
      } catch {
        /* gone */
      }
    }
    this.bridge?.remove();
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Starts a dockerd (throws with its log when it cannot start); the caller stops it in `after`. */
export async function startDockerd(opts: DockerdOpts = {}): Promise<Dockerd> {
  const d = new Dockerd();
  try {
    await d.start();
    if (opts.busybox) await d.importBusybox();
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}
