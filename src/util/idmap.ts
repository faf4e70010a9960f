// A user namespace's id mappings (berthd --userns-remap): container ids ↔ host ids, as the
// kernel reads /proc/<pid>/uid_map. With a mapping, every file Berth writes for a container —
// layers unpacked, files copied in, the writable layer's root — carries the host ids, and every
// tar Berth makes of them (commit, export, cp out) carries the container's ids again, so layer
// digests are the same as without remapping (moby's idtools.IdentityMapping).
import { InvalidParameterError } from '../errors.js';

/** One range, as the OCI spec's uidMappings/gidMappings and /proc/<pid>/uid_map have it. */
export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface IdPair {
  uid: number;
  gid: number;
}

function toHost(maps: readonly LinuxIDMapping[], id: number): number | undefined {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

function toContainer(maps: readonly LinuxIDMapping[], id: number): number | undefined {
  for (const m of maps) if (id >= m.hostID && id < m.hostID + m.size) return m.containerID + (id - m.hostID);
  return undefined;
}

export class IdMapping {
  constructor(
    readonly uids: readonly LinuxIDMapping[],
    readonly gids: readonly LinuxIDMapping[],
  ) {
    if (uids.length === 0 || gids.length === 0) throw new InvalidParameterError('an id mapping needs at least one uid and one gid range');
  }

  /**
   * Contiguous subordinate ranges (from /etc/subuid, /etc/subgid) stacked from container id 0,
   * as dockerd's createIDMap does.
   */
  static fromRanges(uidRanges: { start: number; length: number }[], gidRanges: { start: number; length: number }[]): IdMapping {
    const stack = (ranges: { start: number; length: number }[]): LinuxIDMapping[] => {
      let next = 0;
      return ranges.map((r) => {
        const m = { containerID: next, hostID: r.start, size: r.length };
        next += r.length;
        return m;
      });
    };
    return new IdMapping(stack(uidRanges), stack(gidRanges));
  }

  /** The host ids of the container's root: what owns its writable layer and data root. */
  get root(): IdPair {
    return this.toHost({ uid: 0, gid: 0 });
  }

  /** A container's ids on the host; an id outside the mapping is refused (moby: "Container ID … cannot be mapped to a host ID"). */
  toHost(ids: IdPair): IdPair {
    const uid = toHost(this.uids, ids.uid);
    const gid = toHost(this.gids, ids.gid);
    if (uid === undefined) throw new InvalidParameterError(`Container ID ${ids.uid} cannot be mapped to a host ID`);
    if (gid === undefined) throw new InvalidParameterError(`Container ID ${ids.gid} cannot be mapped to a host ID`);
    return { uid, gid };
  }

  /**
   * Host ids as the container sees them. A host id outside the mapping is the overflow id
   * (nobody, 65534) there, and is archived as such.
   */
  toContainer(ids: IdPair): IdPair {
    return { uid: toContainer(this.uids, ids.uid) ?? 65534, gid: toContainer(this.gids, ids.gid) ?? 65534 };
  }

  /** The mapping as /proc/<pid>/uid_map shows it: "containerID hostID size" lines. */
  describe(): string {
    return this.uids.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join(', ');
  }
}
