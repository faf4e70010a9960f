// The runtime layer: one detached conmon per container, which runs the OCI runtime and owns the
// container's stdio, log and exit status. See paths.ts for the exec-root layout.
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import { existsSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { ConflictError, NotFoundError } from '../errors.js';
import { cgroupMode } from '../oci/host-info.js';
import { logger } from '../util/logger.js';
import { ConmonAttachStream, reopenLog, writeResize } from './attach.js';
import {
  cgroupOomKilled,
  cgroupDirsForPath,
  cgroupPids,
  containerCgroupDirs,
  fixHybridCgroups,
  readCgroupStats,
  resetCgroupCache,
  unlimitPids,
} from './cgroups.js';
import { conmonArgs, startConmon } from './conmon.js';
import { runExec } from './exec.js';
import { mountReadOnlyBinary, unmountReadOnlyBinary } from './read-only-binary.js';
import { SeccompCache, type SeccompSpec } from './seccomp-cache.js';
import { ExitWatcher, readExitFile } from './exits.js';
import { findBinary, OciCli } from './oci-cli.js';
import { cgroupsPath, checkId, isValidId, Layout, socketUuid } from './paths.js';
import { signalNumber } from './signals.js';
import type { LinuxResources } from '../oci/runtime-spec.js';
import { readNetworkStats, type InterfaceStats } from './netdev.js';
import type {
  AttachStream,
  CgroupStats,
  CreatedContainer,
  CreateOptions,
  ExecOptions,
  ExecSession,
  ExitInfo,
  RuntimeName,
  RuntimeOptions,
  RuntimeState,
  RuntimeStatus,
} from './types.js';

/** How often exit files are swept for, besides inotify. */
const EXIT_SWEEP_MS = 5000;

export { cgroupsPath } from './paths.js';

interface ContainerMeta {
  bundle: string;
  /** The config has poststart hooks: start must go through the runtime, which runs them. */
  poststartHooks?: boolean;
  logPath?: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
}

const CONMON_EXTRA_DIRS = ['/usr/libexec/podman', '/usr/local/libexec/podman', '/usr/lib/podman', '/usr/libexec/crio'];

async function readInt(file: string): Promise<number | null> {
  try {
    const n = parseInt((await fs.readFile(file, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Whether process `pid` exists (EPERM: it does, another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is `pid` the conmon monitoring `id`? (guards against pid reuse) */
async function isConmonFor(pid: number, id: string): Promise<boolean> {
  try {
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return path.basename(argv[0] ?? '') === 'conmon' && argv.includes(id);
  } catch {
    return false;
  }
}

interface BundleSpec extends SeccompSpec {
  hooks?: { poststart?: unknown[] };
}

async function readSpec(bundle: string): Promise<BundleSpec | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8')) as BundleSpec;
  } catch {
    return undefined;
  }
}

export class Runtime extends EventEmitter {
  readonly name: RuntimeName;
  /** The runtime binary as conmon and the CLI call it: for crun, a read-only bind mount of it once init() ran. */
  runtimePath: string;
  readonly conmonPath: string;
  readonly layout: Layout;
  private readonly cli: OciCli;
  private readonly logLevel: string;
  private readonly watcher: ExitWatcher;
  private readonly metas = new Map<string, ContainerMeta>();
  /** id -> finishedAt of the exit already announced, so one exit is emitted once. */
  private readonly announced = new Map<string, number>();
  private readonly seccomp = new SeccompCache();

  /** crun when installed (faster), else runc; or exactly `name` when given. */
  static async detect(name?: RuntimeName): Promise<RuntimeName> {
    const candidates: RuntimeName[] = name ? [name] : ['crun', 'runc'];
    for (const c of candidates) if (findBinary(c)) return c;
    throw new Error(
      name ? `OCI runtime ${name} not found in PATH` : 'no OCI runtime found: install crun or runc (searched PATH and the sbin dirs)',
    );
  }

  constructor(opts: RuntimeOptions) {
    super();
    this.name = opts.name;
    const rt = opts.runtimePath ?? findBinary(opts.name);
    if (!rt) throw new Error(`OCI runtime ${opts.name} not found in PATH`);
    this.runtimePath = rt;
    const cm = opts.conmonPath ?? findBinary('conmon', CONMON_EXTRA_DIRS);
    if (!cm) throw new Error('conmon not found (PATH, /usr/libexec/podman)');
    this.conmonPath = cm;
    this.layout = new Layout(path.resolve(opts.execRoot), opts.name);
    this.cli = new OciCli(opts.name, rt, this.layout.runtimeRoot);
    this.logLevel = opts.logLevel ?? 'warn';
    this.watcher = new ExitWatcher(this.layout.exitsDir, (id) => void this.onExitFile(id));
  }

  /** Create the exec-root dirs, repair a hybrid cgroup host, start watching for exits. */
  async init(): Promise<void> {
    const l = this.layout;
    for (const d of [l.execRoot, l.exitsDir, l.socketDir, l.runtimeRoot, l.ctrRoot]) {
      await fs.mkdir(d, { recursive: true, mode: 0o700 });
    }
    if (cgroupMode() === 'hybrid') {
      try {
        if ((await fixHybridCgroups()).length > 0) resetCgroupCache();
      } catch (err) {
        // runc copes with controllers left in cgroup2; crun 1.8 refuses every container.
        if (this.name === 'crun') throw err;
      }
    }
    if (this.name === 'crun') await this.useReadOnlyBinary();
    this.watcher.start();
    // inotify can drop events (queue overflow); a slow sweep makes sure no exit goes unnoticed.
    this.sweeper = setInterval(() => void this.sweepExits(), EXIT_SWEEP_MS);
    this.sweeper.unref();
  }

  private sweeper: NodeJS.Timeout | undefined;

  private async useReadOnlyBinary(): Promise<void> {
    try {
      this.runtimePath = await mountReadOnlyBinary(this.runtimePath, this.layout.runtimeBinary(this.name));
      this.cli.binary = this.runtimePath;
    } catch (err) {
      // Still correct without it (crun then re-executes a private copy of itself), only slower.
      logger.warn(`cannot bind ${this.runtimePath} read-only: ${(err as Error).message}`);
    }
  }

  /** Announces every exit file not announced yet (the watcher's safety net). */
  private async sweepExits(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.layout.exitsDir);
    } catch {
      return;
    }
    for (const id of names) {
      if (id.includes('.')) continue;
      const st = await fs.stat(path.join(this.layout.exitsDir, id)).catch(() => undefined);
      if (st && this.announced.get(id) !== st.mtime.getTime()) await this.onExitFile(id);
    }
    for (const id of await fs.readdir(this.layout.ctrRoot).catch(() => [] as string[])) {
      if (isValidId(id) && !this.creating.has(id) && (await this.monitorLost(id))) await this.takeOverLostMonitor(id);
    }
  }

  /** Containers between conmon's spawn and its pid file: not watched for a lost monitor yet. */
  private readonly creating = new Set<string>();

  /** Whether the monitor of a container that has not exited is gone (killed, or the OOM killer's). */
  private async monitorLost(id: string): Promise<boolean> {
    if (existsSync(this.layout.exitFile(id))) return false;
    const pid = await readInt(path.join(this.layout.ctrDir(id), 'conmon.pid'));
    if (!pid || (processAlive(pid) && (await isConmonFor(pid, id)))) return false;
    // conmon writes the exit file before it exits: looked at again after the pid.
    return !existsSync(this.layout.exitFile(id)) && this.runtimeKnows(id);
  }

  /**
   * Nothing would ever record the exit of a container whose monitor died. Its duty is taken
   * over as containerd does for a dead shim: the container is killed and its exit written as a
   * death by SIGKILL (137), which the watcher then announces like any other.
   */
  async takeOverLostMonitor(id: string): Promise<void> {
    logger.warn(`the monitor of container ${id} is gone: killing the container`);
    await this.cli.run(['kill', id, '9']).catch(() => undefined);
    const tmp = `${this.layout.exitFile(id)}.lost`;
    await fs.writeFile(tmp, String(128 + 9));
    await fs.rename(tmp, this.layout.exitFile(id));
  }

  /**
   * Start containers by writing crun's exec fifo ourselves instead of spawning `crun start`
   * (crun only; runc always goes through its CLI). Set false to always use the CLI.
   */
  fastStart = true;
  /** Likewise for deleting stopped crun containers (rmdir the cgroups, drop the state dir). */
  fastDelete = true;

  /** Stop watching for exits (the containers and their conmons keep running). */
  async close(): Promise<void> {
    this.watcher.stop();
    clearInterval(this.sweeper);
    if (this.runtimePath === this.layout.runtimeBinary(this.name)) await unmountReadOnlyBinary(this.runtimePath).catch(() => undefined);
  }

  // ---- lifecycle ----

  /**
   * Last touches to a bundle's spec before it is written: for crun, the BPF it compiled before for
   * the same seccomp profile (see seccomp-cache.ts).
   */
  prepareSpec(spec: SeccompSpec): void {
    if (this.name === 'crun') this.seccomp.annotate(spec);
  }

  async create(opts: CreateOptions): Promise<CreatedContainer> {
    checkId('container', opts.id);
    const { id } = opts;
    // Never touch a container that still exists (its exit file, its monitor): delete() it first.
    if (this.runtimeKnows(id)) throw new ConflictError(`container ${id} already exists in ${this.name}; delete it first`);
    const dir = this.layout.ctrDir(id);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // A previous run of the same container (docker restart) may have left its exit behind.
    await Promise.all([
      fs.rm(this.layout.exitFile(id), { force: true }),
      fs.rm(path.join(dir, 'exit'), { force: true }),
      fs.rm(path.join(dir, 'oom'), { force: true }),
      opts.logPath ? fs.mkdir(path.dirname(opts.logPath), { recursive: true }) : undefined,
    ]);
    this.announced.delete(id);
    const bundle = path.resolve(opts.bundle);
    const spec = await readSpec(bundle);
    // A profile crun compiles this time (no BPF annotation): keep what it compiled.
    const seccompKey = this.name === 'crun' && spec ? this.seccomp.key(spec) : undefined;
    const meta: ContainerMeta = {
      bundle,
      // unknown (unreadable spec): be safe, let the runtime start it
      poststartHooks: spec ? Array.isArray(spec.hooks?.poststart) && spec.hooks!.poststart.length > 0 : undefined,
      logPath: opts.logPath ? path.resolve(opts.logPath) : undefined,
      tty: opts.tty,
      openStdin: opts.openStdin,
      stdinOnce: opts.stdinOnce,
    };
    await fs.writeFile(path.join(dir, 'meta.json'), JSON.stringify(meta));
    this.metas.set(id, meta);

    const args = conmonArgs({
      id,
      uuid: socketUuid(id),
      name: id,
      runtimePath: this.runtimePath,
      runtimeArgs: this.cli.globalArgs(),
      bundle: meta.bundle,
      pidFile: path.join(dir, 'pidfile'),
      conmonPidFile: path.join(dir, 'conmon.pid'),
      persistDir: dir,
      socketDir: this.layout.socketDir,
      exitDir: this.layout.exitsDir,
      logPath: meta.logPath,
      logLevel: this.logLevel,
      tty: opts.tty,
      stdin: opts.openStdin,
      leaveStdinOpen: !opts.stdinOnce,
    });
    this.creating.add(id);
    try {
      const started = await startConmon({ conmonPath: this.conmonPath, args, cwd: dir, runtimeName: this.name, what: 'create' });
      await started.launcherExited;
      const monitorPid = await readInt(path.join(dir, 'conmon.pid'));
      if (seccompKey) await this.seccomp.learn(seccompKey, path.join(this.layout.runtimeRoot, id));
      return { pid: started.pid, monitorPid: monitorPid ?? 0 };
    } catch (err) {
      await this.cleanupAfterFailedCreate(id);
      throw err;
    } finally {
      this.creating.delete(id);
    }
  }

  /** As delete: the monitor of the failed create is waited for too, so nothing of it outlives the error. */
  private async cleanupAfterFailedCreate(id: string): Promise<void> {
    await this.delete(id).catch(() => this.removeState(id));
  }

  /** Runs `<runtime> <cmd> ... <id>`; NotFoundError (no spawn) when the runtime has no such container. */
  private async onKnown(id: string, args: string[]): Promise<void> {
    checkId('container', id);
    if (!this.runtimeKnows(id)) throw new NotFoundError(`container ${id} is not known to ${this.name}`);
    await this.cli.run(args);
  }

  async start(id: string): Promise<void> {
    checkId('container', id);
    if (this.fastStart && (await this.startViaFifo(id))) return;
    await this.onKnown(id, ['start', id]);
  }

  /**
   * crun's `start` is: open <state>/exec.fifo for writing (the container's init holds the read
   * end, waiting), unlink it, write one byte, then run poststart hooks. Doing the same here saves
   * a process spawn on every start (~10 ms on a busy host). Anything unexpected (no fifo: already
   * started or gone; no reader: init died; hooks configured) falls back to `crun start`, which
   * then reports the proper error.
   */
  private async startViaFifo(id: string): Promise<boolean> {
    if (this.name !== 'crun') return false;
    let meta: ContainerMeta;
    try {
      meta = await this.meta(id);
    } catch {
      return false;
    }
    if (meta.poststartHooks !== false) return false;
    const fifo = path.join(this.layout.runtimeRoot, id, 'exec.fifo');
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
    } catch {
      return false;
    }
    try {
      await fs.unlink(fifo);
      await fh.write(Buffer.from([0]));
      return true;
    } finally {
      await fh.close();
    }
  }

  async kill(id: string, signal: string | number): Promise<void> {
    const n = signalNumber(signal);
    await this.onKnown(id, ['kill', id, String(n)]);
  }

  /**
   * New cgroup limits for a running container (`docker update`): `<runtime> update --resources`
   * with the OCI resources object, written next to the container's runtime state.
   */
  async update(id: string, resources: LinuxResources): Promise<void> {
    checkId('container', id);
    if (!this.runtimeKnows(id)) throw new NotFoundError(`container ${id} is not known to ${this.name}`);
    const { pids, ...rest } = resources;
    const file = path.join(this.layout.ctrDir(id), 'resources.json');
    await fs.writeFile(file, JSON.stringify(pids && pids.limit > 0 ? resources : rest));
    try {
      await this.cli.run(['update', '--resources', file, id]);
    } finally {
      await fs.rm(file, { force: true });
    }
    if (pids && pids.limit <= 0) await unlimitPids(await containerCgroupDirs(await this.initPid(id), cgroupsPath(id)));
  }

  /** Returns once the container is frozen, as Docker's pause does. */
  async pause(id: string): Promise<void> {
    await this.onKnown(id, ['pause', id]);
    await this.settle(id, 'paused');
  }

  async resume(id: string): Promise<void> {
    await this.onKnown(id, ['resume', id]);
    await this.settle(id, 'running');
  }

  /**
   * On cgroup v1 the runtime can return while the freezer is still FREEZING (a loaded host: its
   * state then reads "running"); wait for the status the caller asked for, or for the container's end.
   */
  private async settle(id: string, want: RuntimeStatus, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.state(id);
      if (!st || st.status === want || st.status === 'stopped') return;
      if (Date.now() > deadline) throw new Error(`container ${id} is still ${st.status} ${timeoutMs} ms after the runtime was asked to make it ${want}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Remove the container from the runtime (killing it if it still runs), wait for its monitor to
   * finish, drop all exec-root state of `id`. Read exitInfo first: this removes the exit file.
   */
  async delete(id: string): Promise<void> {
    checkId('container', id);
    const dir = this.layout.ctrDir(id);
    const [monitorPid, exited] = await Promise.all([
      readInt(path.join(dir, 'conmon.pid')),
      fs.access(this.layout.exitFile(id)).then(
        () => true,
        () => false,
      ),
    ]);
    if (this.runtimeKnows(id)) {
      const done = exited && this.fastDelete && (await this.deleteStopped(id));
      if (!done) {
        try {
          await this.cli.run(['delete', '--force', id]);
        } catch (err) {
          if (this.runtimeKnows(id)) throw err;
        }
      }
    }
    // conmon writes the exit file after the container died; let it finish so nothing reappears.
    if (monitorPid && processAlive(monitorPid) && (await isConmonFor(monitorPid, id))) {
      const deadline = Date.now() + 5000;
      while (processAlive(monitorPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      if (processAlive(monitorPid) && (await isConmonFor(monitorPid, id))) {
        try {
          process.kill(monitorPid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await this.removeState(id);
  }

  /**
   * Delete a stopped crun container without spawning crun: what `crun delete` does for a stopped
   * container with the cgroupfs manager and no poststop hooks is to rmdir its cgroup in every
   * hierarchy and remove its state dir. Returns false (caller uses the CLI) whenever the case is
   * not that plain: another runtime, hooks, systemd cgroups, init still alive, a cgroup not empty.
   */
  private async deleteStopped(id: string): Promise<boolean> {
    if (this.name !== 'crun') return false;
    const stateDir = path.join(this.layout.runtimeRoot, id);
    let status: { pid?: number; 'cgroup-path'?: string; 'systemd-cgroup'?: boolean };
    let hooks: { poststop?: unknown[] } | undefined;
    try {
      status = JSON.parse(await fs.readFile(path.join(stateDir, 'status'), 'utf8'));
      hooks = (JSON.parse(await fs.readFile(path.join(stateDir, 'config.json'), 'utf8')) as { hooks?: { poststop?: unknown[] } }).hooks;
    } catch {
      return false;
    }
    if (status['systemd-cgroup'] || (hooks?.poststop?.length ?? 0) > 0) return false;
    if (!status.pid || processAlive(status.pid)) return false;
    const cg = status['cgroup-path'];
    if (cg) {
      if (!cg.startsWith('/') || cg.split('/').includes('..')) return false;
      for (const dir of await cgroupDirsForPath(cg)) {
        try {
          await fs.rmdir(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
        }
      }
    }
    await fs.rm(stateDir, { recursive: true, force: true });
    return true;
  }

  private async removeState(id: string): Promise<void> {
    this.metas.delete(id);
    this.announced.delete(id);
    await Promise.all([
      fs.rm(this.layout.ctrDir(id), { recursive: true, force: true }),
      fs.rm(this.layout.exitFile(id), { force: true }),
      // conmon's symlink to the bundle, named by the uuid we gave it (-u), not by the id
      fs.rm(path.join(this.layout.socketDir, socketUuid(id)), { force: true }),
    ]);
  }

  /** Whether anything of `id` is in the exec root: runtime state or its monitor's directory. */
  async hasState(id: string): Promise<boolean> {
    checkId('container', id);
    return this.runtimeKnows(id) || existsSync(this.layout.ctrDir(id));
  }

  /** Ids of the containers with runtime state or a monitor directory in the exec root. */
  async knownIds(): Promise<string[]> {
    const ids = new Set<string>();
    for (const dir of [this.layout.runtimeRoot, this.layout.ctrRoot]) {
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) if (isValidId(name)) ids.add(name);
    }
    return [...ids];
  }

  /** Whether the OCI runtime has state for `id` (no spawn). */
  private runtimeKnows(id: string): boolean {
    return existsSync(path.join(this.layout.runtimeRoot, id));
  }

  async state(id: string): Promise<RuntimeState | null> {
    checkId('container', id);
    if (!this.runtimeKnows(id)) return null;
    let out: string;
    try {
      out = await this.cli.run(['state', id]);
    } catch (err) {
      if (!this.runtimeKnows(id)) return null;
      throw err;
    }
    const j = JSON.parse(out) as { status?: string; pid?: number };
    const map: Record<string, RuntimeStatus> = {
      created: 'created',
      creating: 'created',
      running: 'running',
      paused: 'paused',
      pausing: 'paused',
      stopped: 'stopped',
    };
    return { status: map[j.status ?? ''] ?? 'stopped', pid: j.pid ?? 0 };
  }

  // ---- exits ----

  /**
   * Whether the conmon of `id` still runs. After a daemon restart, a container with neither an
   * exit file nor a live monitor lost its monitor (killed, host trouble): its exit status is gone.
   */
  async monitorAlive(id: string): Promise<boolean> {
    checkId('container', id);
    const pid = await readInt(path.join(this.layout.ctrDir(id), 'conmon.pid'));
    return !!pid && processAlive(pid) && (await isConmonFor(pid, id));
  }

  /** The recorded exit of `id`, or null while it runs (or after delete). */
  async exitInfo(id: string): Promise<ExitInfo | null> {
    checkId('container', id);
    const raw = await readExitFile(this.layout.exitFile(id));
    if (!raw) return null;
    return { exitCode: raw.exitCode, finishedAt: raw.finishedAt, oomKilled: await this.oomKilled(id) };
  }

  private async oomKilled(id: string): Promise<boolean> {
    const marker = path.join(this.layout.ctrDir(id), 'oom');
    if (existsSync(marker)) return true; // conmon's own OOM notification (persist dir)
    try {
      // The cgroup lives until runtime delete; remember the verdict past that.
      if (await cgroupOomKilled(await containerCgroupDirs(null, cgroupsPath(id)))) {
        await fs.writeFile(marker, '').catch(() => {});
        return true;
      }
    } catch {
      /* best effort */
    }
    return false;
  }

  private async onExitFile(id: string): Promise<void> {
    try {
      const info = await this.exitInfo(id);
      if (!info) return;
      const t = info.finishedAt.getTime();
      if (this.announced.get(id) === t) return;
      this.announced.set(id, t);
      this.emit('exit', id, info);
    } catch {
      /* the file vanished between event and read (deleted): nothing to announce */
    }
  }

  // ---- stdio ----

  private async meta(id: string): Promise<ContainerMeta> {
    const m = this.metas.get(id);
    if (m) return m;
    const j = JSON.parse(await fs.readFile(path.join(this.layout.ctrDir(id), 'meta.json'), 'utf8')) as ContainerMeta;
    this.metas.set(id, j);
    return j;
  }

  /**
   * Connect to the container's stdio. Works from create on (attach, then start, loses nothing).
   * On a container whose monitor is gone the stream ends at once.
   */
  async attach(id: string): Promise<AttachStream> {
    checkId('container', id);
    const m = await this.meta(id);
    return ConmonAttachStream.connect(this.layout.attachSocket(m.bundle, socketUuid(id)));
  }

  async resize(id: string, size: { height: number; width: number }): Promise<void> {
    checkId('container', id);
    const m = await this.meta(id);
    writeResize(path.join(m.bundle, 'ctl'), size.height, size.width);
  }

  /** Has the container's conmon reopen its log file (after the engine renamed it away); false when no conmon listens. */
  async reopenLog(id: string): Promise<boolean> {
    checkId('container', id);
    const m = await this.meta(id);
    return reopenLog(path.join(m.bundle, 'ctl'));
  }

  async exec(id: string, opts: ExecOptions): Promise<ExecSession> {
    checkId('container', id);
    checkId('exec', opts.execId);
    return runExec(
      {
        layout: this.layout,
        conmonPath: this.conmonPath,
        runtimeName: this.name,
        runtimePath: this.runtimePath,
        runtimeArgs: this.cli.globalArgs(),
        logLevel: this.logLevel,
      },
      id,
      opts,
    );
  }

  async resizeExec(id: string, execId: string, size: { height: number; width: number }): Promise<void> {
    checkId('container', id);
    checkId('exec', execId);
    writeResize(path.join(this.layout.execDir(id, execId), 'ctl'), size.height, size.width);
  }

  // ---- inspection ----

  private async initPid(id: string): Promise<number | null> {
    const pid = await readInt(path.join(this.layout.ctrDir(id), 'pidfile'));
    return pid && processAlive(pid) ? pid : null;
  }

  async pids(id: string): Promise<number[]> {
    checkId('container', id);
    const pid = await this.initPid(id);
    const fromCgroup = await cgroupPids(await containerCgroupDirs(pid, cgroupsPath(id)));
    if (fromCgroup && fromCgroup.length > 0) return fromCgroup;
    if (!this.runtimeKnows(id)) return [];
    const out = await this.cli.run(['ps', '--format', 'json', id]);
    return (JSON.parse(out || '[]') as number[] | null) ?? [];
  }

  async stats(id: string): Promise<CgroupStats & { networks: Record<string, InterfaceStats> }> {
    checkId('container', id);
    const pid = await this.initPid(id);
    const [cg, networks] = await Promise.all([readCgroupStats(await containerCgroupDirs(pid, cgroupsPath(id))), pid ? readNetworkStats(pid) : {}]);
    return { ...cg, networks };
  }
}
