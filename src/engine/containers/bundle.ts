// Everything a container needs on disk before the runtime can create it: its /etc files and
// the OCI bundle (config.json) generated from its Docker config.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InvalidParameterError } from '../../errors.js';
import { editHostsFile, etcFilesContent, ownHostNames } from '../../oci/etc-files.js';
import { resolveDevices } from '../../oci/devices.js';
import type { HostInfo } from '../../oci/host-info.js';
import type { IdMapping } from '../../util/idmap.js';
import { buildSpec, specToJSON } from '../../oci/spec.js';
import type { Spec } from '../../oci/runtime-spec.js';
import { resolveUser } from '../../oci/user.js';
import { cgroupsPath } from '../../runtime/paths.js';
import type { Ulimit } from '../../types/api.js';
import type { ContainerRecord } from './container.js';
import { processEnv } from './create-config.js';
import type { Sandbox } from '../networks/sandboxes.js';
import { type VolumeMounter, setupMounts } from './mounts.js';

/** Docker's --init binary; Debian's tini-static works in any rootfs since it needs no libc. */
export const INIT_BINARY = '/usr/bin/tini-static';

export interface BundleInput {
  container: ContainerRecord;
  rootfs: string;
  bundleDir: string;
  containerDir: string;
  /** daemon.json default-ulimits, under the container's own. */
  defaultUlimits?: Ulimit[];
  /** Legacy --link variables (<ALIAS>_NAME, <ALIAS>_ENV_*, <ALIAS>_PORT…). */
  linkEnv?: string[];
  /** Its network: namespace, addresses, name servers (engine/networks/sandboxes.ts). */
  sandbox?: Sandbox;
  host: HostInfo;
  volumes: VolumeMounter;
  /** berthd --userns-remap: container ids ↔ host ids (the /etc files and a new WORKDIR are owned by the mapped ids). */
  ids?: IdMapping;
  /** The runtime's last touches to the spec (Runtime.prepareSpec). */
  prepareSpec?: (spec: Spec) => void;
}

/** Writes hostname/hosts/resolv.conf (kept across restarts, like Docker's) and config.json; returns the bundle dir. */
export async function prepareBundle(input: BundleInput): Promise<string> {
  const c = input.container;
  const hc = c.hostConfig;
  const etc = containerEtcFiles(c, input.sandbox);
  const files = {
    hostname: path.join(input.containerDir, 'hostname'),
    hosts: path.join(input.containerDir, 'hosts'),
    resolvConf: path.join(input.containerDir, 'resolv.conf'),
  };
  // Rewritten at every start, so no fsync: a crash loses nothing the next start doesn't remake.
  await Promise.all([fsp.writeFile(files.hostname, etc.hostname), fsp.writeFile(files.hosts, etc.hosts), fsp.writeFile(files.resolvConf, etc.resolvConf)]);
  if (input.ids) {
    // Container root edits its /etc/hosts as Docker's does: the files are the mapped root's.
    const { uid, gid } = input.ids.root;
    await Promise.all(Object.values(files).map((f) => fsp.chown(f, uid, gid)));
  }

  const user = resolveUser(input.rootfs, c.config.User, hc.GroupAdd);
  const env = processEnv(c.config, input.linkEnv);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  const cwd = c.config.WorkingDir || '/';
  const owner = input.ids ? input.ids.toHost(user) : user;
  await ensureWorkdir(input.rootfs, cwd, owner.uid, owner.gid);
  const mounts = await setupMounts(c, input.volumes, input.ids?.root);
  const sb = input.sandbox;
  const spec = buildSpec({
    id: c.id,
    rootfs: input.rootfs,
    args: [c.path, ...c.args],
    env,
    user,
    cwd,
    tty: c.config.Tty ?? false,
    openStdin: c.config.OpenStdin ?? false,
    hostname: c.config.Hostname ?? '',
    domainname: c.config.Domainname,
    hostConfig: hc,
    mounts,
    devices: resolveDevices(hc),
    etcFiles: files,
    cgroupsPath: cgroupsPath(c.id),
    initPath: hc.Init ? INIT_BINARY : undefined,
    stopSignal: c.config.StopSignal,
    defaultUlimits: input.defaultUlimits,
    networkNamespace: sb?.netnsPath,
    idMapping: input.ids,
    userNamespace: sb?.usernsPath,
  }, input.host);
  input.prepareSpec?.(spec);
  await fsp.mkdir(input.bundleDir, { recursive: true, mode: 0o700 });
  await fsp.writeFile(path.join(input.bundleDir, 'config.json'), specToJSON(spec));
  return input.bundleDir;
}

/** What a container's /etc files take from its network (the Sandbox's fields). */
export type EtcNetwork = Pick<Sandbox, 'ips' | 'nameservers' | 'extraHosts' | 'hostGateway'>;

/** The contents of a container's hostname, hosts and resolv.conf on the network `sb`. */
export function containerEtcFiles(c: ContainerRecord, sb: EtcNetwork | undefined): { hostname: string; hosts: string; resolvConf: string } {
  const hc = c.hostConfig;
  // On networks with name resolution the gateway (aardvark-dns) answers first and forwards the rest.
  const dns = sb?.nameservers.length ? [...sb.nameservers, ...(hc.Dns ?? [])] : hc.Dns;
  return etcFilesContent({
    hostname: c.config.Hostname ?? c.id.slice(0, 12),
    domainname: c.config.Domainname,
    networkMode: hc.NetworkMode,
    ips: sb?.ips,
    extraHosts: [...(sb?.extraHosts ?? []), ...(hc.ExtraHosts ?? [])],
    hostGatewayIPs: sb?.hostGateway,
    dns,
    dnsSearch: hc.DnsSearch,
    dnsOptions: hc.DnsOptions,
  });
}

/**
 * A running container joined or left a network (`network connect|disconnect`): /etc/hosts gains
 * or loses the line of that address, as libnetwork edits it; resolv.conf is written again with the
 * name servers of its networks now — unless the user changed it since Berth wrote it (Docker
 * makes no further change to a modified resolv.conf either). Both are written in place: they are
 * bind-mounted into the container.
 */
export async function updateNetworkFiles(containerDir: string, c: ContainerRecord, before: EtcNetwork, after: EtcNetwork): Promise<void> {
  const hostsPath = path.join(containerDir, 'hosts');
  const hosts = await fsp.readFile(hostsPath, 'utf8');
  const names = ownHostNames(c.config.Hostname ?? c.id.slice(0, 12), c.config.Domainname);
  const added = after.ips.filter((ip) => !before.ips.includes(ip));
  const removed = before.ips.filter((ip) => !after.ips.includes(ip));
  const edited = editHostsFile(hosts, names, added, removed);
  if (edited !== hosts) await fsp.writeFile(hostsPath, edited);
  const resolvPath = path.join(containerDir, 'resolv.conf');
  const current = await fsp.readFile(resolvPath, 'utf8');
  const next = containerEtcFiles(c, after).resolvConf;
  if (next !== current && current === containerEtcFiles(c, before).resolvConf) await fsp.writeFile(resolvPath, next);
}

/** Docker creates a missing WORKDIR in the container's writable layer, owned by the user. */
async function ensureWorkdir(rootfs: string, cwd: string, uid: number, gid: number): Promise<void> {
  const normal = path.posix.normalize(cwd);
  if (normal === '/') return;
  let cur = rootfs;
  for (const part of normal.split('/').filter(Boolean)) {
    cur = path.join(cur, part);
    let st;
    try {
      st = await fsp.lstat(cur);
    } catch {
      await fsp.mkdir(cur, { mode: 0o755 });
      await fsp.chown(cur, uid, gid).catch(() => undefined);
      continue;
    }
    // Never follow a link out of the rootfs; the runtime resolves cwd inside the container itself.
    if (st.isSymbolicLink()) return;
    if (!st.isDirectory()) throw new InvalidParameterError(`working directory ${cwd} is not a directory`);
  }
}
