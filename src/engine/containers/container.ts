// A container as the engine records it, and how its state reads to a Docker user.
import { humanDuration } from '../../util/duration.js';
import type { ContainerConfig, ContainerState, ContainerStatus, Health, HostConfig } from '../../types/api.js';
import type { MountPointRecord } from './mount-spec.js';
import type { PublishedPort } from '../../network/ports.js';
import type { EndpointRecord } from '../networks/network.js';

export interface ContainerStateRecord {
  status: ContainerStatus;
  pid: number;
  monitorPid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  /**
   * Docker's HasBeenManuallyStopped: set by a `stop`/`kill`/`rm -f` from the user, cleared by the
   * next start. `unless-stopped` does not restart such a container.
   */
  stoppedByUser?: boolean;
  /** Paused by a `commit` (not by the user): a daemon killed mid-commit resumes it at its next start. */
  pausedForCommit?: boolean;
  /** Present once a container with a healthcheck has started. */
  health?: Health;
}

/** metadata/containers/<id>.json */
export interface ContainerRecord {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  created: string;
  /** The image as the user named it. */
  image: string;
  imageId: string;
  /** The effective config: the image's defaults merged with what the client sent. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  path: string;
  args: string[];
  state: ContainerStateRecord;
  restartCount: number;
  /** Volumes, binds and --mount tmpfs, as decided at create (inspect's Mounts). */
  mountPoints?: MountPointRecord[];
  /** Exec sessions are runtime-only; ids are listed for inspect. */
  execIds?: string[];
  /** The networks the container belongs to, by network name. */
  networks?: Record<string, EndpointRecord>;
  /** Its network namespace and published ports while it runs. */
  sandbox?: SandboxRecord;
}

export interface SandboxRecord {
  id: string;
  /** The namespace's bind mount (bridge networks); absent for host/none/container: modes. */
  netns?: string;
  ports: PublishedPort[];
  /** The network whose setup carried the port mappings. */
  portsNetwork?: string;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerStateRecord {
  return { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: ZERO_TIME, finishedAt: ZERO_TIME };
}

export function isRunning(c: ContainerRecord): boolean {
  return c.state.status === 'running' || c.state.status === 'paused' || c.state.status === 'restarting';
}

export function stateView(s: ContainerStateRecord): ContainerState {
  return {
    Status: s.status,
    // Docker counts a container waiting out its restart back-off as running.
    Running: s.status === 'running' || s.status === 'paused' || s.status === 'restarting',
    Paused: s.status === 'paused',
    Restarting: s.status === 'restarting',
    OOMKilled: s.oomKilled,
    Dead: s.status === 'dead',
    Pid: s.pid,
    ExitCode: s.exitCode,
    Error: s.error,
    StartedAt: s.startedAt,
    FinishedAt: s.finishedAt,
    ...(s.health ? { Health: s.health } : {}),
  };
}

/** How ps shows the health: "healthy", "unhealthy", "health: starting". */
function healthText(h: Health): string {
  return h.Status === 'starting' ? 'health: starting' : h.Status;
}

/** The STATUS column of `docker ps`. */
export function statusText(s: ContainerStateRecord, now = Date.now()): string {
  switch (s.status) {
    case 'running':
      if (s.health) return `Up ${humanDuration(now - Date.parse(s.startedAt))} (${healthText(s.health)})`;
      return `Up ${humanDuration(now - Date.parse(s.startedAt))}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited':
      if (s.finishedAt === ZERO_TIME) return 'Created';
      return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  }
}
