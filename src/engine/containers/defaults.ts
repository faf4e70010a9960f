// What dockerd records for fields a client left out. Docker's inspect answers every field of its
// Go structs (zero values included) and fills a few with the daemon's defaults at create; clients
// such as docker-py and dockerode send sparse bodies and read those fields back (docker-py's
// `containers.run` reads HostConfig.LogConfig.Type), so the record is completed at create.
import type { ContainerConfig, HostConfig, LogConfig, Ulimit } from '../../types/api.js';
import { defaultMaskedPaths, defaultReadonlyPaths } from '../../oci/defaults.js';

/** The daemon's own defaults that a container takes at create. */
export interface ContainerDefaults {
  runtime: string;
  logConfig: LogConfig;
  cgroupV2: boolean;
  /** daemon.json default-ulimits: merged under a container's own at start, not recorded. */
  ulimits?: Ulimit[];
}

const SHM_SIZE = 64 * 1024 * 1024;

/** moby's container.HostConfig with Go's zero values, in its field order (the JSON key order). */
function zeroHostConfig(): HostConfig {
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: '', Config: {} },
    NetworkMode: '',
    PortBindings: null,
    RestartPolicy: { Name: '', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    ConsoleSize: [0, 0],
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: '',
    Dns: null,
    DnsOptions: null,
    DnsSearch: null,
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: '',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 0,
    Runtime: '',
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: null,
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: null,
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: false,
    PidsLimit: null,
    Ulimits: null,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    MaskedPaths: null,
    ReadonlyPaths: null,
  };
}

/**
 * Every HostConfig field, with the daemon's defaults where dockerd fills them at create
 * (daemon/daemon_unix.go adaptContainerSettings, daemon/create.go): log config, runtime, IPC
 * and cgroup namespace modes, /dev/shm size, masked and read-only paths (the swap default is
 * adaptResources'); "unset" sentinels (-1 swappiness, a pids limit ≤ 0) become null. Idempotent.
 */
export function completeHostConfig(given: HostConfig, d: ContainerDefaults): HostConfig {
  const hc: HostConfig = { ...zeroHostConfig() };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (hc as Record<string, unknown>)[k] = v;
  const log = hc.LogConfig ?? { Type: '' };
  hc.LogConfig = log.Type ? { Type: log.Type, Config: log.Config ?? {} } : { Type: d.logConfig.Type, Config: { ...(d.logConfig.Config ?? {}), ...(log.Config ?? {}) } };
  hc.RestartPolicy = { Name: hc.RestartPolicy?.Name ?? '', MaximumRetryCount: hc.RestartPolicy?.MaximumRetryCount ?? 0 };
  hc.Runtime ||= d.runtime;
  hc.IpcMode ||= 'private';
  hc.CgroupnsMode ||= d.cgroupV2 ? 'private' : 'host';
  if (!hc.ShmSize) hc.ShmSize = SHM_SIZE;
  if (hc.MemorySwappiness === -1) hc.MemorySwappiness = null;
  if (hc.PidsLimit !== null && hc.PidsLimit !== undefined && hc.PidsLimit <= 0) hc.PidsLimit = null;
  if (!hc.Privileged) {
    hc.MaskedPaths ??= defaultMaskedPaths();
    hc.ReadonlyPaths ??= defaultReadonlyPaths();
  }
  return hc;
}

/** Config as dockerd shows it: empty sets as null (Volumes) or absent (ExposedPorts, omitempty). */
export function completeConfig(c: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = { ...c };
  if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) delete out.ExposedPorts;
  if (out.Volumes && Object.keys(out.Volumes).length === 0) out.Volumes = null;
  if (out.Env && out.Env.length === 0) out.Env = null;
  return out;
}
