#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node
// MALLOC_ARENA_MAX: libuv's worker threads each get a glibc malloc arena by default, and their
// fragmentation grew berthd's RSS by ~60 MB over 200 containers; two arenas keep it flat.
// berthd: serves the Docker Engine API. Containers belong to their monitors, not to this process,
// so stopping or killing berthd leaves them running; the next berthd re-adopts them.
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseHost } from '../client/host.js';
import { UiServer } from '../ui/server.js';
import { ApiServer } from '../api/server.js';
import { defaultRegistryOptions, type RegistryOptions } from '../distribution/endpoint.js';
import { Engine } from '../engine/engine.js';
import { Runtime } from '../runtime/runtime.js';
import { parseAddressPool } from '../network/ipam.js';
import type { RuntimeName } from '../runtime/types.js';
import { logger, type LogLevel } from '../util/logger.js';

const USAGE = `Usage: berthd [OPTIONS]

A container engine that serves the Docker Engine API

Options:
  -H, --host list          Daemon socket(s) to listen on (default unix:///run/berth/berth.sock)
      --data-root string   Root directory of persistent state (default "/var/lib/berth")
      --exec-root string   Root directory for execution state files (default "/run/berth")
      --runtime string     OCI runtime: crun or runc (default: crun when installed)
      --log-level string   Logging level: debug, info, warn, error, fatal (default "info")
  -p, --pidfile string     Path to use for daemon PID file
      --no-default-image   Do not create busybox:latest from the host's busybox-static
      --insecure-registry list       Registries (host:port or CIDR) that may be reached over plain http
      --registry-mirror list         Preferred Docker registry mirror
      --max-concurrent-downloads int Max concurrent downloads (default 3)
      --max-concurrent-uploads int   Max concurrent uploads (default 5)
      --registry-certs-dir list      Per-registry CA dirs (<dir>/<host:port>/ca.crt)
                                     (default /etc/berth/certs.d and /etc/docker/certs.d)
      --registry-timeout int         Seconds to wait for a registry's response headers (default 30)
      --registry-idle-timeout int    Seconds a registry response body may stall (default 60)
      --registry-upload-chunk-size int  Bytes per PATCH when pushing larger blobs (default 16777216)
  -b, --bridge string      Interface of the default bridge network (default "berth0")
      --bip string         Gateway address and prefix of the default bridge (e.g. 10.20.0.1/24;
                           default: a /16 from the address pools that overlaps no host route)
      --default-address-pool list  Pools for networks created without --subnet
                           (base=10.10.0.0/16,size=24; default 172.17.0.0/12 in /16s, 192.168.0.0/16 in /20s)
      --ui string          Also serve the web view on this loopback address (e.g. 127.0.0.1:7175)
      --ui-actions         Allow start, stop, rm and commit from the web view
  -v, --version            Print version information and quit
`;

async function socketInUse(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function listenOn(api: ApiServer, host: string): Promise<void> {
  if (host.startsWith('unix://') || host.startsWith('/')) {
    const file = host.replace(/^unix:\/\//, '');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    if (await socketInUse(file)) throw new Error(`another daemon is already listening on ${file}`);
    await fsp.rm(file, { force: true });
    await api.listen(file);
    await fsp.chmod(file, 0o660);
    return;
  }
  const m = /^tcp:\/\/([^:]*):(\d+)$/.exec(host);
  if (!m) throw new Error(`invalid host: ${host}`);
  await api.listenTcp(m[1] || '127.0.0.1', Number(m[2]));
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`invalid value for --${name}: ${v} (a positive integer)`);
  return n;
}

function registryOptions(values: Record<string, string | string[] | boolean | undefined>): RegistryOptions {
  const o = defaultRegistryOptions();
  const list = (k: string): string[] => (values[k] as string[] | undefined) ?? [];
  o.insecureRegistries = list('insecure-registry').map((r) => r.replace(/^https?:\/\//, '').replace(/\/$/, ''));
  for (const m of list('registry-mirror')) {
    try {
      const u = new URL(m);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw new Error(`invalid mirror: ${m} (expected an http or https URL)`);
    }
  }
  o.mirrors = list('registry-mirror');
  if (list('registry-certs-dir').length > 0) o.certsDirs = list('registry-certs-dir').map((d) => path.resolve(d));
  o.maxConcurrentDownloads = positiveInt('max-concurrent-downloads', values['max-concurrent-downloads'] as string | undefined, o.maxConcurrentDownloads);
  o.maxConcurrentUploads = positiveInt('max-concurrent-uploads', values['max-concurrent-uploads'] as string | undefined, o.maxConcurrentUploads);
  o.transport.headerTimeoutMs = positiveInt('registry-timeout', values['registry-timeout'] as string | undefined, o.transport.headerTimeoutMs / 1000) * 1000;
  o.transport.idleTimeoutMs = positiveInt('registry-idle-timeout', values['registry-idle-timeout'] as string | undefined, o.transport.idleTimeoutMs / 1000) * 1000;
  o.uploadChunkSize = positiveInt('registry-upload-chunk-size', values['registry-upload-chunk-size'] as string | undefined, o.uploadChunkSize);
  return o;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', short: 'H', multiple: true },
      'data-root': { type: 'string', default: '/var/lib/berth' },
      'exec-root': { type: 'string', default: '/run/berth' },
      runtime: { type: 'string' },
      'log-level': { type: 'string', short: 'l', default: 'info' },
      pidfile: { type: 'string', short: 'p' },
      'no-default-image': { type: 'boolean', default: false },
      'insecure-registry': { type: 'string', multiple: true },
      'registry-mirror': { type: 'string', multiple: true },
      'max-concurrent-downloads': { type: 'string' },
      'max-concurrent-uploads': { type: 'string' },
      'registry-certs-dir': { type: 'string', multiple: true },
      'registry-timeout': { type: 'string' },
      'registry-idle-timeout': { type: 'string' },
      'registry-upload-chunk-size': { type: 'string' },
      bridge: { type: 'string', short: 'b' },
      bip: { type: 'string' },
      'default-address-pool': { type: 'string', multiple: true },
      ui: { type: 'string' },
      'ui-actions': { type: 'boolean', default: false },
      version: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { BERTH_VERSION } = await import('../engine/engine.js');
  if (values.version) {
    process.stdout.write(`Berth version ${BERTH_VERSION}\n`);
    return;
  }
  logger.setLevel(values['log-level'] as LogLevel);
  if (values.runtime && values.runtime !== 'crun' && values.runtime !== 'runc') throw new Error(`unknown runtime: ${values.runtime} (use crun or runc)`);
  const runtime = await Runtime.detect(values.runtime as RuntimeName | undefined);
  const dataRoot = path.resolve(values['data-root']!);
  const execRoot = path.resolve(values['exec-root']!);
  const registry = registryOptions(values);
  const bridgeName = values.bridge;
  if (bridgeName !== undefined && (bridgeName === 'none' || !/^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName))) {
    throw new Error(`invalid --bridge: ${bridgeName} (an interface name of at most 15 characters)`);
  }
  const pools = (values['default-address-pool'] ?? []).map(parseAddressPool);
  const network = { bridgeName, bip: values.bip, pools: pools.length ? pools : undefined };
  const engine = new Engine({ dataRoot, execRoot, runtime, defaultImage: !values['no-default-image'], registry, network });
  await engine.init();
  const api = new ApiServer(engine);
  const hosts = values.host && values.host.length > 0 ? values.host : [`unix://${path.join(execRoot, 'berth.sock')}`];
  for (const h of hosts) await listenOn(api, h);
  if (values.ui !== undefined) {
    // The web view reads through the daemon's own first socket, as any Engine API client does.
    const ui = new UiServer({ upstream: parseHost(hosts[0]), listen: values.ui, actions: values['ui-actions'] });
    logger.info(`web view on ${await ui.listen()}${values['ui-actions'] ? ' (actions enabled)' : ''}`);
  }
  if (values.pidfile) await fsp.writeFile(values.pidfile, `${process.pid}\n`);
  logger.info(`berthd ${BERTH_VERSION} (runtime ${runtime}, data root ${dataRoot}) listening on ${hosts.join(', ')}`);
  const shutdown = (sig: string): void => {
    logger.info(`received ${sig}, shutting down (containers keep running)`);
    // Hijacked streams never finish on their own; don't wait for them.
    // Network teardowns of containers that just exited may still run: let them finish (bounded).
    const drained = engine.sandboxes.close(8000);
    setTimeout(() => void drained.then(() => process.exit(0)), 2000).unref();
    const closing = Promise.all([engine.runtime.close(), drained]);
    void api.close().finally(async () => {
      await closing;
      if (values.pidfile) await fsp.rm(values.pidfile, { force: true });
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: Error) => {
  logger.error(`failed to start daemon: ${err.message}`);
  process.exit(1);
});
