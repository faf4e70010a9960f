// Answers shaped for the API version a client asked for: moby's router adds fields that later
// versions dropped and removes ones they added (docker-py, for one, speaks 1.41 by default).
import type { ContainerInspect, ImageInspect } from '../types/api.js';
import { compareVersions } from '../util/versions.js';

const before = (version: string, v: string): boolean => compareVersions(version, v) < 0;

export function containerInspectFor(version: string, c: ContainerInspect): ContainerInspect {
  if (before(version, '1.42')) Object.assign(c.HostConfig, { KernelMemory: 0, KernelMemoryTCP: 0 });
  if (before(version, '1.44')) {
    // Deprecated in 1.44: the legacy fields of the default network, on NetworkSettings itself.
    Object.assign(c.NetworkSettings, { HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null });
    for (const ep of Object.values(c.NetworkSettings.Networks ?? {})) delete ep.DNSNames;
  }
  return c;
}

export function imageInspectFor(version: string, img: ImageInspect): ImageInspect {
  // Dropped in 1.45: the container an image was committed from, and its config.
  if (!before(version, '1.45')) {
    delete img.Container;
    delete img.ContainerConfig;
  }
  return img;
}
