// A container's mounts at start: HostConfig's Binds, Mounts and Tmpfs parsed, and their host
// sources made ready (a missing -v source is created, as Docker does; a --mount one is an error).
import { existsSync, mkdirSync } from 'node:fs';
import type { HostConfig } from '../../types/api.js';
import { InvalidParameterError, SystemError } from '../../errors.js';
import { type UserMount, userMounts } from '../../oci/mounts.js';

export function resolveMounts(hc: HostConfig, volumePaths: Record<string, string> = {}): UserMount[] {
  const mounts = userMounts(hc, volumePaths);
  for (const m of mounts) {
    if (m.type !== 'bind' || existsSync(m.source)) continue;
    if (!m.create) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    try {
      mkdirSync(m.source, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new SystemError(`error while creating mount source path '${m.source}': ${(e as Error).message}`);
    }
  }
  return mounts;
}
