// Spawning conmon and speaking its pipe protocol (api-version 1).
//
// conmon reads three optional fds named by env vars:
//   _OCI_SYNCPIPE   conmon -> us: newline-terminated JSON, {"data": N[, "message": "..."]}.
//                   First message: the container (or exec) pid, or data < 0 with the runtime's
//                   stderr as message when create/exec failed. For exec sessions a second
//                   message carries the exit status once the process is gone.
//   _OCI_STARTPIPE  us -> conmon: conmon blocks reading it before doing anything; with
//                   --exec-attach its runtime child blocks on a second read before exec'ing the
//                   runtime, so we can connect to the attach socket first.
//   _OCI_ATTACHPIPE conmon -> us: {"data": 0} once the attach socket is listening (exec-attach).
// conmon double-forks (unless --sync) and calls setsid(): the process we spawn exits at once after
// writing --conmon-pidfile; the real monitor is re-parented to init and survives us.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Socket } from 'node:net';
import { cleanRuntimeMessage, childEnv, OciRuntimeError } from './oci-cli.js';

export interface SyncMessage {
  data: number;
  message?: string;
}

/** Splits a byte stream into JSON lines. */
class LineReader {
  private buf = '';
  private queue: SyncMessage[] = [];
  private waiters: Array<(m: SyncMessage | null) => void> = [];
  private ended = false;

  constructor(sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        let msg: SyncMessage;
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          const data = typeof j['data'] === 'number' ? j['data'] : typeof j['pid'] === 'number' ? j['pid'] : Number(j['exit_code']);
          msg = { data: data as number, message: typeof j['message'] === 'string' ? j['message'] : undefined };
        } catch {
          msg = { data: -1, message: `unparseable message from conmon: ${line}` };
        }
        this.push(msg);
      }
    });
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }

  private push(m: SyncMessage): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  /** Next message, or null at EOF. */
  next(): Promise<SyncMessage | null> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface ConmonSpawn {
  conmonPath: string;
  args: string[];
  cwd: string;
  runtimeName: string;
  /** exec --exec-attach: called once conmon's attach socket listens; the process runs after it resolves. */
  onAttachReady?: () => Promise<void>;
  /** Keep the sync pipe open after the pid arrives (exec: the exit status follows). */
  keepSync?: boolean;
  what: string;
}

export interface ConmonStarted {
  /** Pid of the container's init (or of the exec'd process). */
  pid: number;
  /** Resolves once the short-lived first conmon process exited (its pidfile is then written). */
  launcherExited: Promise<void>;
  /** With keepSync: the next message (exit status), or null at EOF. */
  nextMessage?: () => Promise<SyncMessage | null>;
  /** Release our ends of the pipes. */
  release(): void;
}

function waitExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

export async function startConmon(o: ConmonSpawn): Promise<ConmonStarted> {
  const env: Record<string, string> = { _OCI_SYNCPIPE: '3' };
  const stdio: StdioOptions = ['ignore', 'ignore', 'pipe', 'pipe'];
  const withAttach = !!o.onAttachReady;
  if (withAttach) {
    stdio.push('pipe', 'pipe');
    env['_OCI_STARTPIPE'] = '4';
    env['_OCI_ATTACHPIPE'] = '5';
  }
  const child = spawn(o.conmonPath, o.args, { cwd: o.cwd, env: childEnv(env), stdio, detached: true });
  child.unref();
  const fds = child.stdio as unknown as Array<Socket | null>;
  const sockets = fds.slice(2).filter((s): s is Socket => !!s);
  const release = () => {
    for (const s of sockets) s.destroy();
  };
  let stderr = '';
  const stderrSock = fds[2]!;
  stderrSock.setEncoding('utf8');
  stderrSock.on('data', (c: string) => {
    if (stderr.length < 65536) stderr += c;
  });
  stderrSock.on('error', () => {});
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const exited = waitExit(child);
  const sync = new LineReader(fds[3]!);

  const fail = (msg: string): never => {
    release();
    throw new OciRuntimeError(msg, o.runtimeName, o.what);
  };

  try {
    if (withAttach) {
      const start = fds[4]!;
      const attachPipe = new LineReader(fds[5]!);
      start.on('error', () => {});
      start.write('0');
      const ready = await Promise.race([attachPipe.next(), spawnError.then((e) => e)]);
      if (ready instanceof Error) fail(`cannot run conmon: ${ready.message}`);
      if (ready === null || (ready as SyncMessage).data !== 0) {
        await exited;
        fail(`conmon did not set up the attach socket${stderr ? `: ${stderr.trim()}` : ''}`);
      }
      await o.onAttachReady!();
      start.end('0');
    }
    const first = await Promise.race([sync.next(), spawnError]);
    if (first instanceof Error) fail(`cannot run conmon: ${first.message}`);
    const msg = first as SyncMessage | null;
    if (msg === null) {
      // conmon died before reporting anything: its stderr says why (bad flag, ...).
      await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
      fail(`${o.what} failed: conmon exited without reporting${stderr ? `: ${stderr.trim()}` : ''}`);
    }
    if (msg!.data <= 0) {
      const text = cleanRuntimeMessage(msg!.message ?? '') || `conmon reported ${msg!.data}`;
      fail(`${o.runtimeName} ${o.what}: ${text}`);
    }
    const launcherExited = exited.then(() => undefined);
    if (!o.keepSync) {
      // Nothing more will come for a container; don't hold the pipe.
      launcherExited.then(release, release);
      return { pid: msg!.data, launcherExited, release };
    }
    return { pid: msg!.data, launcherExited, nextMessage: () => sync.next(), release };
  } catch (err) {
    release();
    throw err;
  }
}

export interface ConmonArgs {
  id: string;
  uuid: string;
  name: string;
  runtimePath: string;
  runtimeArgs: string[];
  bundle: string;
  pidFile: string;
  conmonPidFile: string;
  persistDir: string;
  socketDir: string;
  exitDir?: string;
  logPath?: string;
  logLevel: string;
  tty: boolean;
  stdin: boolean;
  leaveStdinOpen: boolean;
  exec?: { processSpec: string; attach: boolean };
}

export function conmonArgs(a: ConmonArgs): string[] {
  const args = [
    '--api-version', '1',
    '-c', a.id,
    '-u', a.uuid,
    '-n', a.name,
    '-r', a.runtimePath,
    '-b', a.bundle,
    '-p', a.pidFile,
    '--conmon-pidfile', a.conmonPidFile,
    '--persist-dir', a.persistDir,
    '--socket-dir-path', a.socketDir,
    '-l', a.logPath ? `k8s-file:${a.logPath}` : 'none',
    '--log-level', a.logLevel,
    // conmon would fsync the log at exit: docker does not, and it costs on the exit path.
    '--no-sync-log',
  ];
  if (a.exitDir) args.push('--exit-dir', a.exitDir);
  if (a.tty) args.push('-t');
  if (a.stdin) args.push('-i');
  if (a.stdin && a.leaveStdinOpen) args.push('--leave-stdin-open');
  if (a.exec) {
    args.push('--exec', '--exec-process-spec', a.exec.processSpec);
    if (a.exec.attach) args.push('--exec-attach');
  }
  for (const r of a.runtimeArgs) args.push('--runtime-arg', r);
  return args;
}
