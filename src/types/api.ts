// Docker Engine API objects (moby api/swagger.yaml), as Berth serves them. A leaf module: it
// imports nothing but the types generated from the schema (engine-api.gen.ts, itself a leaf), so
// client, api, engine, oci and distribution all take their types from here. Request-side objects
// are the schema's own types; the others are declared here and schema-coverage.ts proves at build
// time that each declares every field the schema lists. Field names are Docker's, PascalCase,
// because clients decode them by name.
import type * as Schema from './engine-api.gen.js';

export type Labels = Record<string, string>;
/** Docker's JSON has null for a list or map it has not set; the 1.41 schema says so only for some. */
type NullableLists<T> = { [K in keyof T]: NonNullable<T[K]> extends readonly unknown[] | Record<string, unknown> ? T[K] | null : T[K] };
export type HostConfig = NullableLists<Schema.HostConfig>;
export type Mount = Schema.Mount;
/** GET /info, with the nulls dockerd sends where the schema is stricter. */
export type SystemInfo = NullableLists<Omit<Schema.SystemInfo, 'Plugins'>> & {
  Plugins?: NullableLists<NonNullable<Schema.SystemInfo['Plugins']>>;
};
export type RestartPolicy = Schema.RestartPolicy;
export type HealthConfig = Schema.HealthConfig;
export type PortBinding = Schema.PortBinding;
export type Ulimit = NonNullable<Schema.Resources['Ulimits']>[number];

/** The portable part of a container's configuration (also an image's config). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Labels | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export type WeightDevice = NonNullable<Schema.Resources['BlkioWeightDevice']>[number];
export type ThrottleDevice = Schema.ThrottleDevice;
/** A log configuration as the engine holds it once defaults are applied (the type is always set). */
export interface LogConfig {
  Type: string;
  Config?: Record<string, string>;
}

/** Body of POST /containers/{id}/update: the resource fields and the restart policy. */
export type ContainerUpdateRequest = Pick<
  HostConfig,
  | 'BlkioWeight'
  | 'CpuShares'
  | 'CpuPeriod'
  | 'CpuQuota'
  | 'CpuRealtimePeriod'
  | 'CpuRealtimeRuntime'
  | 'CpusetCpus'
  | 'CpusetMems'
  | 'Memory'
  | 'MemoryReservation'
  | 'MemorySwap'
  | 'KernelMemory'
  | 'NanoCpus'
  | 'PidsLimit'
  | 'RestartPolicy'
>;

export interface ContainerUpdateResponse {
  Warnings: string[] | null;
}

export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DriverOpts?: Record<string, string> | null;
  DNSNames?: string[] | null;
}

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettings>;
}

/** Body of POST /containers/create. */
export interface ContainerCreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
  Platform?: string;
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[];
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** One healthcheck probe's outcome (State.Health.Log). */
export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  /** The last five probes, oldest first. */
  Log: HealthcheckResult[];
}

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: Health;
}

export interface GraphDriverData {
  Name: string;
  Data: Record<string, string>;
}

export interface MountPoint {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface VolumeUsageData {
  /** Bytes the volume's data takes; -1 when not computed. */
  Size: number;
  /** Containers referencing the volume; -1 when not computed. */
  RefCount: number;
}

export interface Volume {
  CreatedAt: string;
  Driver: string;
  Labels: Labels | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local' | 'global';
  UsageData?: VolumeUsageData;
}

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Labels | null;
}

export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[] | null;
}

export interface VolumePruneResponse {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  Ports: Record<string, PortBinding[] | null>;
  HairpinMode?: boolean;
  LinkLocalIPv6Address?: string;
  LinkLocalIPv6PrefixLen?: number;
  SecondaryIPAddresses?: null;
  SecondaryIPv6Addresses?: null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** GET /containers/{id}/json */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: GraphDriverData;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

export interface Port {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: 'tcp' | 'udp' | 'sctp';
}

/** An element of GET /containers/json */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: Port[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Labels;
  State: ContainerStatus;
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
  Mounts: MountPoint[];
}

export interface ContainerWaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

export interface ContainerTopResponse {
  Titles: string[];
  Processes: string[][];
}

export interface FilesystemChange {
  Path: string;
  /** 0 modified, 1 added, 2 deleted */
  Kind: 0 | 1 | 2;
}

export interface ContainerPruneResponse {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

// ---- exec ----

export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ConsoleSize?: [number, number] | null;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

export interface ExecStartConfig {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

export interface ExecInspect {
  CanRemove: boolean;
  DetachKeys: string;
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig: { privileged: boolean; user?: string; tty: boolean; entrypoint: string; arguments: string[] };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  ContainerID: string;
  Pid: number;
}

// ---- images ----

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Labels;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  /** API < 1.45 only: the container a commit was made from, and its config. */
  Container?: string;
  ContainerConfig?: ContainerConfig;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: GraphDriverData;
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/** POST /commit answer. */
export interface ContainerCommitResponse {
  Id: string;
}

export interface ImageHistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagePruneResponse {
  ImagesDeleted: ImageDeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

// ---- system ----

/** A build cache record (dockerd 20.10's types.BuildCache): Berth's are its cache mounts. */
export interface BuildCacheRecord {
  ID: string;
  Parent: string;
  Type: 'internal' | 'frontend' | 'source.local' | 'source.git.checkout' | 'exec.cachemount' | 'regular';
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** GET /system/df. */
export interface SystemDataUsageResponse {
  LayersSize: number;
  Images: ImageSummary[];
  Containers: ContainerSummary[];
  Volumes: Volume[];
  BuildCache: BuildCacheRecord[] | null;
  BuilderSize: number;
}

export interface VersionResponse {
  Platform: { Name: string };
  Components: { Name: string; Version: string; Details?: Record<string, string> }[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime: string;
  /** Omitted unless true, as dockerd does. */
  Experimental?: boolean;
}

export interface EventMessage {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'node' | 'service' | 'secret' | 'config' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
  // Legacy fields the docker CLI still reads.
  status?: string;
  id?: string;
  from?: string;
}

export interface ErrorResponse {
  message: string;
}

/** One line of a JSON progress stream (pull, push, load, import, build). */
export interface JSONMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message: string };
  aux?: Record<string, unknown>;
}

export interface ContainerStatsResponse {
  id: string;
  name: string;
  read: string;
  preread: string;
  num_procs: number;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: BlkioStats;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; limit?: number; stats?: Record<string, number>; failcnt?: number };
  networks?: Record<string, unknown>;
  storage_stats?: Record<string, unknown>;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** blkio_stats: per device and operation (cgroup v2 fills only the first two). */
export interface BlkioStats {
  io_service_bytes_recursive: BlkioEntry[] | null;
  io_serviced_recursive: BlkioEntry[] | null;
  io_queue_recursive: BlkioEntry[] | null;
  io_service_time_recursive: BlkioEntry[] | null;
  io_wait_time_recursive: BlkioEntry[] | null;
  io_merged_recursive: BlkioEntry[] | null;
  io_time_recursive: BlkioEntry[] | null;
  sectors_recursive: BlkioEntry[] | null;
}

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

/**
 * HEAD/GET /containers/{id}/archive: the X-Docker-Container-Path-Stat header, base64 of this
 * object's JSON. `mode` is a Go os.FileMode (type bits high, e.g. 1<<31 for a directory).
 */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  /** RFC 3339 with nanoseconds, as Go marshals a time.Time. */
  mtime: string;
  linkTarget: string;
}

/** GET /distribution/{name}/json */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number; urls?: string[] };
  Platforms: { architecture: string; os: string; 'os.version'?: string; 'os.features'?: string[]; variant?: string; features?: string[] }[];
}

/**
 * registry.AuthConfig: what Docker clients send, base64url-encoded JSON, in X-Registry-Auth (and
 * as the body of POST /auth). The field order is Go's, which fixes the JSON bytes clients send.
 */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64("user:pass"), as in ~/.docker/config.json */
  auth?: string;
  email?: string;
  serveraddress?: string;
  /** A refresh token for the registry's OAuth endpoint. */
  identitytoken?: string;
  /** A bearer token to present as is. */
  registrytoken?: string;
}

/** POST /auth (registry.AuthenticateOKBody) */
export interface AuthResponse {
  Status: string;
  IdentityToken?: string;
}

// ---- networks ----

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IPAM {
  Driver: string;
  Options: Record<string, string> | null;
  Config: IPAMConfig[] | null;
}

export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** GET /networks/{id} (and the elements of GET /networks, with Containers empty). */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4?: boolean;
  EnableIPv6: boolean;
  IPAM: IPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, NetworkContainer>;
  Options: Record<string, string>;
  Labels: Labels;
}

/** Body of POST /networks/create. */
export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  IPAM?: Partial<IPAM> | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Options?: Record<string, string> | null;
  Labels?: Labels | null;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning: string;
}

export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig?: EndpointSettings | null;
}

export interface NetworkDisconnectRequest {
  Container: string;
  Force?: boolean;
}

export interface NetworkPruneResponse {
  NetworksDeleted: string[] | null;
}
