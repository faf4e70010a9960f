// Exec instances: a new process in a running container, monitored like the container itself.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ExecConfig, ExecInspect } from '../../types/api.js';
import { ConflictError, ExecStartError, InvalidParameterError, noSuchExec } from '../../errors.js';

/** crun's own words, without conmon's and our wrapping. */
function runtimeReason(err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  const m = /(?:crun|runc)[^:]*: (.*)$/s.exec(msg.trim());
  return (m ? m[1] : msg).trim().split('\n')[0];
}
import { resolveUser } from '../../oci/user.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { AttachStream } from '../../runtime/types.js';
import { newId } from '../../util/ids.js';
import type { ContainerService } from '../containers/container-service.js';
import { restartingError } from '../containers/start-errors.js';
import { processEnv } from '../containers/create-config.js';
import type { EventService } from '../events.js';
import type { Snapshotter } from '../../snapshot/overlay.js';

/** Docker keeps this much of a healthcheck probe's output. */
const PROBE_OUTPUT_MAX = 4096;

function killQuietly(pid: number): void {
  try {
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
}

export class ExecService {
  private readonly execs = new Map<string, ExecInstance>();

  constructor(
    private readonly containers: ContainerService,
    private readonly runtime: Runtime,
    private readonly snapshots: Snapshotter,
    private readonly events: EventService,
  ) {}

  async create(containerIdOrName: string, config: ExecConfig): Promise<{ Id: string }> {
    const c = this.containers.find(containerIdOrName);
    if (c.state.status === 'paused') throw new ConflictError(`container ${c.id} is paused, unpause the container before exec`);
    if (c.state.status === 'restarting') throw restartingError(c.id);
    if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
    if (!config || !Array.isArray(config.Cmd) || config.Cmd.length === 0 || !config.Cmd.every((a) => typeof a === 'string')) {
      throw new InvalidParameterError('No exec command specified');
    }
    const id = newId();
    this.execs.set(id, { id, containerId: c.id, config, running: false, started: false, exitCode: null, pid: 0 });
    c.execIds = [...(c.execIds ?? []), id];
    this.events.emit('container', `exec_create: ${config.Cmd.join(' ')}`, c.id, { image: c.image, name: c.name, execID: id });
    return { Id: id };
  }

  get(id: string): ExecInstance {
    const e = this.execs.get(id);
    if (!e) throw noSuchExec(id);
    return e;
  }

  inspect(id: string): ExecInspect {
    const e = this.get(id);
    return {
      CanRemove: false,
      DetachKeys: e.config.DetachKeys ?? '',
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        privileged: e.config.Privileged ?? false,
        user: e.config.User ?? '',
        tty: e.config.Tty ?? false,
        entrypoint: e.config.Cmd[0],
        arguments: e.config.Cmd.slice(1),
      },
      OpenStdin: e.config.AttachStdin ?? false,
      OpenStderr: e.config.AttachStderr ?? false,
      OpenStdout: e.config.AttachStdout ?? false,
      ContainerID: e.containerId,
      Pid: e.pid,
    };
  }

  /** The container's own process spec with the exec's command, env, user and cwd. */
  private async processSpec(e: ExecInstance, tty: boolean): Promise<Record<string, unknown>> {
    const c = this.containers.find(e.containerId);
    const spec = JSON.parse(await fsp.readFile(path.join(this.containers.bundleDir(c.id), 'config.json'), 'utf8')) as {
      process: Record<string, unknown> & { capabilities?: Record<string, string[]> };
    };
    const user = resolveUser(this.snapshots.mergedDir(c.id), e.config.User || c.config.User || '', c.hostConfig.GroupAdd);
    const env = processEnv(c.config, [], tty ? ['TERM=xterm'] : [], e.config.Env);
    if (!env.some((v) => v.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const proc: Record<string, unknown> = {
      ...spec.process,
      terminal: tty,
      args: e.config.Cmd,
      env,
      cwd: e.config.WorkingDir || (spec.process.cwd as string) || '/',
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    };
    if (e.config.ConsoleSize) proc.consoleSize = { height: e.config.ConsoleSize[0], width: e.config.ConsoleSize[1] };
    else delete proc.consoleSize;
    if (e.config.Privileged && spec.process.capabilities) {
      const all = [...new Set(Object.values(spec.process.capabilities).flat())];
      proc.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return proc;
  }

  /** Throws what `start` would refuse with before anything runs (the API answers it as a status). */
  checkStartable(id: string): void {
    const e = this.get(id);
    if (e.started) throw new ConflictError(`exec instance ${id} has already been started`);
    const c = this.containers.find(e.containerId);
    if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
  }

  /**
   * Starts the process; with attach, the returned stream is connected before it runs.
   * `exited` settles once the exit code is recorded, so inspect after it sees the code.
   */
  async start(id: string, opts: { detach: boolean; tty?: boolean }): Promise<{ stream?: AttachStream; exited: Promise<void> }> {
    this.checkStartable(id);
    const e = this.get(id);
    const c = this.containers.find(e.containerId);
    e.started = true;
    const tty = opts.tty ?? e.config.Tty ?? false;
    let session;
    try {
      session = await this.runtime.exec(c.id, {
        execId: id,
        process: await this.processSpec(e, tty),
        tty,
        attachStdin: !opts.detach && (e.config.AttachStdin ?? false),
      });
    } catch (err) {
      // As dockerd: the exec counts as run and failed with 126 (moby#45795: it sets 126 even
      // where 127 was meant), and the runtime's reason is the error.
      e.exitCode = 126;
      throw new ExecStartError(`OCI runtime exec failed: exec failed: ${runtimeReason(err)}: unknown`);
    }
    e.running = true;
    e.pid = session.pid;
    this.events.emit('container', `exec_start: ${e.config.Cmd.join(' ')}`, c.id, { image: c.image, name: c.name, execID: id });
    const exited = session.exited.then(
      (code) => this.finish(e, code),
      () => this.finish(e, 126),
    );
    return { stream: opts.detach ? undefined : session.stream, exited };
  }

  private finish(e: ExecInstance, code: number): void {
    e.running = false;
    e.exitCode = code;
    const c = this.containers.all().find((x) => x.id === e.containerId);
    this.events.emit('container', 'exec_die', e.containerId, { image: c?.image ?? '', name: c?.name ?? '', execID: e.id, exitCode: String(code) });
  }

  /**
   * A healthcheck probe: `cmd` run as an exec with the container's user, env and working dir,
   * its stdout and stderr together kept up to PROBE_OUTPUT_MAX bytes. Past `timeoutMs` the process
   * is killed. Like Docker, the probe is an exec instance (with its events) while it runs and is
   * forgotten after.
   */
  async probe(containerId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
    const { Id } = await this.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const e = this.get(Id);
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const { stream, exited } = await this.start(Id, { detach: false, tty: false });
      const drained = stream ? new Promise<void>((resolve) => stream.once('end', () => resolve())) : Promise.resolve();
      stream?.on('data', (_fd: number, chunk: Buffer) => {
        const keep = Math.max(0, Math.min(chunk.length, PROBE_OUTPUT_MAX - size));
        if (keep < chunk.length) truncated = true;
        if (keep > 0) chunks.push(chunk.subarray(0, keep));
        size += keep;
      });
      timer = setTimeout(() => {
        timedOut = true;
        killQuietly(e.pid);
      }, timeoutMs);
      await exited;
      await Promise.race([drained, new Promise((r) => setTimeout(r, 1000))]);
      stream?.close();
    } finally {
      clearTimeout(timer);
      this.forget(e);
    }
    const output = Buffer.concat(chunks).toString('utf8') + (truncated ? '...' : '');
    return { exitCode: e.exitCode ?? -1, output, timedOut };
  }

  private forget(e: ExecInstance): void {
    this.execs.delete(e.id);
    const c = this.containers.all().find((x) => x.id === e.containerId);
    if (c?.execIds) c.execIds = c.execIds.filter((id) => id !== e.id);
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const e = this.get(id);
    if (!e.running) throw new ConflictError(`exec ${id} is not running`);
    await this.runtime.resizeExec(e.containerId, id, { height, width });
  }

  /** Forget the exec instances of a removed container. */
  forgetContainer(containerId: string): void {
    for (const [id, e] of this.execs) if (e.containerId === containerId) this.execs.delete(id);
  }
}
