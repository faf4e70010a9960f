#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --expose-gc
// MALLOC_ARENA_MAX: libuv's worker threads each get a glibc malloc arena by default, and their
// fragmentation grew berthd's RSS by ~60 MB over 200 containers; two arenas keep it flat.
// --expose-gc: for the full GC berthd runs when it goes idle after a burst (idle-memory.ts).
// berthd: serves the Docker Engine API. Containers belong to their monitors, not to this process,
// so stopping or killing berthd leaves them running; the next berthd re-adopts them.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseHost } from '../client/host.js';
import { UiServer } from '../ui/server.js';
import { ApiServer } from '../api/server.js';
import { loadSchema } from '../api/validation/validate.js';
import { defaultRegistryOptions, type RegistryOptions } from '../distribution/endpoint.js';
import { Engine } from '../engine/engine.js';
import { Runtime } from '../runtime/runtime.js';
import { parseAddressPool } from '../network/ipam.js';
import type { RuntimeName } from '../runtime/types.js';
import { logger, type LogLevel } from '../util/logger.js';
import { listenOn, normaliseBoolFlags } from './listeners.js';
import { validateLogConfig } from '../engine/logging/drivers.js';
import type { Ulimit } from '../types/api.js';
import { remapIdentity, remappedDataRoot } from './userns-remap.js';
import { IdleMemory, memoryBreakdown } from './idle-memory.js';
import { checkConflicts, checkValues, ConfigError, DEFAULT_CONFIG_FILE, RELOADABLE, readConfigFile, type DaemonConfig } from './config.js';

const USAGE = `Usage: berthd [OPTIONS]

A container engine that serves the Docker Engine API

Options:
      --config-file string Daemon configuration file (default "/etc/berth/daemon.json")
  -H, --host list          Daemon socket(s) to listen on (default unix:///run/berth/berth.sock)
  -G, --group string       Group for the unix socket (default "berth", when it exists)
      --tls                Use TLS; implied by --tlsverify (--tls=false: allow a non-loopback
                           TCP address without TLS)
      --tlscacert string   Trust certs signed only by this CA (default "~/.docker/ca.pem")
      --tlscert string     Path to TLS certificate file (default "~/.docker/cert.pem")
      --tlskey string      Path to TLS key file (default "~/.docker/key.pem")
      --tlsverify          Use TLS and verify the remote
      --data-root string   Root directory of persistent state (default "/var/lib/berth")
      --exec-root string   Root directory for execution state files (default "/run/berth")
      --runtime string     OCI runtime: crun or runc (default: crun when installed)
      --log-level string   Logging level: debug, info, warn, error, fatal (default "info")
  -D, --debug              Enable debug mode
      --log-driver string  Default driver for container logs (default "json-file")
      --log-opt map        Default log driver options for containers
      --label list         Set key=value labels to the daemon
      --userns-remap string  User/Group setting for user namespaces: default (the berthremap
                           user, created on first use), USER[:GROUP] or UID[:GID]; the user's
                           /etc/subuid and /etc/subgid ranges map containers' ids
      --live-restore       Keep containers running while the daemon is down (always so with Berth)
      --default-ulimit list  Default ulimits for containers (name=soft:hard)
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

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`invalid value for --${name}: ${v} (a positive integer)`);
  return n;
}

function registryOptions(cfg: DaemonConfig, values: Record<string, string | string[] | boolean | undefined>): RegistryOptions {
  const o = defaultRegistryOptions();
  const list = (k: string): string[] => (values[k] as string[] | undefined) ?? [];
  applyRegistryConfig(o, cfg);
  if (list('registry-certs-dir').length > 0) o.certsDirs = list('registry-certs-dir').map((d) => path.resolve(d));
  if (cfg['max-concurrent-downloads']) o.maxConcurrentDownloads = cfg['max-concurrent-downloads'];
  if (cfg['max-concurrent-uploads']) o.maxConcurrentUploads = cfg['max-concurrent-uploads'];
  o.transport.headerTimeoutMs = positiveInt('registry-timeout', values['registry-timeout'] as string | undefined, o.transport.headerTimeoutMs / 1000) * 1000;
  o.transport.idleTimeoutMs = positiveInt('registry-idle-timeout', values['registry-idle-timeout'] as string | undefined, o.transport.idleTimeoutMs / 1000) * 1000;
  o.uploadChunkSize = positiveInt('registry-upload-chunk-size', values['registry-upload-chunk-size'] as string | undefined, o.uploadChunkSize);
  return o;
}

/** The part of the registry settings SIGHUP reloads: mirrors and insecure registries. */
function applyRegistryConfig(o: RegistryOptions, cfg: DaemonConfig): void {
  o.insecureRegistries = (cfg['insecure-registries'] ?? []).map((r) => r.replace(/^https?:\/\//, '').replace(/\/$/, ''));
  o.mirrors = cfg['registry-mirrors'] ?? [];
}

/** The directory's real path when it exists (symlinks resolved), else the path as given. */
async function realDir(dir: string): Promise<string> {
  return fsp.realpath(dir).catch(() => dir);
}

/** Flags under daemon.json's names; only what was given, so a conflict with the file can be seen. */
function flagConfig(values: Record<string, string | string[] | boolean | undefined>): DaemonConfig {
  const f: DaemonConfig = {};
  const str = (k: string) => values[k] as string | undefined;
  const list = (k: string) => values[k] as string[] | undefined;
  if (list('host')?.length) f.hosts = list('host');
  if (str('data-root')) f['data-root'] = str('data-root');
  if (str('exec-root')) f['exec-root'] = str('exec-root');
  if (str('pidfile')) f.pidfile = str('pidfile');
  if (str('log-level')) f['log-level'] = str('log-level');
  if (values['debug']) f.debug = true;
  if (str('log-driver')) f['log-driver'] = str('log-driver');
  if (list('log-opt')?.length) f['log-opts'] = Object.fromEntries(list('log-opt')!.map((kv) => keyValue('log-opt', kv)));
  const runtime = str('default-runtime') ?? str('runtime');
  if (runtime) f['default-runtime'] = runtime;
  if (list('insecure-registry')?.length) f['insecure-registries'] = list('insecure-registry');
  if (list('registry-mirror')?.length) f['registry-mirrors'] = list('registry-mirror');
  if (str('max-concurrent-downloads')) f['max-concurrent-downloads'] = positiveInt('max-concurrent-downloads', str('max-concurrent-downloads'), 0);
  if (str('max-concurrent-uploads')) f['max-concurrent-uploads'] = positiveInt('max-concurrent-uploads', str('max-concurrent-uploads'), 0);
  if (values['live-restore']) f['live-restore'] = true;
  if (list('label')?.length) f.labels = list('label');
  if (str('userns-remap')) f['userns-remap'] = str('userns-remap');
  if (list('default-ulimit')?.length) f['default-ulimits'] = Object.fromEntries(list('default-ulimit')!.map(parseUlimitFlag));
  return f;
}

function keyValue(flag: string, kv: string): [string, string] {
  const i = kv.indexOf('=');
  if (i <= 0) throw new ConfigError(`invalid --${flag} ${kv}: expected key=value`);
  return [kv.slice(0, i), kv.slice(i + 1)];
}

/** --default-ulimit nofile=1024:2048 */
function parseUlimitFlag(v: string): [string, Ulimit] {
  const m = /^(\w+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw new ConfigError(`invalid ulimit argument: ${v}`);
  return [m[1], { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) }];
}

function engineLogLevel(cfg: DaemonConfig): LogLevel {
  return cfg.debug ? 'debug' : ((cfg['log-level'] ?? 'info') as LogLevel);
}

/** SIGHUP: what dockerd reloads, from the file as it is now; a bad file is logged and ignored. */
async function reload(engine: Engine, file: string, named: boolean): Promise<void> {
  let cfg: DaemonConfig;
  try {
    cfg = await readConfigFile(file, named);
  } catch (err) {
    logger.error(`Error reloading configuration: ${(err as Error).message}`);
    return;
  }
  engine.opts.labels = cfg.labels ?? [];
  engine.opts.debug = cfg.debug ?? false;
  logger.setLevel(engineLogLevel(cfg));
  applyRegistryConfig(engine.registries.options, cfg);
  engine.registries.endpoints.resolved.clear();
  const attrs: Record<string, string> = { labels: JSON.stringify(cfg.labels ?? []), debug: String(cfg.debug ?? false), 'registry-mirrors': JSON.stringify(cfg['registry-mirrors'] ?? []), 'insecure-registries': JSON.stringify(cfg['insecure-registries'] ?? []) };
  engine.events.emit('daemon', 'reload', 'berth', attrs);
  logger.info(`reloaded ${file}: ${RELOADABLE.join(', ')}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: normaliseBoolFlags(process.argv.slice(2), ['tls', 'tlsverify']),
    options: {
      'config-file': { type: 'string' },
      host: { type: 'string', short: 'H', multiple: true },
      group: { type: 'string', short: 'G' },
      tls: { type: 'boolean' },
      'no-tls': { type: 'boolean' },
      tlsverify: { type: 'boolean' },
      'no-tlsverify': { type: 'boolean' },
      tlscacert: { type: 'string' },
      tlscert: { type: 'string' },
      tlskey: { type: 'string' },
      'data-root': { type: 'string' },
      'exec-root': { type: 'string' },
      runtime: { type: 'string' },
      'default-runtime': { type: 'string' },
      'log-level': { type: 'string', short: 'l' },
      debug: { type: 'boolean', short: 'D' },
      'log-driver': { type: 'string' },
      'log-opt': { type: 'string', multiple: true },
      label: { type: 'string', multiple: true },
      'live-restore': { type: 'boolean' },
      'userns-remap': { type: 'string' },
      'default-ulimit': { type: 'string', multiple: true },
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
  const configFile = path.resolve(values['config-file'] ?? DEFAULT_CONFIG_FILE);
  const named = values['config-file'] !== undefined;
  const flags = flagConfig(values);
  const file = await readConfigFile(configFile, named);
  checkConflicts(flags, file, configFile);
  const cfg: DaemonConfig = { ...file, ...flags };
  checkValues(cfg, (msg) => {
    throw new ConfigError(msg);
  });
  const logConfig = { Type: cfg['log-driver'] ?? 'json-file', Config: cfg['log-opts'] ?? {} };
  try {
    validateLogConfig(logConfig);
  } catch (err) {
    throw new ConfigError(`failed to set log opts: ${(err as Error).message}`);
  }
  logger.setLevel(engineLogLevel(cfg));
  // A runtime of daemon.json's "runtimes" as the default: its binary, driven with runc's command line.
  const custom = cfg['default-runtime'] ? cfg.runtimes?.[cfg['default-runtime']] : undefined;
  if (custom && !existsSync(custom.path)) throw new ConfigError(`default runtime ${cfg['default-runtime']}: ${custom.path} does not exist`);
  const runtime = custom ? 'runc' : await Runtime.detect(cfg['default-runtime'] as RuntimeName | undefined);
  const remap = cfg['userns-remap'] ? await remapIdentity(cfg['userns-remap']) : undefined;
  // A symlinked data root is followed, as dockerd does: mount points are compared by their real paths.
  const baseRoot = await realDir(path.resolve(cfg['data-root'] ?? '/var/lib/berth'));
  const dataRoot = remap ? await remappedDataRoot(baseRoot, remap.ids) : baseRoot;
  if (remap) logger.info(`User namespaces: ids mapped to the subordinate ranges of ${remap.user}:${remap.group} (uids ${remap.ids.describe()})`);
  const execRoot = path.resolve(cfg['exec-root'] ?? '/run/berth');
  const idleMemory = new IdleMemory();
  // As dockerd's SIGUSR1 stack dump: what the daemon holds (sockets, timers, child processes) and
  // where its memory is, written to the exec root; the tests' leak check and the soak bench read
  // it. Set before listening: without a handler, SIGUSR1 would open Node's inspector.
  process.on('SIGUSR1', () => {
    const file = path.join(execRoot, 'berthd-resources.json');
    const memory = { ...memoryBreakdown(), idleReclaims: idleMemory.reclaims };
    void fsp.writeFile(file, JSON.stringify({ pid: process.pid, resources: process.getActiveResourcesInfo(), memory })).then(
      () => logger.debug(`active resources written to ${file}`),
      (err: Error) => logger.warn(`cannot write ${file}: ${err.message}`),
    );
  });
  const registry = registryOptions(cfg, values);
  const bridgeName = values.bridge;
  if (bridgeName !== undefined && (bridgeName === 'none' || !/^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName))) {
    throw new Error(`invalid --bridge: ${bridgeName} (an interface name of at most 15 characters)`);
  }
  const pools = (values['default-address-pool'] ?? []).map(parseAddressPool);
  const network = { bridgeName, bip: values.bip, pools: pools.length ? pools : undefined };
  const engine = new Engine({
    network,
    dataRoot,
    execRoot,
    runtime,
    runtimePath: custom?.path,
    defaultImage: !values['no-default-image'],
    registry,
    logConfig,
    labels: cfg.labels ?? [],
    debug: cfg.debug ?? false,
    liveRestore: cfg['live-restore'],
    defaultUlimits: Object.entries(cfg['default-ulimits'] ?? {}).map(([name, u]) => ({ Name: u.Name ?? name, Soft: u.Soft, Hard: u.Hard })),
    runtimes: cfg.runtimes,
    idMapping: remap?.ids,
  });
  // The request validators (~440 KB of generated code) load while the engine starts.
  void loadSchema();
  await engine.init();
  const api = new ApiServer(engine);
  const hosts = cfg.hosts && cfg.hosts.length > 0 ? cfg.hosts : [`unix://${path.join(execRoot, 'berth.sock')}`];
  const listen = {
    group: values.group,
    tls: values.tls ? true : values['no-tls'] ? false : undefined,
    tlsverify: values.tlsverify === true && !values['no-tlsverify'],
    tlscacert: values.tlscacert,
    tlscert: values.tlscert,
    tlskey: values.tlskey,
  };
  for (const h of hosts) await listenOn(api, h, listen);
  if (values.ui !== undefined) {
    // The web view reads through the daemon's own first socket, as any Engine API client does.
    const ui = new UiServer({ upstream: parseHost(hosts[0]), listen: values.ui, actions: values['ui-actions'] });
    logger.info(`web view on ${await ui.listen()}${values['ui-actions'] ? ' (actions enabled)' : ''}`);
  }
  const pidfile = cfg.pidfile;
  if (pidfile) await fsp.writeFile(pidfile, `${process.pid}\n`);
  logger.info(`berthd ${BERTH_VERSION} (runtime ${runtime}, data root ${dataRoot}) listening on ${hosts.join(', ')}`);
  idleMemory.start(() => api.requests);
  const shutdown = (sig: string): void => {
    logger.info(`received ${sig}, shutting down (containers keep running)`);
    // Hijacked streams never finish on their own; don't wait for them.
    // Network teardowns of containers that just exited may still run: let them finish (bounded).
    const drained = engine.sandboxes.close(8000);
    setTimeout(() => void drained.then(() => process.exit(0)), 2000).unref();
    const closing = Promise.all([engine.runtime.close(), drained]);
    void api.close().finally(async () => {
      await closing;
      if (pidfile) await fsp.rm(pidfile, { force: true });
      process.exit(0);
    });
  };
  // A failure nobody awaited (a write on a full disk in background work) is logged: the daemon,
  // and every container it watches, must keep serving, as dockerd does.
  process.on('unhandledRejection', (err) => logger.error(`unhandled failure: ${(err as Error)?.stack ?? String(err)}`));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void reload(engine, configFile, named));
}

main().catch((err: Error) => {
  logger.error(err instanceof ConfigError ? err.message : `failed to start daemon: ${err.message}`);
  process.exit(1);
});
