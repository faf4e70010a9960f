// Namespaces and namespaced sysctls: which of the host's namespaces a container shares, joins or
// gets afresh (moby daemon/oci_linux.go WithNamespaces, WithSysctls).
import type { HostConfig } from '../types/api.js';
import { InvalidParameterError, NotImplementedError } from '../errors.js';
import type { HostInfo } from './host-info.js';
import type { IdMapping } from '../util/idmap.js';
import type { LinuxNamespace, LinuxNamespaceType, SpecOpt } from './runtime-spec.js';

/** The namespace modes of a HostConfig, with Docker's defaults filled in. */
export interface NamespaceModes {
  networkMode: string;
  hostNet: boolean;
  /** network "container:<id>": the other container's namespace is joined. */
  joinedNet: boolean;
  ipcMode: string;
  hostIpc: boolean;
  pidMode: string;
  hostPid: boolean;
  hostUts: boolean;
  /** A user namespace of its own: the daemon remaps users and the container did not ask for --userns=host. */
  privateUser: boolean;
}

/** `remapped`: the daemon runs with --userns-remap. */
export function namespaceModes(hc: HostConfig, remapped = false): NamespaceModes {
  const networkMode = hc.NetworkMode || 'default';
  const ipcMode = hc.IpcMode || 'private';
  const pidMode = hc.PidMode || '';
  return {
    networkMode,
    hostNet: networkMode === 'host',
    joinedNet: networkMode.startsWith('container:'),
    ipcMode,
    hostIpc: ipcMode === 'host',
    pidMode,
    hostPid: pidMode === 'host',
    hostUts: hc.UTSMode === 'host',
    privateUser: remapped && hc.UsernsMode !== 'host',
  };
}

export type NamespacePaths = Partial<Record<'network' | 'ipc' | 'pid' | 'uts', string>>;

/**
 * The network namespace the engine prepared: a bridge network's (made and set up before the
 * runtime runs) or, for network "container:<id>", the other container's.
 */
export function withNetworkNamespace(path: string | undefined): SpecOpt {
  return (spec) => {
    const ns = path ? spec.linux?.namespaces?.find((n) => n.type === 'network') : undefined;
    if (ns) ns.path = path;
  };
}

/**
 * --userns-remap: a user namespace whose root is the daemon's remapped user (moby's
 * WithNamespaces) — the one that owns the network namespace the engine made (`path`), or a new
 * one. The rootfs and the daemon's files for the container are owned by the mapped ids already
 * (chown-on-unpack), so the runtime needs no id-mapped mounts.
 */
export function withUserNamespace(modes: NamespaceModes, ids: IdMapping | undefined, path: string | undefined): SpecOpt {
  return (spec) => {
    if (!modes.privateUser || !ids) return;
    spec.linux!.namespaces = [...(spec.linux!.namespaces ?? []), path ? { type: 'user', path } : { type: 'user' }];
    spec.linux!.uidMappings = ids.uids.map((m) => ({ ...m }));
    spec.linux!.gidMappings = ids.gids.map((m) => ({ ...m }));
  };
}

/** The container's namespaces: new ones, the host's (left out), or another container's (joined by path). */
export function withNamespaces(modes: NamespaceModes, cgroupnsMode: string | undefined, paths: NamespacePaths, host: HostInfo): SpecOpt {
  return (spec) => {
    const namespaces: LinuxNamespace[] = [{ type: 'mount' }];
    const add = (type: LinuxNamespaceType, path?: string): void => {
      namespaces.push(path ? { type, path } : { type });
    };
    if (!modes.hostNet) add('network', modes.joinedNet ? paths.network : undefined);
    if (!modes.hostUts) add('uts', paths.uts);
    if (!modes.hostPid) {
      const joined = modes.pidMode.startsWith('container:');
      if (joined && !paths.pid) {
        throw new NotImplementedError(`PID mode ${modes.pidMode} needs the other container's namespace, which was not given`);
      }
      add('pid', joined ? paths.pid : undefined);
    }
    if (!modes.hostIpc) {
      const joined = modes.ipcMode.startsWith('container:');
      if (joined && !paths.ipc) {
        throw new NotImplementedError(`IPC mode ${modes.ipcMode} needs the other container's namespace, which was not given`);
      }
      add('ipc', joined ? paths.ipc : undefined);
    }
    if ((cgroupnsMode || (host.cgroupV2 ? 'private' : 'host')) === 'private') add('cgroup');
    spec.linux!.namespaces = namespaces;
  };
}

const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** Docker's check that a --sysctl lives in a namespace the container does not share with the host. */
export function validateSysctl(key: string, modes: NamespaceModes): void {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
    if (modes.hostIpc) throw new InvalidParameterError(`sysctl "${key}" is not allowed in host IPC namespace`);
    return;
  }
  if (key.startsWith('net.')) {
    if (modes.hostNet || modes.joinedNet) throw new InvalidParameterError(`sysctl "${key}" is not allowed in host network namespace`);
    return;
  }
  if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (modes.hostUts) throw new InvalidParameterError(`sysctl "${key}" is not allowed in host UTS namespace`);
    return;
  }
  throw new InvalidParameterError(`sysctl "${key}" is not in a separate kernel namespace`);
}

/** The domain name, Docker's unprivileged ping and low ports in a private network, then --sysctl. */
export function withSysctls(modes: NamespaceModes, domainname: string | undefined, user: Record<string, string>, host: HostInfo): SpecOpt {
  return (spec) => {
    const sysctl: Record<string, string> = {};
    if (domainname && !modes.hostUts) sysctl['kernel.domainname'] = domainname;
    if (!modes.hostNet && !modes.joinedNet) {
      // In a user namespace the range may only name its own groups (EINVAL): moby leaves it out,
      // and the container's root pings with CAP_NET_RAW in its own namespace instead.
      if (host.sysctls.has('net.ipv4.ping_group_range') && !modes.privateUser) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
      if (host.sysctls.has('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
    }
    Object.assign(sysctl, user);
    if (Object.keys(sysctl).length) spec.linux!.sysctl = sysctl;
  };
}
