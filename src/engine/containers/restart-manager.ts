// Restart policies: whether a container that exited is started again, and after how long.
// Docker's rules (moby's restartmanager): the delay starts at 100 ms and doubles with every
// restart up to a minute, and a run of 10 s or more resets it; `on-failure[:max]` restarts only
// non-zero exits, at most `max` times; `unless-stopped` not after the user stopped it; a stop
// from the user cancels the policy until the next start.
import type { RestartPolicy } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
/** A run at least this long resets the back-off. */
const RESET_AFTER_MS = 10_000;

const POLICIES = ['no', 'always', 'on-failure', 'unless-stopped'];

/** The API's validation of HostConfig.RestartPolicy, with Docker 25+'s messages. */
export function validateRestartPolicy(policy: RestartPolicy | undefined, autoRemove: boolean | undefined): void {
  const name = policy?.Name ?? '';
  const max = policy?.MaximumRetryCount ?? 0;
  if (name !== '' && !POLICIES.includes(name)) {
    throw new InvalidParameterError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (!Number.isInteger(max)) throw new InvalidParameterError('invalid restart policy: maximum retry count must be an integer');
  if (name === 'on-failure' && max < 0) throw new InvalidParameterError('invalid restart policy: maximum retry count cannot be negative');
  if (name !== '' && name !== 'on-failure' && max !== 0) {
    throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'${max < 0 ? ' and cannot be negative' : ''}`);
  }
  if (autoRemove && name !== '' && name !== 'no') throw new InvalidParameterError(`can't create 'AutoRemove' container with restart policy`);
}

/** Whether `policy` restarts at all (an empty name is Docker's old spelling of "no"). */
export function policyIsNone(policy: RestartPolicy | undefined): boolean {
  return !policy || policy.Name === '' || policy.Name === 'no';
}

/** One container's restart state between two user starts: its back-off, its count, a pending restart. */
export class RestartManager {
  private delayMs = 0;
  private canceled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private restartCount: number) {}

  /**
   * After an exit: the delay before the container is started again, or undefined when the policy
   * says no (or the user stopped it). Counts the restart when there is one.
   */
  shouldRestart(policy: RestartPolicy | undefined, exitCode: number, manuallyStopped: boolean, ranForMs: number): number | undefined {
    if (policyIsNone(policy) || this.canceled) return undefined;
    if (ranForMs >= RESET_AFTER_MS) this.delayMs = 0;
    this.delayMs = this.delayMs === 0 ? FIRST_DELAY_MS : Math.min(this.delayMs * 2, MAX_DELAY_MS);
    if (!this.wantsRestart(policy!, exitCode, manuallyStopped)) return undefined;
    this.restartCount++;
    return this.delayMs;
  }

  /** At daemon start: would the policy start this stopped container again (no back-off)? */
  restartsAtBoot(policy: RestartPolicy | undefined, exitCode: number, manuallyStopped: boolean): boolean {
    if (policyIsNone(policy) || !this.wantsRestart(policy!, exitCode, manuallyStopped)) return false;
    this.restartCount++;
    return true;
  }

  private wantsRestart(policy: RestartPolicy, exitCode: number, manuallyStopped: boolean): boolean {
    switch (policy.Name) {
      case 'always':
        return true;
      case 'unless-stopped':
        return !manuallyStopped;
      case 'on-failure': {
        const max = policy.MaximumRetryCount ?? 0;
        return exitCode !== 0 && (max === 0 || this.restartCount < max);
      }
      default:
        return false;
    }
  }

  /** Runs `start` after `delayMs` unless cancelled first. */
  schedule(delayMs: number, start: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.canceled) start();
    }, delayMs);
  }

  /** The user stopped or removed the container: no more restarts until its next start. */
  cancel(): void {
    this.canceled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Every container's RestartManager, made on first use with the container's recorded count. */
export class RestartPolicies {
  private readonly managers = new Map<string, RestartManager>();

  of(c: { id: string; restartCount: number }): RestartManager {
    let rm = this.managers.get(c.id);
    if (!rm) {
      rm = new RestartManager(c.restartCount);
      this.managers.set(c.id, rm);
    }
    return rm;
  }

  /** A start by the user: the policy starts over with a count of 0 (Docker's ResetRestartManager). */
  reset(c: { id: string; restartCount: number }): void {
    this.forget(c.id);
    c.restartCount = 0;
  }

  /** Cancels any pending restart and drops the state. */
  forget(id: string): void {
    this.managers.get(id)?.cancel();
    this.managers.delete(id);
  }
}
