// Cgroup resources: memory, CPU, pids, block I/O and the device rules (moby daemon/oci_linux.go
// WithResources, WithDevices).
import type { HostConfig } from '../types/api.js';
import type { HostInfo } from './host-info.js';
import type { ResolvedDevices } from './devices.js';
import type { LinuxBlockIO, LinuxResources, SpecOpt } from './runtime-spec.js';

function memoryResources(hc: HostConfig, host: HostInfo): LinuxResources['memory'] {
  const memory: NonNullable<LinuxResources['memory']> = {};
  if ((hc.Memory ?? 0) > 0) memory.limit = hc.Memory!;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation!;
  if (host.swapLimit) {
    if ((hc.MemorySwap ?? 0) > 0) memory.swap = hc.MemorySwap!;
    else if ((hc.Memory ?? 0) > 0 && (hc.MemorySwap ?? 0) === 0) memory.swap = 2 * hc.Memory!;
  }
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness >= 0) {
    memory.swappiness = hc.MemorySwappiness;
  }
  if (hc.OomKillDisable !== undefined && hc.OomKillDisable !== null) memory.disableOOMKiller = hc.OomKillDisable;
  return Object.keys(memory).length ? memory : undefined;
}

function cpuResources(hc: HostConfig): LinuxResources['cpu'] {
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((hc.NanoCpus! * 100000) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;
  return Object.keys(cpu).length ? cpu : undefined;
}

/**
 * The cgroup limits of HostConfig (memory, CPU, pids, block I/O), as a container is created with
 * them and as `docker update` hands them to the runtime. `blockIO` holds the per-device settings
 * the engine resolved (resolveBlockIO).
 */
export function linuxResources(hc: HostConfig, host: HostInfo, blockIO: LinuxBlockIO = {}): LinuxResources {
  const resources: LinuxResources = {};
  const memory = memoryResources(hc, host);
  if (memory) resources.memory = memory;
  const cpu = cpuResources(hc);
  if (cpu) resources.cpu = cpu;
  // 0 or -1 mean "unlimited" to Docker; crun writes a -1 limit literally, which cgroup v1 refuses.
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit > 0) resources.pids = { limit: hc.PidsLimit };
  const blkio: LinuxBlockIO = { ...blockIO };
  if (hc.BlkioWeight) blkio.weight = hc.BlkioWeight;
  if (Object.keys(blkio).length) resources.blockIO = blkio;
  return resources;
}

/** Memory, CPU, pids and block I/O limits from HostConfig. */
export function withResources(hc: HostConfig, host: HostInfo, blockIO: LinuxBlockIO): SpecOpt {
  return (spec) => {
    Object.assign((spec.linux!.resources ??= {}), linuxResources(hc, host, blockIO));
  };
}

/** The device nodes and cgroup rules the engine resolved (resolveDevices). */
export function withDevices(resolved: ResolvedDevices): SpecOpt {
  return (spec) => {
    spec.linux!.devices = resolved.devices;
    (spec.linux!.resources ??= {}).devices = resolved.rules;
  };
}
