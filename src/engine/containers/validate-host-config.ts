// Docker's create-time HostConfig checks (moby daemon/daemon_unix.go
// verifyPlatformContainerSettings and friends), with its messages, made before a container is
// recorded, so that buildSpec later gets a HostConfig it can trust.
import type { HostConfig } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { parseDeviceCgroupRule } from '../../oci/devices.js';
import type { HostInfo } from '../../oci/host-info.js';
import { namespaceModes, validateSysctl } from '../../oci/namespaces.js';
import { validateUlimit } from '../../oci/rlimits.js';
import { normalizeCapabilities, parseSecurityOpts } from '../../oci/security.js';


const MIN_MEMORY = 6 * 1024 * 1024;
const VALID_IPC = /^(|host|private|shareable|none|container:.+)$/;
const VALID_PID = /^(|host|private|container:.+)$/;
const VALID_UTS = /^(|host|private)$/;

function parseCpuList(v: string): number[] | undefined {
  if (v === '') return [];
  const out: number[] = [];
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/**
 * Docker's create-time HostConfig checks (daemon/daemon_unix.go verifyPlatformContainerSettings
 * and friends), with its messages. Throws InvalidParameterError; returns the warnings Docker
 * would return (e.g. a discarded swap limit).
 */
export function validateHostConfig(hc: HostConfig, host: HostInfo, remapped = false): string[] {
  const fail = (msg: string): never => {
    throw new InvalidParameterError(msg);
  };
  if (!VALID_IPC.test(hc.IpcMode ?? '')) fail(`invalid IPC mode: ${hc.IpcMode}`);
  if (!VALID_PID.test(hc.PidMode ?? '')) fail(`invalid PID mode: ${hc.PidMode}`);
  if (!VALID_UTS.test(hc.UTSMode ?? '')) fail(`invalid UTS mode: ${hc.UTSMode}`);
  if (hc.CgroupnsMode !== undefined && !['', 'private', 'host'].includes(hc.CgroupnsMode)) {
    fail(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);
  }
  validateUserns(hc, remapped);
  const warnings = validateResources(hc, host, false);
  if ((hc.ShmSize ?? 0) < 0) fail('SHM size can not be less than 0');
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) fail(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  for (const rule of hc.DeviceCgroupRules ?? []) parseDeviceCgroupRule(rule);
  for (const u of hc.Ulimits ?? []) validateUlimit(u);
  parseSecurityOpts(hc.SecurityOpt);
  if (!hc.Privileged) normalizeCapabilities([...(hc.CapAdd ?? []), ...(hc.CapDrop ?? [])], host.capabilities);
  const modes = namespaceModes(hc);
  for (const key of Object.keys(hc.Sysctls ?? {})) validateSysctl(key, modes);
  return warnings;
}

/** --userns: the host's user namespace or (with berthd --userns-remap) one of its own; what a remapped container may not share (moby's messages). */
function validateUserns(hc: HostConfig, remapped: boolean): void {
  const mode = hc.UsernsMode ?? '';
  if (mode !== '' && mode !== 'host') throw new InvalidParameterError(`invalid USER mode: ${mode}`);
  if (!remapped || mode === 'host') return;
  if (hc.Privileged) {
    throw new InvalidParameterError('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
  }
  if (hc.NetworkMode === 'host') throw new InvalidParameterError("cannot share the host's network namespace when user namespaces are enabled");
  if (hc.PidMode === 'host') throw new InvalidParameterError('cannot share the host PID namespace when user namespaces are enabled');
}

/**
 * Docker's checks of the cgroup limits (verifyPlatformContainerResources), for create and for
 * `docker update` (`update`: a swap limit may come without a memory limit). Like Docker, what this
 * kernel cannot do is dropped from `hc` with a warning; what is wrong throws.
 */
export function validateResources(hc: HostConfig, host: HostInfo, update: boolean): string[] {
  const warnings: string[] = [];
  const fail = (msg: string): never => {
    throw new InvalidParameterError(msg);
  };
  const mem = hc.Memory ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) fail('Minimum memory limit allowed is 6MB');
  if (mem > 0 && (hc.MemorySwap ?? 0) !== -1 && !host.swapLimit) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    hc.MemorySwap = -1;
  }
  const swap = hc.MemorySwap ?? 0;
  if (mem > 0 && swap > 0 && swap < mem) fail('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0 && !update) fail('You should always set the Memory limit when using Memoryswap limit, see usage');
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    fail(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const resv = hc.MemoryReservation ?? 0;
  if (resv !== 0 && resv < MIN_MEMORY) fail('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && resv > 0 && mem < resv) fail('Minimum memory limit can not be less than memory reservation limit, see usage');
  if ((hc.KernelMemory ?? 0) > 0) {
    // kmem limits are gone from cgroup v2 and do nothing on cgroup v1 since Linux 5.16.
    warnings.push('Specifying a kernel memory limit is deprecated and will be removed in a future release.');
    warnings.push('Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    hc.KernelMemory = 0;
  }
  if (hc.OomKillDisable && !host.oomKillDisable) {
    warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    hc.OomKillDisable = false;
  }
  if (hc.OomKillDisable && mem === 0) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  warnings.push(...validateCpu(hc, host));
  warnings.push(...validateBlkio(hc, host));
  return warnings;
}

function validateCpu(hc: HostConfig, host: HostInfo): string[] {
  const fail = (msg: string): never => {
    throw new InvalidParameterError(msg);
  };
  const nano = hc.NanoCpus ?? 0;
  if (nano > 0 && (hc.CpuPeriod ?? 0) > 0) fail('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (hc.CpuQuota ?? 0) > 0) fail('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  const ncpu = host.availableCpus;
  if (nano < 0 || nano > ncpu * 1e9) {
    fail(`range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  }
  if ((hc.CpuShares ?? 0) < 0) fail(`invalid CPU shares (${hc.CpuShares}): value must be a positive integer`);
  const period = hc.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    fail('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = hc.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) fail('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (hc.CpusetCpus) {
    const list = parseCpuList(hc.CpusetCpus);
    if (!list) fail(`Invalid value ${hc.CpusetCpus} for cpuset cpus`);
    const n = host.onlineCpus;
    if (list!.some((c) => c >= n)) {
      fail(`Requested CPUs are not available - requested ${hc.CpusetCpus}, available: ${n === 1 ? '0' : `0-${n - 1}`}`);
    }
  }
  if (hc.CpusetMems) {
    const list = parseCpuList(hc.CpusetMems);
    if (!list) fail(`Invalid value ${hc.CpusetMems} for cpuset mems`);
    const available = new Set(parseCpuList(host.mems) ?? [0]);
    if (list!.some((m) => !available.has(m))) fail(`Requested memory nodes are not available - requested ${hc.CpusetMems}, available: ${host.mems}`);
  }
  return [];
}

function validateBlkio(hc: HostConfig, host: HostInfo): string[] {
  const warnings: string[] = [];
  if ((hc.BlkioWeight ?? 0) > 0 && !host.blkio.weight) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    hc.BlkioWeight = 0;
  }
  const bw = hc.BlkioWeight ?? 0;
  if (bw !== 0 && (bw < 10 || bw > 1000)) throw new InvalidParameterError('Range of blkio weight is from 10 to 1000');
  const discard = (field: keyof HostConfig, supported: boolean, msg: string): void => {
    const list = hc[field] as unknown[] | null | undefined;
    if (!list?.length || supported) return;
    warnings.push(msg);
    (hc as Record<string, unknown>)[field] = [];
  };
  discard('BlkioWeightDevice', host.blkio.weightDevice, 'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
  discard('BlkioDeviceReadBps', host.blkio.readBps, 'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.');
  discard('BlkioDeviceWriteBps', host.blkio.writeBps, 'Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.');
  discard('BlkioDeviceReadIOps', host.blkio.readIOps, 'Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.');
  discard('BlkioDeviceWriteIOps', host.blkio.writeIOps, 'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.');
  return warnings;
}

/** What Docker fills in at create (adaptContainerSettings): a memory limit brings twice its size as memory+swap. */
export function adaptResources(hc: HostConfig): void {
  if ((hc.Memory ?? 0) > 0 && (hc.MemorySwap ?? 0) === 0) hc.MemorySwap = 2 * hc.Memory!;
}
