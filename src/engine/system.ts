// GET /version and GET /info: the daemon described in dockerd's shapes (every field dockerd
// answers, in its order, with Docker's empty values: null where Go has a nil slice or map).
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CgroupMode } from '../oci/host-info.js';
import type { RegistryOptions } from '../distribution/endpoint.js';
import type { SystemInfo, VersionResponse } from '../types/api.js';
import { runCommand } from '../util/exec.js';
import { writeFileAtomic } from '../util/fs.js';

/** What /info reports that only the engine knows. */
export interface InfoFacts {
  containers: { total: number; running: number; paused: number; stopped: number };
  images: number;
  dataRoot: string;
  runtime: string;
  loggingDriver: string;
  logDrivers: string[];
  registry: RegistryOptions;
  labels: string[];
  debug: boolean;
  swapLimit: boolean;
  liveRestore: boolean;
  runtimes: Record<string, { path: string }>;
  serverVersion: string;
  /** berthd --userns-remap is on: `name=userns` among the security options, as dockerd. */
  userns: boolean;
  /** The host's cgroup layout, from the daemon's one probe (oci/host-info.ts). */
  cgroupMode: CgroupMode;
}

async function osRelease(): Promise<Record<string, string>> {
  try {
    const text = await fsp.readFile('/etc/os-release', 'utf8');
    const out: Record<string, string> = {};
    for (const m of text.matchAll(/^(\w+)=("?)(.*)\2$/gm)) out[m[1]] = m[3];
    return out;
  } catch {
    return {};
  }
}

export function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
  return map[process.arch] ?? process.arch;
}

const versions = new Map<string, Promise<string>>();

/** `<bin> --version`'s version number, asked once per daemon. */
export function binaryVersion(bin: string): Promise<string> {
  let v = versions.get(bin);
  if (!v) {
    v = runCommand(bin, ['--version']).then(
      ({ stdout, stderr }) => /version:?\s+v?(\S+)/i.exec(stdout + stderr)?.[1] ?? 'unknown',
      () => 'unknown',
    );
    versions.set(bin, v);
  }
  return v;
}

/** dockerd's engine-id: a UUID kept in the data root, the same across restarts. */
export async function engineId(dataRoot: string): Promise<string> {
  const file = path.join(dataRoot, 'engine-id');
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch {
    const id = randomUUID();
    await writeFileAtomic(file, id);
    return id;
  }
}

export async function versionInfo(api: { version: string; min: string }, serverVersion: string, runtime: string): Promise<VersionResponse> {
  const kernel = os.release();
  const buildTime = new Date(0).toISOString();
  const details = { ApiVersion: api.version, Arch: goArch(), BuildTime: buildTime, Experimental: 'false', GitCommit: 'berth', GoVersion: `node${process.versions.node}`, KernelVersion: kernel, MinAPIVersion: api.min, Os: 'linux' };
  const [rt, conmon, init] = await Promise.all([binaryVersion(runtime), binaryVersion('conmon'), binaryVersion('tini-static')]);
  return {
    Platform: { Name: 'Berth' },
    Components: [
      { Name: 'Engine', Version: serverVersion, Details: details },
      { Name: runtime, Version: rt, Details: { GitCommit: '' } },
      { Name: 'conmon', Version: conmon, Details: { GitCommit: '' } },
      { Name: 'docker-init', Version: init, Details: { GitCommit: '' } },
    ],
    Version: serverVersion,
    ApiVersion: api.version,
    MinAPIVersion: api.min,
    GitCommit: 'berth',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: kernel,
    BuildTime: buildTime,
  };
}

function registryConfig(r: RegistryOptions): Record<string, unknown> {
  const cidrs = ['127.0.0.0/8', ...r.insecureRegistries.filter((x) => x.includes('/'))];
  const indexConfigs: Record<string, unknown> = { 'docker.io': { Name: 'docker.io', Mirrors: [...r.mirrors], Secure: true, Official: true } };
  for (const name of r.insecureRegistries.filter((x) => !x.includes('/'))) indexConfigs[name] = { Name: name, Mirrors: [], Secure: false, Official: false };
  return {
    AllowNondistributableArtifactsCIDRs: [],
    AllowNondistributableArtifactsHostnames: [],
    InsecureRegistryCIDRs: cidrs,
    IndexConfigs: indexConfigs,
    Mirrors: [...r.mirrors],
  };
}

async function openFds(): Promise<number> {
  return (await fsp.readdir('/proc/self/fd').catch(() => [])).length;
}

export async function systemInfo(f: InfoFacts): Promise<SystemInfo> {
  const [rel, id, nfd] = await Promise.all([osRelease(), engineId(f.dataRoot), openFds()]);
  // Docker reports "2" only for a pure cgroup2 host; a hybrid one's controllers are v1.
  const cgroup = f.cgroupMode === 'v2' ? '2' : '1';
  const env = process.env;
  return {
    ID: id,
    Containers: f.containers.total,
    ContainersRunning: f.containers.running,
    ContainersPaused: f.containers.paused,
    ContainersStopped: f.containers.stopped,
    Images: f.images,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Native Overlay Diff', 'true'], ['userxattr', 'false']],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: f.logDrivers },
    MemoryLimit: true,
    SwapLimit: f.swapLimit,
    KernelMemory: false,
    KernelMemoryTCP: cgroup === '1',
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    Debug: f.debug,
    NFd: nfd,
    OomKillDisable: cgroup === '1',
    // A Node daemon has no goroutines; its pending libuv handles are the nearest thing.
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: f.loggingDriver,
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroup,
    NEventsListener: 0,
    KernelVersion: os.release(),
    OperatingSystem: rel['PRETTY_NAME'] ?? 'Linux',
    OSVersion: rel['VERSION_ID'] ?? '',
    OSType: 'linux',
    Architecture: os.machine(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: registryConfig(f.registry),
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    GenericResources: null,
    DockerRootDir: f.dataRoot,
    HttpProxy: env['HTTP_PROXY'] ?? env['http_proxy'] ?? '',
    HttpsProxy: env['HTTPS_PROXY'] ?? env['https_proxy'] ?? '',
    NoProxy: env['NO_PROXY'] ?? env['no_proxy'] ?? '',
    Name: os.hostname(),
    Labels: f.labels,
    ExperimentalBuild: false,
    ServerVersion: f.serverVersion,
    Runtimes: { [f.runtime]: { path: f.runtime }, ...f.runtimes },
    DefaultRuntime: f.runtime,
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: f.liveRestore,
    Isolation: '',
    InitBinary: 'docker-init',
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: '', Expected: '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: ['name=seccomp,profile=builtin', 'name=no-new-privileges', ...(f.userns ? ['name=userns'] : [])],
    Warnings: null,
  };
}
