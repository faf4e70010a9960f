// Builds a container's OCI runtime spec from Docker's container/host config with Docker's
// defaults (moby daemon/oci_linux.go createSpec), in containerd's shape: a default spec, then
// small option functions, each owning one part. The engine has validated the HostConfig,
// resolved mounts and devices, and probed the host before this runs: no I/O happens here.
import type { HostConfig, Ulimit } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import type { ResolvedDevices } from './devices.js';
import type { HostInfo } from './host-info.js';
import { withMounts, type UserMount } from './mounts.js';
import type { IdMapping } from '../util/idmap.js';
import { type NamespacePaths, namespaceModes, withNamespaces, withNetworkNamespace, withSysctls, withUserNamespace } from './namespaces.js';
import { usesInit, withProcess } from './process.js';
import { withDevices, withResources } from './resources.js';
import { withRlimits } from './rlimits.js';
import type { Spec, SpecOpt } from './runtime-spec.js';
import { OCI_VERSION } from './runtime-spec.js';
import { parseSecurityOpts, tweakCapabilities, withCapabilities, withMaskedPaths, withSeccomp } from './security.js';
import { parseSignal } from './signals.js';
import type { ResolvedUser } from './user.js';

export interface SpecInput {
  id: string;
  /** The mounted union rootfs (absolute path). */
  rootfs: string;
  /** Resolved entrypoint + cmd. */
  args: string[];
  /** Merged env (the engine adds HOSTNAME and the default PATH). */
  env: string[];
  user: ResolvedUser;
  cwd: string;
  tty: boolean;
  openStdin: boolean;
  hostname: string;
  domainname?: string;
  /** Docker's HostConfig, validated by the engine (validateHostConfig). */
  hostConfig: HostConfig;
  /** The user's mounts, parsed and with their sources on the host (userMounts + the engine's checks). */
  mounts: UserMount[];
  /** Device nodes and cgroup rules (resolveDevices). */
  devices: ResolvedDevices;
  /** Host paths bind-mounted at /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  /** Given by the runtime layer. */
  cgroupsPath: string;
  /** For --init: a static init bind-mounted read-only at /sbin/docker-init. */
  initPath?: string;
  stopSignal?: string;
  /** The daemon's --default-ulimit values, merged under HostConfig.Ulimits like Docker. */
  defaultUlimits?: Ulimit[];
  /** Namespaces to join for container:<id> modes, e.g. { ipc: '/proc/123/ns/ipc' }. */
  namespacePaths?: NamespacePaths;
  /** The network namespace the engine made or joins (engine/networks/sandboxes.ts). */
  networkNamespace?: string;
  /** berthd --userns-remap: the container gets a user namespace with these mappings (unless --userns=host). */
  idMapping?: IdMapping;
  /** The user namespace that owns networkNamespace (engine/networks/sandboxes.ts), joined with it. */
  userNamespace?: string;
}

/** The spec every container starts from: its rootfs, hostname and cgroup, nothing granted yet. */
function defaultSpec(input: SpecInput): Spec {
  const hc = input.hostConfig;
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: { user: { uid: 0, gid: 0 }, cwd: '/' },
    root: { path: input.rootfs, readonly: !!hc.ReadonlyRootfs },
    mounts: [],
    linux: { resources: {}, cgroupsPath: input.cgroupsPath },
  };
  if (hc.UTSMode !== 'host') spec.hostname = input.hostname;
  return spec;
}

/** Builds config.json for a container. */
export function buildSpec(input: SpecInput, host: HostInfo): Spec {
  if (!input.rootfs.startsWith('/')) throw new InvalidParameterError(`rootfs must be an absolute path: ${input.rootfs}`);
  if (input.args.length === 0) throw new InvalidParameterError('no command specified');
  if (input.stopSignal) parseSignal(input.stopSignal);
  const hc = input.hostConfig ?? {};
  const privileged = !!hc.Privileged;
  const sec = parseSecurityOpts(hc.SecurityOpt);
  const modes = namespaceModes(hc, !!input.idMapping);
  const caps = tweakCapabilities(hc.CapAdd, hc.CapDrop, privileged, host.capabilities);
  const initPath = usesInit(hc) ? input.initPath : undefined;
  const opts: SpecOpt[] = [
    withProcess({ ...input, hostConfig: hc }, sec),
    withCapabilities(caps),
    withRlimits(hc.Ulimits, input.defaultUlimits ?? [], host.hardLimits),
    withNamespaces(modes, hc.CgroupnsMode, input.namespacePaths ?? {}, host),
    withNetworkNamespace(input.networkNamespace),
    withUserNamespace(modes, input.idMapping, input.userNamespace),
    withMounts({
      hostConfig: hc,
      mounts: input.mounts,
      etcFiles: input.etcFiles,
      hostIpc: modes.hostIpc,
      ipcMode: modes.ipcMode,
      initPath,
      writableCgroups: sec.writableCgroups,
    }),
    withDevices(input.devices),
    withResources(hc, host, input.devices.blockIO),
    withSysctls(modes, input.domainname, hc.Sysctls ?? {}, host),
    withSeccomp(sec, caps, privileged, host),
    withMaskedPaths(hc, host),
  ];
  const spec = defaultSpec({ ...input, hostConfig: hc });
  for (const opt of opts) opt(spec);
  return spec;
}

/**
 * JSON for config.json. Identical to JSON.stringify except that RLIM_INFINITY (a bigint, which
 * only rlimits can carry) is written as the exact unsigned 64-bit number runtimes expect.
 */
export function specToJSON(spec: Spec, space?: number): string {
  return JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'bigint' ? `__BIGINT_${v.toString()}__` : v), space).replace(
    /"__BIGINT_(\d+)__"/g,
    '$1',
  );
}
