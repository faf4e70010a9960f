// The container's first process: command, environment, user, terminal (moby daemon/oci_linux.go
// WithCommonOptions, WithUser).
import type { HostConfig } from '../types/api.js';
import { SystemError } from '../errors.js';
import { CONTAINER_INIT_PATH } from './defaults.js';
import type { Process, SpecOpt } from './runtime-spec.js';
import type { SecurityOptions } from './security.js';
import type { ResolvedUser } from './user.js';

function hasEnv(env: readonly string[], name: string): boolean {
  return env.some((e) => e === name || e.startsWith(name + '='));
}

export interface ProcessInput {
  args: string[];
  env: string[];
  user: ResolvedUser;
  cwd: string;
  tty: boolean;
  hostConfig: HostConfig;
  /** The --init binary: given, it runs as pid 1 with the command as its argument. */
  initPath?: string;
}

/** Whether the container runs Docker's --init (only in its own pid namespace). */
export function usesInit(hc: HostConfig): boolean {
  const pidMode = hc.PidMode || '';
  return hc.Init === true && (pidMode === '' || pidMode === 'private');
}

/** args (behind the init when asked), env with TERM and HOME, the user, cwd, the console. */
export function withProcess(input: ProcessInput, sec: SecurityOptions): SpecOpt {
  return (spec) => {
    const hc = input.hostConfig;
    const env = [...input.env];
    if (input.tty && !hasEnv(env, 'TERM')) env.push('TERM=xterm');
    if (!hasEnv(env, 'HOME')) env.push(`HOME=${input.user.home || '/'}`);
    let args = [...input.args];
    if (usesInit(hc)) {
      if (!input.initPath) throw new SystemError('--init requested but no init binary is configured');
      args = [CONTAINER_INIT_PATH, '--', ...args];
    }
    const process: Process = {
      terminal: input.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args,
      env,
      cwd: input.cwd || '/',
      noNewPrivileges: sec.noNewPrivileges,
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    };
    if (input.tty && hc.ConsoleSize && (hc.ConsoleSize[0] > 0 || hc.ConsoleSize[1] > 0)) {
      process.consoleSize = { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] };
    }
    if (sec.apparmor && sec.apparmor !== 'unconfined') process.apparmorProfile = sec.apparmor;
    spec.process = { ...spec.process, ...process };
  };
}
