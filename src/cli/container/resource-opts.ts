// The flags for resource limits, the restart policy and the healthcheck (run, create, update),
// parsed with the docker CLI's rules and messages into HostConfig / Config fields.

import type { HealthConfig, HostConfig, RestartPolicy } from '../../types/api.js';
import { collect, invalidFlag as invalid, StatusError, type Command } from '../cli.js';
import { ramInBytes } from '../format/units.js';
import { parseGoDuration } from '../../util/duration.js';

/** The limits `docker update` can change (and run/create set). */
export interface UpdateFlagOpts {
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuShares?: string;
  cpus?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  kernelMemory?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
  restart?: string;
}

export interface ResourceFlagOpts extends UpdateFlagOpts {
  blkioWeightDevice?: string[];
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
  device?: string[];
  deviceCgroupRule?: string[];
  memorySwappiness?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  shmSize?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  /** false with --no-healthcheck. */
  healthcheck?: boolean;
}

/** The flags of `docker update`, which run and create share. */
export function addUpdateFlags(c: Command): void {
  c.option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)')
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpu-rt-period <int>', 'Limit CPU real-time period in microseconds')
    .option('--cpu-rt-runtime <int>', 'Limit CPU real-time runtime in microseconds')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpus <decimal>', 'Number of CPUs')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--restart <string>', 'Restart policy to apply when a container exits');
  // Deprecated (API 1.42 dropped it) and hidden, as in the docker CLI; still sent when given.
  c.hidden('--kernel-memory <bytes>', 'Kernel memory limit (deprecated)');
}

/** run/create's limit, device and healthcheck flags beyond update's. */
export function addResourceFlags(c: Command): void {
  addUpdateFlags(c);
  c.option('--blkio-weight-device <list>', 'Block IO weight (relative device weight)', collect)
    .option('--device <list>', 'Add a host device to the container', collect)
    .option('--device-cgroup-rule <list>', 'Add a rule to the cgroup allowed devices list', collect)
    .option('--device-read-bps <list>', 'Limit read rate (bytes per second) from a device', collect)
    .option('--device-read-iops <list>', 'Limit read rate (IO per second) from a device', collect)
    .option('--device-write-bps <list>', 'Limit write rate (bytes per second) to a device', collect)
    .option('--device-write-iops <list>', 'Limit write rate (IO per second) to a device', collect)
    .option('--memory-swappiness <int>', 'Tune container memory swappiness (0 to 100)')
    .option('--oom-kill-disable', 'Disable OOM Killer')
    .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)")
    .option('--shm-size <bytes>', 'Size of /dev/shm')
    .option('--health-cmd <string>', 'Command to run to check health')
    .option('--health-interval <duration>', 'Time between running the check (ms|s|m|h) (default 0s)')
    .option('--health-retries <int>', 'Consecutive failures needed to report unhealthy')
    .option('--health-start-interval <duration>', 'Time between running the check during the start period (ms|s|m|h) (default 0s)')
    .option('--health-start-period <duration>', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)')
    .option('--health-timeout <duration>', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)')
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK');
}


function int(flag: string, v: string | undefined, unsigned = false): number | undefined {
  if (v === undefined) return undefined;
  const fn = unsigned ? 'strconv.ParseUint' : 'strconv.ParseInt';
  if (!(unsigned ? /^\d+$/ : /^[-+]?\d+$/).test(v)) throw invalid(flag, v, `${fn}: parsing "${v}": invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || (unsigned && n > 0xffff)) throw invalid(flag, v, `${fn}: parsing "${v}": value out of range`);
  return n;
}

function bytes(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return ramInBytes(v);
  } catch {
    throw invalid(flag, v, `invalid size: '${v}'`);
  }
}

/** opts.ParseCPUs: a rational number of CPUs, exactly representable in nano-CPUs. */
function nanoCpus(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(v);
  if (!m || (m[2] === '' && !m[3])) throw invalid('--cpus', v, `failed to parse ${v} as a rational number`);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > 9) throw invalid('--cpus', v, 'value is too precise');
  const nano = Number(m[2] || '0') * 1e9 + Number(frac.padEnd(9, '0') || '0');
  return m[1] === '-' ? -nano : nano;
}

/** opts.ParseRestartPolicy: the name is the daemon's to check; only the shape is checked here. */
export function parseRestartPolicy(v: string): RestartPolicy {
  const colon = v.indexOf(':');
  const name = colon < 0 ? v : v.slice(0, colon);
  const count = colon < 0 ? '' : v.slice(colon + 1);
  if (colon >= 0 && name === '') throw invalid('--restart', v, 'invalid restart policy format: no policy provided before colon');
  if (count !== '' && !/^[-+]?\d+$/.test(count)) throw invalid('--restart', v, 'invalid restart policy format: maximum retry count must be an integer');
  return { Name: name as RestartPolicy['Name'], MaximumRetryCount: count === '' ? 0 : Number(count) };
}

/** The fields `docker update` sends (UpdateConfig: the resources and the restart policy). */
export function updateFields(o: UpdateFlagOpts): HostConfig {
  const hc: HostConfig = {
    BlkioWeight: int('--blkio-weight', o.blkioWeight, true) ?? 0,
    CpusetCpus: o.cpusetCpus ?? '',
    CpusetMems: o.cpusetMems ?? '',
    CpuShares: int('-c, --cpu-shares', o.cpuShares) ?? 0,
    Memory: bytes('-m, --memory', o.memory) ?? 0,
    MemoryReservation: bytes('--memory-reservation', o.memoryReservation) ?? 0,
    MemorySwap: o.memorySwap === '-1' ? -1 : (bytes('--memory-swap', o.memorySwap) ?? 0),
    CpuPeriod: int('--cpu-period', o.cpuPeriod) ?? 0,
    CpuQuota: int('--cpu-quota', o.cpuQuota) ?? 0,
    CpuRealtimePeriod: int('--cpu-rt-period', o.cpuRtPeriod) ?? 0,
    CpuRealtimeRuntime: int('--cpu-rt-runtime', o.cpuRtRuntime) ?? 0,
    NanoCpus: nanoCpus(o.cpus) ?? 0,
  };
  const kernel = bytes('--kernel-memory', o.kernelMemory);
  if (kernel) hc.KernelMemory = kernel;
  const pids = int('--pids-limit', o.pidsLimit);
  if (pids !== undefined) hc.PidsLimit = pids;
  if (o.restart) hc.RestartPolicy = parseRestartPolicy(o.restart);
  return hc;
}

interface ThrottleDevice {
  Path: string;
  Rate: number;
}

function throttleDevice(flag: string, v: string, iops: boolean): ThrottleDevice {
  const colon = v.indexOf(':');
  const path = colon < 0 ? '' : v.slice(0, colon);
  if (!path) throw invalid(flag, v, `bad format: ${v}`);
  if (!path.startsWith('/dev/')) throw invalid(flag, v, `bad format for device path: ${v}`);
  const raw = v.slice(colon + 1);
  const rate = iops ? (/^\d+$/.test(raw) ? Number(raw) : NaN) : (() => {
    try {
      return ramInBytes(raw);
    } catch {
      return NaN;
    }
  })();
  if (!Number.isFinite(rate)) {
    const unit = iops ? '' : '[<unit>]';
    const tail = iops ? '' : '. Unit is optional and can be kb, mb, or gb';
    throw invalid(flag, v, `invalid rate for device: ${v}. The correct format is <device-path>:<number>${unit}. Number must be a positive integer${tail}`);
  }
  return { Path: path, Rate: rate };
}

function weightDevice(v: string): { Path: string; Weight: number } {
  const colon = v.indexOf(':');
  const path = colon < 0 ? '' : v.slice(0, colon);
  if (!path.startsWith('/dev/')) throw invalid('--blkio-weight-device', v, `bad format for device path: ${v}`);
  const w = v.slice(colon + 1);
  const weight = /^\d+$/.test(w) ? Number(w) : NaN;
  if (!Number.isFinite(weight) || (weight !== 0 && (weight < 10 || weight > 1000))) throw invalid('--blkio-weight-device', v, `invalid weight for device: ${v}`);
  return { Path: path, Weight: weight };
}

const DEVICE_MODE = /^[rwm]{1,3}$/;

/** opts.ParseDevice: /dev/src[:/dev/dst][:rwm]. */
function device(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(':');
  if (parts.length > 3 || parts.some((p) => p === '') ) throw invalid('--device', v, `bad format for path: ${v}`);
  let perms = 'rwm';
  let dst = '';
  if (parts.length === 3) perms = parts[2];
  if (parts.length >= 2) {
    if (DEVICE_MODE.test(parts[1]) && parts.length === 2) perms = parts[1];
    else dst = parts[1];
  }
  if (!DEVICE_MODE.test(perms)) throw invalid('--device', v, `bad mode specified: ${perms}`);
  for (const p of [parts[0], dst]) if (p && !p.startsWith('/')) throw invalid('--device', v, `${p} is not an absolute path`);
  return { PathOnHost: parts[0], PathInContainer: dst || parts[0], CgroupPermissions: perms };
}

/** HostConfig's resource fields for run/create (update's, devices, shm, OOM settings). */
export function resourceFields(o: ResourceFlagOpts): HostConfig {
  const hc = updateFields(o);
  delete hc.RestartPolicy;
  hc.BlkioWeightDevice = (o.blkioWeightDevice ?? []).map(weightDevice);
  hc.BlkioDeviceReadBps = (o.deviceReadBps ?? []).map((v) => throttleDevice('--device-read-bps', v, false));
  hc.BlkioDeviceWriteBps = (o.deviceWriteBps ?? []).map((v) => throttleDevice('--device-write-bps', v, false));
  hc.BlkioDeviceReadIOps = (o.deviceReadIops ?? []).map((v) => throttleDevice('--device-read-iops', v, true));
  hc.BlkioDeviceWriteIOps = (o.deviceWriteIops ?? []).map((v) => throttleDevice('--device-write-iops', v, true));
  hc.Devices = (o.device ?? []).map(device);
  hc.DeviceCgroupRules = o.deviceCgroupRule ?? [];
  hc.MemorySwappiness = int('--memory-swappiness', o.memorySwappiness) ?? -1;
  hc.OomKillDisable = !!o.oomKillDisable;
  hc.OomScoreAdj = int('--oom-score-adj', o.oomScoreAdj) ?? 0;
  const shm = bytes('--shm-size', o.shmSize);
  if (shm !== undefined) hc.ShmSize = shm;
  return hc;
}

function duration(flag: string, v: string | undefined): number {
  if (v === undefined) return 0;
  try {
    return parseGoDuration(v);
  } catch (err) {
    throw invalid(flag, v, (err as Error).message);
  }
}

/** Config.Healthcheck from the --health-* flags (undefined: the image's stays). */
export function healthFields(o: ResourceFlagOpts): HealthConfig | undefined {
  const hc: HealthConfig = {
    Interval: duration('--health-interval', o.healthInterval),
    Timeout: duration('--health-timeout', o.healthTimeout),
    StartPeriod: duration('--health-start-period', o.healthStartPeriod),
    StartInterval: duration('--health-start-interval', o.healthStartInterval),
    Retries: int('--health-retries', o.healthRetries) ?? 0,
  };
  const given = !!o.healthCmd || Object.values(hc).some((v) => v !== 0);
  if (o.healthcheck === false) {
    if (given) throw new StatusError(125, '--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given) return undefined;
  for (const [flag, v] of [
    ['--health-interval', hc.Interval],
    ['--health-timeout', hc.Timeout],
    ['--health-retries', hc.Retries],
    ['--health-start-period', hc.StartPeriod],
    ['--health-start-interval', hc.StartInterval],
  ] as const) {
    if ((v ?? 0) < 0) throw new StatusError(125, `${flag} cannot be negative`);
  }
  return o.healthCmd ? { Test: ['CMD-SHELL', o.healthCmd], ...hc } : hc;
}
