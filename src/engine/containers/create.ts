// docker create: the request merged with the image's config and the daemon's defaults, checked
// whole (HostConfig, networks, mounts, name), then a writable snapshot on the image, volumes
// claimed and filled, and the record saved. A failure leaves nothing behind.
import { promises as fsp } from 'node:fs';
import type { ContainerCreateRequest, ContainerCreateResponse } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { validateContainerName } from '../../reference/index.js';
import { newId } from '../../util/ids.js';
import { type ContainerRecord, initialState } from './container.js';
import { mergeConfig } from './create-config.js';
import { recordLinks } from './links.js';
import { randomName } from './names.js';
import { planMountPoints } from './mount-points.js';
import { populateVolumes } from './mounts.js';
import { adaptResources, validateHostConfig } from './validate-host-config.js';
import { resolveBlockIO } from '../../oci/devices.js';
import type { ContainerTable } from './container-table.js';

export interface CreateOptions {
  /** No image: an empty root filesystem (the builder's metadata steps after FROM scratch; never from the API). */
  fromScratch?: boolean;
}

export async function createContainer(t: ContainerTable, req: ContainerCreateRequest, name: string | undefined, opts: CreateOptions = {}): Promise<ContainerCreateResponse> {
  const { deps } = t;
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new InvalidParameterError('invalid container config');
  if (!req.Image && !opts.fromScratch) throw new InvalidParameterError('No image specified');
  if (name) {
    validateContainerName(name);
    name = name.replace(/^\//, '');
  }
  const image = opts.fromScratch ? undefined : deps.images.resolve(req.Image!);
  const id = newId();
  const merged = mergeConfig(req, image?.config.config ?? {}, id, deps.defaults);
  const warnings = validateHostConfig(merged.hostConfig, deps.host, !!deps.snapshots.ids);
  adaptResources(merged.hostConfig);
  // The per-device block I/O settings name devices: refuse a bad path now, not at start.
  resolveBlockIO(merged.hostConfig);
  const networks = deps.networking.endpointsForCreate(req, merged.hostConfig);
  const volumes = deps.volumes;
  const mounts = planMountPoints(merged.config, merged.hostConfig, { validate: (r) => volumes.validate(r), path: (n) => volumes.driver.path(n) }, (n) => t.find(n));
  if (name) t.reserveName(name, id);
  else name = randomName((n) => t.names.has(n));
  merged.hostConfig.Links = recordLinks(merged.hostConfig.Links, merged.hostConfig.NetworkMode, name, (n) => t.find(n));
  t.names.set(name, id);
  const record: ContainerRecord = {
    id,
    name,
    created: new Date().toISOString(),
    image: req.Image ?? '',
    imageId: image?.record.id ?? '',
    config: merged.config,
    hostConfig: merged.hostConfig,
    path: merged.path,
    args: merged.args,
    state: initialState(),
    restartCount: 0,
    networks,
    mountPoints: mounts.points,
  };
  const madeVolumes: string[] = [];
  // The image was resolved in this same tick: its layers stay until the container's snapshot
  // stands on them (an `rmi -f` during the awaits below would otherwise remove them first).
  const unpin = deps.snapshots.pin(image?.topLayer);
  try {
    for (const v of mounts.volumes) if (await volumes.claim(v, id)) madeVolumes.push(v.Name);
    await fsp.mkdir(t.containerDir(id), { recursive: true, mode: 0o710 });
    await deps.snapshots.prepare(id, image?.topLayer);
    await populateVolumes(record, volumes, async (fn) => {
      const rootfs = await deps.snapshots.mount(id);
      try {
        await fn(rootfs);
      } finally {
        await deps.snapshots.unmount(id).catch(() => undefined);
      }
    });
    await t.save(record);
  } catch (err) {
    t.names.delete(name);
    await deps.snapshots.remove(id).catch(() => undefined);
    await fsp.rm(t.containerDir(id), { recursive: true, force: true });
    volumes.release(id);
    for (const name of madeVolumes) await volumes.remove(name).catch(() => undefined);
    throw err;
  } finally {
    unpin();
  }
  t.containers.set(id, record);
  volumes.release(id);
  t.emit(record, 'create');
  return { Id: id, Warnings: warnings };
}
