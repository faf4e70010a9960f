// Peer daemons for side-by-side tests: a dockerd on its own socket, data root and exec root (never
// touching docker0 or iptables), and Debian's docker-registry on 127.0.0.1:<ephemeral port>,
// optionally behind htpasswd basic auth. Each is started by the test and stopped by pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { busyboxTar, mountsUnder, pidAlive, pidsMentioning, run, waitFor, type RunOpts, type RunResult } from './harness.js';

const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin:/usr/local/bin`;

/** Whether an executable is on PATH. */
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
  const missing = bins.filter((b) => !which(b));
  if (process.getuid?.() !== 0) return 'not root';
  return missing.length ? `not installed: ${missing.join(', ')} (scripts/install.sh installs them)` : undefined;
}

async function stopPid(pid: number | undefined, graceMs: number): Promise<void> {
  if (!pid || !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
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
    const req = http.request({ socketPath: sock, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
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

export class Dockerd {
  readonly root: string;
  readonly sock: string;
  private proc?: ChildProcess;

  constructor() {
    this.root = fs.mkdtempSync('/tmp/bpd-');
    this.sock = path.join(this.root, 'd.sock');
  }

  get host(): string {
    return `unix://${this.sock}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.root, 'dockerd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async start(): Promise<void> {
    const fd = fs.openSync(path.join(this.root, 'dockerd.log'), 'a');
    // --bridge=none etc.: a test dockerd must never create docker0 or touch the host's iptables
    const args = [
      '-H', this.host, '--data-root', path.join(this.root, 'root'), '--exec-root', path.join(this.root, 'exec'),
      '--pidfile', path.join(this.root, 'dockerd.pid'), '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
      '--storage-driver', 'overlay2',
    ];
    const proc = spawn('dockerd', args, { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, PATH } });
    fs.closeSync(fd);
    this.proc = proc;
    let died = false;
    proc.once('exit', () => (died = true));
    await waitFor(
      async () => {
        if (died) throw new Error(`dockerd exited during start-up:\n${this.log().slice(-2000)}`);
        return ping(this.sock);
      },
      'dockerd /_ping',
      40_000,
      100,
    );
  }

  /** The real docker CLI against this dockerd, with its own config dir unless one is given. */
  docker(args: string[], opts: RunOpts = {}): Promise<RunResult> {
    return run('docker', ['-H', this.host, ...args], { ...opts, env: { DOCKER_CONFIG: path.join(this.root, 'dcfg'), DOCKER_CLI_HINTS: 'false', ...opts.env } });
  }

  async dockerOk(args: string[], opts: RunOpts = {}): Promise<string> {
    const r = await this.docker(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Gives dockerd an image with no registry: `docker import` of the harness's busybox rootfs. */
  async importBusybox(ref = 'busybox:latest'): Promise<string> {
    return (await this.dockerOk(['import', '-', ref], { input: busyboxTar() })).trim();
  }

  /** Stops dockerd (it stops its containerd), kills by pid whatever of ours survived, unmounts, removes the root. */
  async stop(): Promise<void> {
    if (!fs.existsSync(this.root)) return;
    await stopPid(this.proc?.pid, 20_000);
    for (const pid of pidsMentioning(this.root)) await stopPid(pid, 3000);
    for (const mp of mountsUnder(this.root).sort((a, b) => b.length - a.length)) {
      try {
        execFileSync('umount', ['-l', mp], { stdio: 'ignore', env: { ...process.env, PATH } });
      } catch {
        /* gone */
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }
}

export async function startDockerd(): Promise<Dockerd> {
  const d = new Dockerd();
  try {
    await d.start();
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}

export interface RegistryOpts {
  /** Basic auth through an htpasswd file made with `htpasswd -Bbn`. */
  user?: string;
  password?: string;
}

export class Registry {
  readonly root: string;
  /** host:port */
  addr = '';
  private proc?: ChildProcess;

  constructor(readonly opts: RegistryOpts = {}) {
    this.root = fs.mkdtempSync('/tmp/bpr-');
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.root, 'registry.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async start(): Promise<void> {
    let auth = '';
    if (this.opts.user) {
      const line = execFileSync('htpasswd', ['-Bbn', this.opts.user, this.opts.password ?? ''], { encoding: 'utf8' });
      fs.writeFileSync(path.join(this.root, 'htpasswd'), line);
      auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(this.root, 'htpasswd')}\n`;
    }
    // Port 0: the registry logs the address it actually listens on.
    const config =
      `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(this.root, 'data')}\n` +
      `  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: berth-test-secret\n${auth}`;
    fs.writeFileSync(path.join(this.root, 'config.yml'), config);
    const fd = fs.openSync(path.join(this.root, 'registry.log'), 'a');
    const proc = spawn('docker-registry', ['serve', path.join(this.root, 'config.yml')], { stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    this.proc = proc;
    let died = false;
    proc.once('exit', () => (died = true));
    this.addr = await waitFor(
      () => {
        if (died) throw new Error(`docker-registry exited:\n${this.log().slice(-2000)}`);
        return /listening on (127\.0\.0\.1:\d+)/.exec(this.log())?.[1];
      },
      'docker-registry to listen',
      15_000,
      50,
    );
  }

  async stop(): Promise<void> {
    await stopPid(this.proc?.pid, 5000);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export async function startRegistry(opts: RegistryOpts = {}): Promise<Registry> {
  const r = new Registry(opts);
  try {
    await r.start();
  } catch (e) {
    await r.stop();
    throw e;
  }
  return r;
}
