// What `docker create` sends, merged with the image's defaults the way Docker merges them.
import type { ContainerConfig, ContainerCreateRequest, HealthConfig, HostConfig } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { DEFAULT_PATH_ENV } from '../../oci/defaults.js';
import type { ImageRunConfig } from '../../oci/image-spec.js';
import { validateHealthcheck } from './health.js';
import { validateRestartPolicy } from './restart-manager.js';
import { validateLogConfig } from '../logging/drivers.js';
import { completeConfig, completeHostConfig, type ContainerDefaults } from './defaults.js';

/**
 * The environment a container's processes get (moby's CreateDaemonEnvironment): PATH and
 * HOSTNAME first, then the legacy link variables, then the container's own, which override.
 * PATH lives here rather than in Config.Env, which shows only what the image and client set.
 */
export function processEnv(config: ContainerConfig, linkEnv: string[] = [], ...more: (string[] | null | undefined)[]): string[] {
  return mergeEnv([DEFAULT_PATH_ENV, `HOSTNAME=${config.Hostname ?? ''}`], linkEnv, config.Env, ...more);
}

/** Later entries override earlier ones by variable name, keeping first-seen order. */
export function mergeEnv(...lists: (string[] | null | undefined)[]): string[] {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const e of list ?? []) {
      const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
      out.set(key, e);
    }
  }
  return [...out.values()];
}

export interface MergedConfig {
  config: ContainerConfig;
  hostConfig: HostConfig;
  path: string;
  args: string[];
}

/** NetworkMode and the network settings are checked by the network service (engine/networks/). */
export function checkEngineHostConfig(hc: HostConfig, defaults: ContainerDefaults): void {
  if (hc.Runtime && hc.Runtime !== defaults.runtime) throw new InvalidParameterError(`Unknown runtime specified ${hc.Runtime}`);
  if (hc.Isolation && hc.Isolation !== 'default') throw new InvalidParameterError(`Invalid isolation: "${hc.Isolation}" - linux only supports 'default'`);
  // A LogConfig without a type means the daemon's default driver, as in Docker.
  validateLogConfig(hc.LogConfig?.Type ? { Type: hc.LogConfig.Type, Config: hc.LogConfig.Config } : defaults.logConfig);
  validateRestartPolicy(hc.RestartPolicy, hc.AutoRemove);
  if (hc.Memory !== undefined && hc.Memory !== 0 && hc.Memory < 6 * 1024 * 1024) {
    throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  }
  if (hc.NanoCpus && (hc.CpuQuota || hc.CpuPeriod)) {
    throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw new InvalidParameterError('SHM size can not be less than 0');
}

/** Docker's rules: an entrypoint given on the command line discards the image's CMD. */
export function mergeConfig(req: ContainerCreateRequest, image: ImageRunConfig, id: string, defaults: ContainerDefaults): MergedConfig {
  const hostConfig = completeHostConfig(req.HostConfig ?? {}, defaults);
  // As dockerd: no mode is stored (and shown) as "default", which means the default bridge.
  if (!hostConfig.NetworkMode) hostConfig.NetworkMode = 'default';
  checkEngineHostConfig(hostConfig, defaults);

  const entrypointGiven = req.Entrypoint !== undefined && req.Entrypoint !== null;
  const entrypoint = entrypointGiven ? (req.Entrypoint ?? []).filter((s, i, a) => !(a.length === 1 && s === '')) : (image.Entrypoint ?? []);
  const cmd = req.Cmd && req.Cmd.length > 0 ? req.Cmd : entrypointGiven ? [] : (image.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw new InvalidParameterError('no command specified');

  const env = mergeEnv(image.Env, req.Env);
  const config: ContainerConfig = completeConfig({
    Hostname: req.Hostname || id.slice(0, 12),
    Domainname: req.Domainname ?? '',
    User: req.User || image.User || '',
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    ExposedPorts: mergeObjects(image.ExposedPorts, req.ExposedPorts),
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Env: env,
    Cmd: cmd.length > 0 ? cmd : entrypointGiven ? null : (image.Cmd ?? null),
    Healthcheck: mergeHealthcheck(req.Healthcheck, image.Healthcheck),
    Image: req.Image,
    Volumes: mergeObjects(image.Volumes, req.Volumes),
    WorkingDir: req.WorkingDir || image.WorkingDir || '',
    Entrypoint: entrypoint.length > 0 ? entrypoint : null,
    OnBuild: image.OnBuild ?? null,
    Labels: { ...(image.Labels ?? {}), ...(req.Labels ?? {}) },
    StopSignal: req.StopSignal || image.StopSignal || undefined,
    StopTimeout: req.StopTimeout ?? undefined,
  });
  validateHealthcheck(config.Healthcheck);
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw new InvalidParameterError(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  return { config, hostConfig, path: argv[0], args: argv.slice(1) };
}

/** moby's merge: what the container's healthcheck leaves unset (zero) comes from the image's. */
export function mergeHealthcheck(user: HealthConfig | undefined | null, image: HealthConfig | undefined | null): HealthConfig | undefined {
  if (!user) return image ?? undefined;
  const out: HealthConfig = { ...user };
  if ((!out.Test || out.Test.length === 0) && image?.Test) out.Test = image.Test;
  for (const k of HEALTH_NUMBERS) {
    out[k] ||= image?.[k];
    // Zero or null (docker-py's "unset") is no value: Docker's JSON leaves it out.
    if (!out[k]) delete out[k];
  }
  return out;
}

const HEALTH_NUMBERS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const;

function mergeObjects(a: Record<string, object> | null | undefined, b: Record<string, object> | null | undefined): Record<string, object> | null {
  if (!a && !b) return null;
  return { ...(a ?? {}), ...(b ?? {}) };
}
