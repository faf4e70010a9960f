// Device nodes: what the host has, what HostConfig.Devices maps into a container, and the device
// cgroup rules that go with them. These read /dev, so the engine calls them before buildSpec.
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import type { HostConfig, ThrottleDevice } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { defaultDeviceCgroupRules } from './defaults.js';
import type { LinuxBlockIO, LinuxDevice, LinuxDeviceCgroup, LinuxThrottleDevice } from './runtime-spec.js';

function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

/** A device node's OCI description, or undefined if `path` is not a block/char device. */
export function deviceFromPath(path: string): LinuxDevice | undefined {
  const st = lstatSync(path, { bigint: true });
  let type: LinuxDevice['type'];
  if (st.isBlockDevice()) type = 'b';
  else if (st.isCharacterDevice()) type = 'c';
  else return undefined;
  return {
    path,
    type,
    major: devMajor(st.rdev),
    minor: devMinor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

const SKIP_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under the host's /dev, as Docker gives a --privileged container. */
export function hostDevices(dir = '/dev'): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = posix.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DEV_DIRS.has(e.name)) out.push(...hostDevices(p));
      continue;
    }
    if (e.name === 'console') continue;
    try {
      const d = deviceFromPath(p);
      if (d) out.push(d);
    } catch {
      // vanished or unreadable
    }
  }
  return out;
}

const DEVICE_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const m = DEVICE_RULE.exec(rule);
  if (!m) throw new InvalidParameterError(`invalid device cgroup rule format: '${rule}'`);
  return {
    allow: true,
    type: m[1] as 'a' | 'b' | 'c',
    major: m[2] === '*' ? -1 : Number(m[2]),
    minor: m[3] === '*' ? -1 : Number(m[3]),
    access: m[4]!,
  };
}

/** HostConfig.Devices entry → device nodes + cgroup rules (a directory maps every node inside). */
export function devicesFromPath(
  pathOnHost: string,
  pathInContainer: string,
  permissions: string,
): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  if (!/^[rwm]{1,3}$/.test(permissions)) throw new InvalidParameterError(`invalid device mode: ${permissions}`);
  let resolved = pathOnHost;
  try {
    if (lstatSync(pathOnHost).isSymbolicLink()) resolved = realpathSync(pathOnHost);
  } catch {
    // reported below
  }
  const devices: LinuxDevice[] = [];
  const rules: LinuxDeviceCgroup[] = [];
  const add = (d: LinuxDevice, inContainer: string): void => {
    devices.push({ ...d, path: inContainer });
    rules.push({ allow: true, type: d.type as 'b' | 'c', major: d.major, minor: d.minor, access: permissions });
  };
  let err = 'not a device node';
  try {
    const d = deviceFromPath(resolved);
    if (d) {
      add(d, pathInContainer);
      return { devices, rules };
    }
    if (statSync(resolved).isDirectory()) {
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = posix.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else {
            try {
              const cd = deviceFromPath(p);
              if (cd) add(cd, pathInContainer + p.slice(resolved.length));
            } catch {
              // skip
            }
          }
        }
      };
      walk(resolved);
    }
  } catch (e) {
    err = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
  }
  if (devices.length === 0) {
    throw new InvalidParameterError(`error gathering device information while adding custom device "${pathOnHost}": ${err}`);
  }
  return { devices, rules };
}


export interface ResolvedDevices {
  /** Nodes the runtime creates in the container's /dev. */
  devices: LinuxDevice[];
  /** The device cgroup: Docker's defaults, then the container's own. */
  rules: LinuxDeviceCgroup[];
  /** Per-device block I/O weights and throttles, by major:minor. */
  blockIO: LinuxBlockIO;
}

function blockDevice(path: string): { major: number; minor: number } {
  let d: LinuxDevice | undefined;
  try {
    d = deviceFromPath(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
    throw new InvalidParameterError(`stat ${path}: ${why}`);
  }
  if (d?.type !== 'b') throw new InvalidParameterError(`${path} is not a block device`);
  return { major: d.major, minor: d.minor };
}

/**
 * BlkioWeightDevice and the read/write bps/iops throttles with each path's major:minor (Docker
 * stats them too). Reads /dev; the engine also calls it at create to refuse a bad path early.
 */
export function resolveBlockIO(hc: HostConfig): LinuxBlockIO {
  const throttles = (list: ThrottleDevice[] | null | undefined): LinuxThrottleDevice[] | undefined =>
    list?.length ? list.map((t) => ({ ...blockDevice(t.Path ?? ''), rate: t.Rate ?? 0 })) : undefined;
  const out: LinuxBlockIO = {
    weightDevice: hc.BlkioWeightDevice?.length ? hc.BlkioWeightDevice.map((w) => ({ ...blockDevice(w.Path ?? ''), weight: w.Weight ?? 0 })) : undefined,
    throttleReadBpsDevice: throttles(hc.BlkioDeviceReadBps),
    throttleWriteBpsDevice: throttles(hc.BlkioDeviceWriteBps),
    throttleReadIOPSDevice: throttles(hc.BlkioDeviceReadIOps),
    throttleWriteIOPSDevice: throttles(hc.BlkioDeviceWriteIOps),
  };
  for (const k of Object.keys(out) as (keyof LinuxBlockIO)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * HostConfig.Devices and DeviceCgroupRules as device nodes and rules; a --privileged container
 * gets every node of the host's /dev. Reads /dev, so the engine calls it before buildSpec.
 */
export function resolveDevices(hc: HostConfig): ResolvedDevices {
  if (hc.Privileged) {
    const devices = hostDevices();
    for (const d of hc.Devices ?? []) {
      if (d.PathOnHost === d.PathInContainer || !d.PathOnHost) continue;
      devices.push(...devicesFromPath(d.PathOnHost, d.PathInContainer || d.PathOnHost, 'rwm').devices);
    }
    return { devices, rules: [{ allow: true, access: 'rwm' }], blockIO: resolveBlockIO(hc) };
  }
  const devices: LinuxDevice[] = [];
  const rules = defaultDeviceCgroupRules();
  for (const d of hc.Devices ?? []) {
    if (!d.PathOnHost) throw new InvalidParameterError('invalid device mapping: PathOnHost must not be empty');
    const r = devicesFromPath(d.PathOnHost, d.PathInContainer || d.PathOnHost, d.CgroupPermissions || 'rwm');
    devices.push(...r.devices);
    rules.push(...r.rules);
  }
  for (const rule of hc.DeviceCgroupRules ?? []) rules.push(parseDeviceCgroupRule(rule));
  return { devices, rules, blockIO: resolveBlockIO(hc) };
}
