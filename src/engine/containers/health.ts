// Healthchecks: while a container with a HEALTHCHECK (its image's or --health-cmd) runs, a probe
// runs in it as an exec every interval; State.Health keeps the status, the failing streak and the
// last five results, and a change of status is a `health_status: …` event. Docker's rules
// (moby daemon/health.go): failures during the start period do not count, probes then run every
// start interval until the first success, `retries` failures in a row make it unhealthy, and a
// monitor that stops (exit, pause) leaves the status at unhealthy.
import type { ContainerConfig, HealthConfig, HealthcheckResult, HealthStatus } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { formatGoDuration } from '../../util/duration.js';
import { logger } from '../../util/logger.js';
import type { ContainerRecord } from './container.js';

const NS_PER_MS = 1e6;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_START_INTERVAL_MS = 5_000;
const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
/** Docker's MinimumDuration for the healthcheck's durations. */
const MIN_DURATION_NS = 1e6;

/** Docker's create-time checks of Config.Healthcheck, with its messages. */
export function validateHealthcheck(hc: HealthConfig | undefined | null): void {
  if (!hc) return;
  // docker-py sends null for what it leaves unset.
  const tooShort = (v: number | null | undefined): boolean => typeof v === 'number' && v !== 0 && v < MIN_DURATION_NS;
  const fail = (msg: string): never => {
    throw new InvalidParameterError(msg);
  };
  if (tooShort(hc.Interval)) fail('Interval in Healthcheck cannot be less than 1ms');
  if (tooShort(hc.Timeout)) fail('Timeout in Healthcheck cannot be less than 1ms');
  if ((hc.Retries ?? 0) < 0) fail('Retries in Healthcheck cannot be negative');
  if (tooShort(hc.StartPeriod)) fail('StartPeriod in Healthcheck cannot be less than 1ms');
  if (tooShort(hc.StartInterval)) fail('StartInterval in Healthcheck cannot be less than 1ms');
}

/** The probe's command line, or undefined when there is no healthcheck (none, NONE, unknown type). */
export function probeCommand(config: ContainerConfig): string[] | undefined {
  const test = config.Healthcheck?.Test;
  if (!test || test.length === 0) return undefined;
  if (test[0] === 'CMD' && test.length > 1) return test.slice(1);
  if (test[0] === 'CMD-SHELL' && test.length > 1) return [...(config.Shell?.length ? config.Shell : ['/bin/sh', '-c']), test.slice(1).join(' ')];
  return undefined;
}

export interface HealthDeps {
  /** Runs the command in the container as an exec. */
  probe(c: ContainerRecord, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }>;
  /** Saves the record unless the container was removed meanwhile. */
  persist(c: ContainerRecord): Promise<void>;
  emit(c: ContainerRecord, action: string): void;
}

interface Monitor {
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

function msOr(ns: number | undefined, dflt: number): number {
  return ns ? ns / NS_PER_MS : dflt;
}

export class HealthMonitor {
  private readonly monitors = new Map<string, Monitor>();

  constructor(private readonly deps: HealthDeps) {}

  /** The container (re)started: status `starting`, streak 0, probing begins. */
  start(c: ContainerRecord): void {
    if (!probeCommand(c.config)) return;
    this.stop(c);
    c.state.health = { Status: 'starting', FailingStreak: 0, Log: c.state.health?.Log ?? [] };
    this.open(c);
  }

  /** Probing resumes where it stopped (unpause), status unchanged until the next probe. */
  resume(c: ContainerRecord): void {
    if (c.state.health && probeCommand(c.config)) this.open(c);
  }

  /** Exit, pause or removal: no more probes, and (as in Docker) the status reads unhealthy. */
  stop(c: ContainerRecord): void {
    if (!this.monitors.has(c.id)) return;
    this.forget(c.id);
    if (c.state.health) c.state.health.Status = 'unhealthy';
  }

  /** The container is gone: its monitor (if any) stops. */
  forget(id: string): void {
    const m = this.monitors.get(id);
    if (!m) return;
    m.stopped = true;
    clearTimeout(m.timer);
    this.monitors.delete(id);
  }

  private open(c: ContainerRecord): void {
    if (this.monitors.has(c.id)) return;
    const m: Monitor = { stopped: false };
    this.monitors.set(c.id, m);
    const next = (): void => {
      if (m.stopped) return;
      m.timer = setTimeout(() => {
        void this.probeOnce(c, m)
          .catch((err: Error) => logger.warn(`healthcheck of ${c.id.slice(0, 12)}: ${err.message}`))
          .finally(next);
      }, this.interval(c));
    };
    next();
  }

  /** The start interval while starting within the start period, else the interval. */
  private interval(c: ContainerRecord): number {
    const hc = c.config.Healthcheck ?? {};
    const startPeriod = msOr(hc.StartPeriod, 0);
    if (c.state.health?.Status === 'starting' && Date.now() - Date.parse(c.state.startedAt) < startPeriod) {
      return msOr(hc.StartInterval, DEFAULT_START_INTERVAL_MS);
    }
    return msOr(hc.Interval, DEFAULT_INTERVAL_MS);
  }

  private async probeOnce(c: ContainerRecord, m: Monitor): Promise<void> {
    const cmd = probeCommand(c.config);
    if (!cmd) return;
    const timeoutMs = msOr(c.config.Healthcheck?.Timeout, DEFAULT_TIMEOUT_MS);
    const start = new Date();
    let exitCode: number;
    let output: string;
    try {
      const r = await this.deps.probe(c, cmd, timeoutMs);
      exitCode = r.timedOut ? -1 : r.exitCode;
      output = r.timedOut ? `Health check exceeded timeout (${formatGoDuration(timeoutMs * NS_PER_MS)})` : r.output;
    } catch (err) {
      exitCode = -1;
      output = (err as Error).message;
    }
    // A result that arrives after the monitor stopped is dropped, as in Docker.
    if (m.stopped) return;
    await this.record(c, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output });
  }

  private async record(c: ContainerRecord, result: HealthcheckResult): Promise<void> {
    const h = c.state.health;
    if (!h) return;
    const before = h.Status;
    h.Log = [...h.Log, result].slice(-MAX_LOG_ENTRIES);
    if (result.ExitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else if (!this.inStartPeriod(c, result)) {
      h.FailingStreak++;
      if (h.FailingStreak >= (c.config.Healthcheck?.Retries || DEFAULT_RETRIES)) h.Status = 'unhealthy';
    }
    await this.deps.persist(c);
    if (h.Status !== before) this.deps.emit(c, `health_status: ${h.Status satisfies HealthStatus}`);
  }

  /** Failures while still starting within the start period do not count. */
  private inStartPeriod(c: ContainerRecord, result: HealthcheckResult): boolean {
    if (c.state.health?.Status !== 'starting') return false;
    return Date.parse(result.Start) - Date.parse(c.state.startedAt) < msOr(c.config.Healthcheck?.StartPeriod, 0);
  }
}
