// The contract between the engine and the container runtime layer (conmon + crun/runc).
// The engine calls only these; everything about conmon's flags, pipes and sockets stays in runtime/.
import type { EventEmitter } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import type { BlkioStats } from '../types/api.js';

export type RuntimeName = 'crun' | 'runc';

export interface RuntimeOptions {
  name: RuntimeName;
  /** Directory for runtime state (crun/runc --root, conmon sockets, exit files, pid files). tmpfs. */
  execRoot: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Override the conmon binary (default: found on PATH or in /usr/libexec/podman). */
  conmonPath?: string;
  /** Override the OCI runtime binary (default: `name` found on PATH or in the sbin dirs). */
  runtimePath?: string;
}

export interface CreateOptions {
  id: string;
  /** OCI bundle directory holding config.json (its root.path is the mounted union rootfs). */
  bundle: string;
  /** conmon writes the container's output here in k8s-file format; none: it keeps nothing. */
  logPath?: string;
  tty: boolean;
  /** Keep a stdin pipe open for attach (docker -i). */
  openStdin: boolean;
  /** Close the container's stdin when the first attached client disconnects. */
  stdinOnce: boolean;
}

export interface CreatedContainer {
  /** Host pid of the container's init process. */
  pid: number;
  /** Host pid of its conmon. */
  monitorPid: number;
}

export type RuntimeStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface RuntimeState {
  status: RuntimeStatus;
  pid: number;
}

export interface ExitInfo {
  exitCode: number;
  /** True when the kernel OOM killer ended the container. */
  oomKilled: boolean;
  /** When conmon recorded the exit. */
  finishedAt: Date;
}

/** One attached client's view of a container's (or exec session's) stdio. */
export interface AttachStream extends EventEmitter {
  // emits 'data' (stream: 1 | 2, chunk: Buffer) — 1 stdout, 2 stderr (tty output is all stdout)
  // emits 'end' once the process's output is fully drained (the process exited or the monitor went away)
  writeStdin(chunk: Buffer): void;
  closeStdin(): void;
  /** Detach this client only; the container keeps running. */
  close(): void;
}

export interface ExecOptions {
  /** Unique id of the exec session. */
  execId: string;
  /** OCI runtime-spec "process" object for the new process. */
  process: Record<string, unknown>;
  tty: boolean;
  attachStdin: boolean;
  /** Connect an AttachStream for the output (default true). false + !attachStdin = detached exec. */
  attach?: boolean;
}

export interface ExecSession {
  pid: number;
  /** Present when the caller asked to attach; connected before the process starts so no output is lost. */
  stream?: AttachStream;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
}

/** Events a Runtime emits: 'exit' (id, ExitInfo) once per container exit, as soon as conmon records it. */
export interface RuntimeEvents {
  exit: [id: string, info: ExitInfo];
}

export interface CgroupStats {
  cpuTotalNs: number;
  cpuUserNs: number;
  cpuSystemNs: number;
  perCpuNs: number[];
  systemCpuNs: number;
  onlineCpus: number;
  memoryUsage: number;
  memoryMaxUsage: number;
  memoryLimit: number;
  memoryStats: Record<string, number>;
  pidsCurrent: number;
  pidsLimit: number;
  /** CFS bandwidth control: periods elapsed, periods throttled, ns throttled (cpu.stat). */
  cpuPeriods: number;
  cpuThrottledPeriods: number;
  cpuThrottledNs: number;
  /** blkio_stats in Docker's shape: per device and operation. */
  blkio: BlkioStats;
}


export interface LogEntry {
  stream: 'stdout' | 'stderr';
  time: Date;
  /** The bytes as the process wrote them, with the newline if it ended the line. */
  data: Buffer;
  /**
   * Where the entry ends in the log: its file's inode and the offset after it (whole lines read
   * from a file); `last`: no more whole line was read with it (the reader may wait next).
   */
  at?: { ino: number; offset: number; last: boolean };
}

export interface LogReadOptions {
  follow: boolean;
  since?: Date;
  until?: Date;
  /** Number of lines from the end; undefined for all. */
  tail?: number;
  /** Stops following when this signal aborts (client went away, container exited). */
  signal?: AbortSignal;
  /**
   * Following: hold an unterminated line until its newline (or the end) instead of handing out
   * what is there at each end of file, as a logging driver copies whole lines.
   */
  wholeLines?: boolean;
  /** The log file, already open (the reader closes it): for a reader that must not miss a file removed early. */
  handle?: FileHandle;
  /** Start after this point (an entry's `at`) when its file is still among those to read; else `since` applies. */
  from?: { ino: number; offset: number };
  /** The log's earlier files (rotated away, complete), oldest first, already open; the reader closes them. */
  rotated?: FileHandle[];
  /**
   * Following, at the end of the file with inode `ino`: the file the log went on in once it was
   * rotated, or null while that one is the newest (default: the log path, when it names another file).
   */
  successor?: (ino: number) => Promise<NextLogFile | null>;
}

/** The next file of a rotated log, for a reader following it. */
export interface NextLogFile {
  handle: FileHandle;
  /** The inode conmon wrote it under (the handle may be a decompressed copy). */
  ino: number;
}
