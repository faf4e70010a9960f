// A real Docker registry (Debian's docker-registry, distribution 2.8) for tests: own temp storage,
// an ephemeral 127.0.0.1 port, optional htpasswd (basic auth), TLS or token auth; killed by pid at
// the end. Used by the daemon's registry tests and the CLI side-by-side tests alike.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { run, waitFor } from '../harness.js';
import { freePort } from '../tcp.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function haveRegistry(): boolean {
  return fs.existsSync(REGISTRY_BIN);
}

export interface RegistryOpts {
  htpasswd?: { user: string; password: string };
  /** clientCa: the registry then requires a client certificate signed by it. */
  tls?: { cert: string; key: string; clientCa?: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export class TestRegistry {
  proc?: ChildProcess;
  port = 0;
  readonly dir: string;
  private exited?: Promise<void>;

  constructor(readonly opts: RegistryOpts = {}) {
    this.dir = fs.mkdtempSync('/tmp/btreg-');
  }

  /** "127.0.0.1:<port>" — the registry part of image references. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.host}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const lines = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(this.dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${this.port}`,
      '  secret: berth-test-secret',
    ];
    if (this.opts.tls) lines.push('  tls:', `    certificate: ${this.opts.tls.cert}`, `    key: ${this.opts.tls.key}`);
    if (this.opts.tls?.clientCa) lines.push('    clientcas:', `      - ${this.opts.tls.clientCa}`);
    if (this.opts.htpasswd) {
      const file = path.join(this.dir, 'htpasswd');
      const r = await run('htpasswd', ['-Bbn', this.opts.htpasswd.user, this.opts.htpasswd.password]);
      if (r.code !== 0) throw new Error(`htpasswd: ${r.stderr}`);
      fs.writeFileSync(file, r.stdout);
      lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${file}`);
    }
    if (this.opts.token) {
      const t = this.opts.token;
      lines.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.rootCertBundle}`);
    }
    const config = path.join(this.dir, 'config.yml');
    fs.writeFileSync(config, lines.join('\n') + '\n');
    const log = fs.openSync(path.join(this.dir, 'registry.log'), 'a');
    const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    // waitFor retries on a throw, so an exited registry ends the wait as a value and is reported here
    const exited = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
    await waitFor(
      () =>
        exited() ||
        new Promise<boolean>((resolve) => {
          const s = net.connect(this.port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        }),
      'docker-registry to listen',
      15_000,
    );
    if (exited()) throw new Error(`docker-registry exited: ${this.log()}`);
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'registry.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await this.exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRegistry(opts: RegistryOpts = {}): Promise<TestRegistry> {
  const r = new TestRegistry(opts);
  try {
    await r.start();
  } catch (e) {
    await r.stop();
    throw e;
  }
  return r;
}
