// A container's life once created: start, attach, the exit (and its restart policy), stop, kill,
// restart, pause and unpause. The state machine: created → running ⇄ paused → exited (→ restarting
// → running). One operation at a time per container, under the table's lock.
import type { Sandbox } from '../networks/sandboxes.js';
import { ConflictError, InvalidParameterError, NotFoundError, NotModifiedError } from '../../errors.js';
import { dockerStartError, restartingError } from './start-errors.js';
import { shortId } from '../../reference/index.js';
import type { AttachStream, ExitInfo } from '../../runtime/types.js';
import { isNoSpace } from '../../util/fs.js';
import { type ContainerRecord, isRunning } from './container.js';
import { linkEnv } from './links.js';
import { prepareBundle } from './bundle.js';
import { releaseMounts } from './mounts.js';
import { parseSignal } from '../../oci/signals.js';
import { logger } from '../../util/logger.js';
import type { ContainerTable } from './container-table.js';

const DEFAULT_STOP_TIMEOUT = 10;
/** How long a SIGKILL may take to show as an exit before kill, stop or rm -f give up (dockerd: 10 s, then again). */
export const KILL_WAIT_MS = 30_000;

export interface StopOptions {
  timeout?: number;
  signal?: string;
}

/** Removes a container (`--rm` after its exit or a failed start); remove.ts's, passed in. */
type AutoRemove = (id: string) => Promise<void>;

export class ContainerLifecycle {
  constructor(
    private readonly t: ContainerTable,
    private readonly autoRemove: AutoRemove,
  ) {}

  async start(idOrName: string): Promise<void> {
    const c = this.t.find(idOrName);
    try {
      await this.t.lock.run(c.id, async () => {
        if (c.state.status === 'paused') throw new ConflictError(`cannot start a paused container, try unpause instead`);
        if (isRunning(c)) throw new NotModifiedError(`container ${c.id} is already running`);
        if (c.state.status === 'removing' || c.state.status === 'dead') throw new ConflictError(`container ${c.id} is marked for removal and cannot be started`);
        this.t.restarts.reset(c);
        await this.startLocked(c);
      });
    } catch (err) {
      // As Docker does, a --rm container whose start failed is removed: `docker run --rm` waits for that.
      if ((err instanceof InvalidParameterError || err instanceof ConflictError || err instanceof NotFoundError) && c.hostConfig.AutoRemove && this.t.containers.has(c.id) && !isRunning(c)) {
        await this.autoRemove(c.id).catch(() => undefined);
      }
      throw err;
    }
  }

  /** The start itself, under the container's lock (user start, restart, policy restart, restart at boot). */
  async startLocked(c: ContainerRecord): Promise<void> {
    const { deps } = this.t;
    const runtime = deps.runtime;
    let created = false;
    const t0 = performance.now();
    const phases: string[] = [];
    const mark = (name: string): void => {
      phases.push(`${name}=${(performance.now() - t0).toFixed(1)}ms`);
    };
    let sandbox: Sandbox | undefined;
    try {
      await deps.logDrivers.prepare(c);
      sandbox = await deps.networking.attach(c);
      mark('network');
      const rootfs = await deps.snapshots.mount(c.id);
      mark('mount');
      const bundle = await prepareBundle({
        container: c,
        rootfs,
        sandbox,
        bundleDir: this.t.bundleDir(c.id),
        containerDir: this.t.containerDir(c.id),
        linkEnv: linkEnv(c, (n) => this.t.find(n)),
        defaultUlimits: deps.defaults.ulimits,
        host: deps.host,
        volumes: deps.volumes,
        ids: deps.snapshots.ids,
        prepareSpec: (spec) => runtime.prepareSpec(spec),
      });
      mark('bundle');
      // conmon appends to the log, so output of earlier runs stays, as with Docker's json-file.
      const res = await runtime.create({
        id: c.id,
        bundle,
        logPath: deps.logDrivers.keepsOutput(c) ? this.t.logPath(c.id) : undefined,
        tty: c.config.Tty ?? false,
        openStdin: c.config.OpenStdin ?? false,
        stdinOnce: c.config.StdinOnce ?? false,
      });
      created = true;
      mark('create');
      await this.t.pendingAttach.connect(c.id, () => runtime.attach(c.id));
      await sandbox.ready;
      mark('network-ready');
      const startedAt = new Date().toISOString();
      await runtime.start(c.id);
      mark('start');
      c.state = {
        ...c.state,
        status: 'running',
        pid: res.pid,
        monitorPid: res.monitorPid,
        exitCode: 0,
        error: '',
        oomKilled: false,
        startedAt,
        stoppedByUser: false,
      };
      await this.t.save(c);
      mark('saved');
      logger.debug(`start ${shortId(c.id)}: ${phases.join(' ')}`);
    } catch (err) {
      const msg = dockerStartError((err as Error).message, c.path);
      this.t.pendingAttach.fail(c.id, err as Error);
      if (created) await runtime.delete(c.id).catch(() => undefined);
      await sandbox?.ready.catch(() => undefined);
      await deps.networking.release(c).catch(() => undefined);
      await deps.snapshots.unmount(c.id).catch(() => undefined);
      await releaseMounts(c, deps.volumes);
      c.state = { ...c.state, status: c.state.status === 'created' ? 'created' : 'exited', exitCode: 127, error: msg };
      await this.t.save(c);
      this.t.emit(c, 'die', { exitCode: '127' });
      // The network's refusals (port taken, address in use, network gone) are Docker's own words.
      if (err instanceof ConflictError || err instanceof NotFoundError) throw err;
      throw new InvalidParameterError(`failed to create task for container: ${msg}`);
    }
    this.t.emit(c, 'start');
  }

  /** A stream on the container's stdio: now if it runs, else from its next start (no output lost). */
  async attach(idOrName: string, signal?: AbortSignal): Promise<AttachStream> {
    const c = this.t.find(idOrName);
    this.t.emit(c, 'attach');
    // Decide under the lock, but never wait for the start while holding it: start takes it too.
    const waiting = await this.t.lock.run(c.id, async () => {
      if (c.state.status === 'running' || c.state.status === 'paused') return undefined;
      // Wrapped in an object so that the lock is released without awaiting the start.
      return { p: this.t.pendingAttach.add(c.id, signal) };
    });
    if (waiting) return waiting.p;
    return this.t.deps.runtime.attach(c.id);
  }

  /** The runtime reported the container's exit (or recovery found one): recorded, `die`, the policy, `--rm`. */
  async handleExit(id: string, info: ExitInfo, error = ''): Promise<void> {
    const c = this.t.containers.get(id);
    if (!c) return;
    const { deps } = this.t;
    let restartDelay: number | undefined;
    let died = (): void => undefined;
    const announced = new Promise<void>((resolve) => (died = resolve));
    await this.t.lock.run(id, async () => {
      if (c.state.status !== 'running' && c.state.status !== 'paused') return;
      // The network's teardown goes on in the background: `run --rm` need not wait for it. Its
      // `network disconnect` events follow `die`, as dockerd's do.
      void deps.networking.release(c, announced).catch((err: Error) => logger.warn(`releasing the network of ${shortId(id)}: ${err.message}`));
      await Promise.all([deps.runtime.delete(id).catch(() => undefined), deps.snapshots.unmount(id).catch(() => undefined)]);
      await releaseMounts(c, deps.volumes);
      const ranFor = info.finishedAt.getTime() - Date.parse(c.state.startedAt);
      restartDelay = this.t.restarts.of(c).shouldRestart(c.hostConfig.RestartPolicy, info.exitCode, !!c.state.stoppedByUser, ranFor);
      if (restartDelay !== undefined) c.restartCount++;
      c.state = {
        ...c.state,
        status: restartDelay === undefined ? 'exited' : 'restarting',
        pid: 0,
        monitorPid: 0,
        exitCode: info.exitCode,
        oomKilled: info.oomKilled,
        error,
        finishedAt: info.finishedAt.toISOString(),
      };
      await this.t.save(c).catch((err: unknown) => {
        // A full disk (the container's own writes, often): the exit is known in memory and waiters are told.
        if (!isNoSpace(err)) throw err;
        logger.error(`recording the exit of ${shortId(id)}: ${(err as Error).message}`);
      });
      if (info.oomKilled) this.t.emit(c, 'oom');
      this.t.emit(c, 'die', { exitCode: String(info.exitCode) });
    }).finally(died);
    this.t.signals.exited(id, info.exitCode);
    if (restartDelay !== undefined) this.t.restarts.of(c).schedule(restartDelay, () => void this.restartAfterBackoff(c));
    if (c.hostConfig.AutoRemove && this.t.containers.has(id)) {
      await this.autoRemove(id).catch(() => undefined);
    }
  }

  private async restartAfterBackoff(c: ContainerRecord): Promise<void> {
    await this.t.lock
      .run(c.id, async () => {
        if (c.state.status !== 'restarting' || !this.t.containers.has(c.id)) return;
        await this.startLocked(c);
      })
      .catch((err: Error) => logger.warn(`restart ${shortId(c.id)}: ${err.message}`));
  }

  /**
   * The user stopped, killed or removed the container: no restart until its next start. One that
   * was waiting out its back-off is stopped at once. Called under the container's lock.
   */
  async cancelRestart(c: ContainerRecord): Promise<boolean> {
    this.t.restarts.of(c).cancel();
    if (c.state.status !== 'restarting') return false;
    c.state = { ...c.state, status: 'exited', stoppedByUser: true };
    await this.t.save(c);
    return true;
  }

  async stop(idOrName: string, opts: StopOptions): Promise<void> {
    const c = this.t.find(idOrName);
    if (!isRunning(c)) throw new NotModifiedError(`container ${c.id} is already stopped`);
    await this.stopContainer(c, opts);
  }

  private async stopContainer(c: ContainerRecord, opts: StopOptions): Promise<void> {
    const { runtime } = this.t.deps;
    const signal = opts.signal || c.config.StopSignal || 'SIGTERM';
    parseSignal(signal);
    const timeout = opts.timeout ?? c.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const exited = this.t.signals.waitForExit(c.id, timeout < 0 ? undefined : timeout * 1000);
    await this.t.lock.run(c.id, async () => {
      if (await this.cancelRestart(c)) return;
      if (!isRunning(c)) return;
      c.state.stoppedByUser = true;
      // dockerd reports each signal stop sends as a `kill` event, before the exit's `die`.
      this.t.emit(c, 'kill', { signal: String(parseSignal(signal)) });
      if (c.state.status === 'paused') {
        // A frozen process cannot act on a signal: deliver it, then thaw.
        await runtime.kill(c.id, signal).catch(() => undefined);
        await runtime.resume(c.id).catch(() => undefined);
      } else {
        await runtime.kill(c.id, signal).catch(() => undefined);
      }
    });
    if (isRunning(c) && (await exited) === undefined && isRunning(c)) {
      const killed = this.t.signals.waitForExit(c.id, KILL_WAIT_MS);
      this.t.emit(c, 'kill', { signal: '9' });
      await runtime.kill(c.id, 'SIGKILL').catch(() => undefined);
      if ((await killed) === undefined && isRunning(c)) throw new ConflictError(`container ${c.id} did not exit after SIGKILL`);
    }
    this.t.emit(c, 'stop');
  }

  /** Sends the signal; for SIGKILL (as dockerd) returns only once the exit is recorded. */
  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    parseSignal(signal); // a bad signal is refused as it is, before the container is looked at
    try {
      await this.killContainer(idOrName, signal);
    } catch (err) {
      // dockerd's wording names the container twice: "Cannot kill container: x: No such container: x"
      if (err instanceof Error) err.message = `Cannot kill container: ${idOrName}: ${err.message}`;
      throw err;
    }
  }

  private async killContainer(idOrName: string, signal: string): Promise<void> {
    const c = this.t.find(idOrName);
    const sig = parseSignal(signal);
    let exited: Promise<number | undefined> | undefined;
    await this.t.lock.run(c.id, async () => {
      if (!isRunning(c)) throw new ConflictError(`Container ${c.id} is not running`);
      // Docker: any signal from the user counts as a manual stop; the stop signal and SIGKILL also end the policy.
      c.state.stoppedByUser = true;
      if (sig === 9 || !c.config.StopSignal || sig === parseSignal(c.config.StopSignal)) {
        if (await this.cancelRestart(c)) return;
      }
      if (c.state.status === 'restarting') return;
      if (sig === 9) {
        exited = this.t.signals.waitForExit(c.id, KILL_WAIT_MS);
        await this.killThawed(c, true);
      } else {
        await this.t.deps.runtime.kill(c.id, signal);
      }
    });
    this.t.emit(c, 'kill', { signal: String(sig) });
    if (exited && (await exited) === undefined && isRunning(c)) throw new ConflictError(`container ${c.id} did not exit after SIGKILL`);
  }

  /**
   * SIGKILL, then a paused container is thawed: a frozen process never acts on a signal, so
   * without the thaw `rm -f` or `kill` of a paused container would wait for an exit forever.
   */
  async killThawed(c: ContainerRecord, throwIfGone = false): Promise<void> {
    const killed = this.t.deps.runtime.kill(c.id, 'SIGKILL');
    if (throwIfGone) await killed;
    else await killed.catch(() => undefined);
    if (c.state.status === 'paused') await this.t.deps.runtime.resume(c.id).catch(() => undefined);
  }

  async restart(idOrName: string, opts: StopOptions): Promise<void> {
    const c = this.t.find(idOrName);
    // A start racing this restart can make it run again between the stop and the lock: stop again then.
    for (let attempt = 0; ; attempt++) {
      if (isRunning(c)) await this.stopContainer(c, opts);
      const started = await this.t.lock.run(c.id, async () => {
        if (isRunning(c) && attempt < 3) return false;
        this.t.restarts.reset(c);
        await this.startLocked(c);
        return true;
      });
      if (started) break;
    }
    this.t.emit(c, 'restart');
  }

  async pause(idOrName: string, opts: { forCommit?: boolean } = {}): Promise<void> {
    const c = this.t.find(idOrName);
    await this.t.lock.run(c.id, async () => {
      if (!isRunning(c)) throw new ConflictError(`Container ${c.id} is not running`);
      if (c.state.status === 'restarting') throw restartingError(c.id);
      if (c.state.status === 'paused') throw new ConflictError(`Container ${c.id} is already paused`);
      await this.t.deps.runtime.pause(c.id);
      c.state.status = 'paused';
      if (opts.forCommit) c.state.pausedForCommit = true;
      await this.t.save(c);
    });
    this.t.emit(c, 'pause');
  }

  async unpause(idOrName: string): Promise<void> {
    const c = this.t.find(idOrName);
    await this.t.lock.run(c.id, async () => {
      if (c.state.status !== 'paused') throw new ConflictError(`Container ${c.id} is not paused`);
      await this.t.deps.runtime.resume(c.id);
      c.state.status = 'running';
      delete c.state.pausedForCommit;
      await this.t.save(c);
    });
    this.t.emit(c, 'unpause');
  }
}
