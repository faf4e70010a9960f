// `docker update`: new cgroup limits and a new restart policy for an existing container, merged
// into its HostConfig by Docker's rules (moby container.UpdateContainer): a zero or empty field
// leaves the current value, CPU quotas and NanoCPUs exclude each other across updates, and a
// memory limit may not pass the memory+swap limit already set unless that changes too.
import type { ContainerUpdateRequest, HostConfig } from '../../types/api.js';
import { ConflictError, InvalidParameterError, SystemError } from '../../errors.js';
import { resolveBlockIO } from '../../oci/devices.js';
import type { HostInfo } from '../../oci/host-info.js';
import { linuxResources } from '../../oci/resources.js';
import type { Runtime } from '../../runtime/runtime.js';
import { policyIsNone, validateRestartPolicy } from './restart-manager.js';
import { validateResources } from './validate-host-config.js';

const NUMERIC_FIELDS = ['BlkioWeight', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'MemorySwap', 'MemoryReservation', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'] as const;

/** The body's own checks (verifyContainerSettings with update=true); returns Docker's warnings. */
export function validateUpdate(body: ContainerUpdateRequest, host: HostInfo): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('invalid update config');
  const warnings = validateResources(body, host, true);
  if (body.RestartPolicy) validateRestartPolicy(body.RestartPolicy, false);
  return warnings;
}

/** The container's HostConfig after the update (a new object; `current` is left as it was). */
export function mergeUpdate(current: HostConfig, body: ContainerUpdateRequest): HostConfig {
  const conflict = (msg: string): never => {
    throw new ConflictError(msg);
  };
  const b = body;
  if ((b.NanoCpus ?? 0) > 0 && (current.CpuPeriod ?? 0) > 0) conflict('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if ((b.NanoCpus ?? 0) > 0 && (current.CpuQuota ?? 0) > 0) conflict('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if ((b.CpuPeriod ?? 0) > 0 && (current.NanoCpus ?? 0) > 0) conflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if ((b.CpuQuota ?? 0) > 0 && (current.NanoCpus ?? 0) > 0) conflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');

  const next: HostConfig = { ...current };
  for (const f of NUMERIC_FIELDS) if (b[f]) next[f] = b[f];
  if (b.CpusetCpus) next.CpusetCpus = b.CpusetCpus;
  if (b.CpusetMems) next.CpusetMems = b.CpusetMems;
  if (b.Memory) {
    if (b.Memory > (current.MemorySwap ?? 0) && !b.MemorySwap && (current.MemorySwap ?? 0) !== -1) {
      conflict('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    next.Memory = b.Memory;
  }
  // 0 and -1 both mean "unlimited" here (historically any negative value did).
  if (b.PidsLimit !== undefined && b.PidsLimit !== null) next.PidsLimit = b.PidsLimit > 0 ? b.PidsLimit : 0;
  if (b.RestartPolicy && b.RestartPolicy.Name !== '') {
    if (current.AutoRemove && !policyIsNone(b.RestartPolicy)) conflict('Restart policy cannot be updated because AutoRemove is enabled for the container');
    next.RestartPolicy = { Name: b.RestartPolicy.Name, MaximumRetryCount: b.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  return next;
}

/**
 * The HostConfig after the update, checked as a whole (a limit below the reservation is a 400,
 * not a runtime failure) and, for a running container, already written to its cgroup.
 */
export async function applyUpdate(deps: { runtime: Runtime; host: HostInfo }, id: string, current: HostConfig, body: ContainerUpdateRequest, running: boolean): Promise<HostConfig> {
  const next = mergeUpdate(current, body);
  validateResources({ ...next }, deps.host, true);
  if (!running) return next;
  const resources = linuxResources(next, deps.host, resolveBlockIO(next));
  // Unlimited pids must be said explicitly, or the runtime keeps the old limit.
  if (!resources.pids && body.PidsLimit !== undefined && body.PidsLimit !== null) resources.pids = { limit: -1 };
  try {
    await deps.runtime.update(id, resources);
  } catch (err) {
    throw new SystemError(`Cannot update container ${id}: ${(err as Error).message}`);
  }
  return next;
}
