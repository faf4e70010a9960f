// A container's mounts at start and stop: volumes mounted (and first filled from the image, as
// Docker's copy-up does), missing `-v` bind sources created, --mount ones checked; the spec's
// user mounts made from them; volumes released when the container stops.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameterError, SystemError } from '../../errors.js';
import { extractArchive } from '../../archive/extract.js';
import { Root, packDirectory } from '../../archive/index.js';
import type { HostConfig } from '../../types/api.js';
import type { UserMount } from '../../oci/mounts.js';
import type { ContainerRecord } from './container.js';
import { type MountPointRecord, cleanDest } from './mount-spec.js';
import type { IdPair } from '../../util/idmap.js';

/** What creating, starting and stopping a container needs of the volumes service. */
export interface VolumeMounter {
  /** Mounted for a container's run, with a `mount` event. */
  mount(name: string, info: { container: string; destination: string; readWrite: boolean; propagation: string }): Promise<string>;
  unmount(name: string, container: string): Promise<void>;
  /** Held without events: a running container taken back after a daemon restart, or a copy-up. */
  attach(name: string, holder: string): Promise<string>;
  detach(name: string, holder: string): Promise<void>;
  isEmpty(name: string): Promise<boolean>;
}

/** A missing `-v` source is created, owned by the container's root (the mapped one with --userns-remap). */
function ensureBindSource(mp: MountPointRecord, owner: IdPair | undefined): void {
  if (fs.existsSync(mp.Source)) return;
  if (!mp.CreateSource) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${mp.Source}`);
  try {
    fs.mkdirSync(mp.Source, { recursive: true, mode: 0o755 });
    if (owner) fs.chownSync(mp.Source, owner.uid, owner.gid);
  } catch (e) {
    throw new SystemError(`error while creating mount source path '${mp.Source}': ${(e as Error).message}`);
  }
}

/**
 * Docker's copy-up: the image's directory at `destination` (symlinks resolved inside the rootfs)
 * copied into an empty volume with owners, modes, times and xattrs; the volume's root takes the
 * directory's owner and mode.
 */
export async function copyImageContent(rootfs: string, destination: string, volumeDir: string): Promise<void> {
  const src = Root.open(rootfs, { readOnly: true });
  let dir: string;
  let st: fs.Stats;
  try {
    const resolved = src.evalSymlinks(destination);
    dir = path.join(rootfs, resolved);
    st = fs.lstatSync(dir);
  } catch {
    return; // nothing there in the image
  } finally {
    src.close();
  }
  if (!st.isDirectory()) return;
  const dst = Root.open(volumeDir);
  try {
    await extractArchive(packDirectory(dir), dst, dst.root, { bestEffortXattrs: true });
  } finally {
    dst.close();
  }
  fs.chownSync(volumeDir, st.uid, st.gid);
  fs.chmodSync(volumeDir, st.mode & 0o7777);
}

/**
 * At create, as Docker does: each volume still to be filled from the image (CopyData) that is
 * empty gets the image's content at its destination; the rootfs is mounted only if one needs it.
 * The flags are cleared (the caller saves the record).
 */
export async function populateVolumes(c: ContainerRecord, volumes: VolumeMounter, withRootfs: (fn: (rootfs: string) => Promise<void>) => Promise<void>): Promise<void> {
  const todo: MountPointRecord[] = [];
  for (const mp of c.mountPoints ?? []) {
    if (mp.Type !== 'volume' || !mp.CopyData) continue;
    mp.CopyData = false;
    if (!todo.some((t) => t.Name === mp.Name) && (await volumes.isEmpty(mp.Name!))) todo.push(mp);
  }
  if (!todo.length) return;
  await withRootfs(async (rootfs) => {
    for (const mp of todo) {
      const dir = await volumes.attach(mp.Name!, c.id);
      try {
        await copyImageContent(rootfs, mp.Destination, dir);
      } finally {
        await volumes.detach(mp.Name!, c.id);
      }
    }
  });
}

/** Readies every mount point of `c` and returns the spec's user mounts; on failure, the volumes mounted so far are released. */
export async function setupMounts(c: ContainerRecord, volumes: VolumeMounter, owner?: IdPair): Promise<UserMount[]> {
  const mounted: string[] = [];
  try {
    for (const mp of c.mountPoints ?? []) {
      if (mp.Type !== 'volume') continue;
      await volumes.mount(mp.Name!, { container: c.id, destination: mp.Destination, readWrite: mp.RW, propagation: mp.Propagation });
      mounted.push(mp.Name!);
    }
    return userMounts(c.mountPoints ?? [], c.hostConfig, owner);
  } catch (err) {
    for (const name of mounted) await volumes.unmount(name, c.id).catch(() => undefined);
    throw err;
  }
}

/** The spec's user mounts: the mount points (bind sources made ready), then HostConfig.Tmpfs. */
export function userMounts(points: readonly MountPointRecord[], hc: HostConfig, owner?: IdPair): UserMount[] {
  const out: UserMount[] = [];
  for (const mp of points) {
    if (mp.Type === 'volume') {
      out.push({ destination: mp.Destination, type: 'bind', source: mp.Source, readOnly: !mp.RW, propagation: 'rprivate' });
    } else if (mp.Type === 'bind') {
      ensureBindSource(mp, owner);
      out.push({ destination: mp.Destination, type: 'bind', source: mp.Source, readOnly: !mp.RW, propagation: mp.Propagation, nonRecursive: mp.NonRecursive });
    } else {
      out.push({ destination: mp.Destination, type: 'tmpfs', source: 'tmpfs', readOnly: !mp.RW, data: mp.TmpfsData });
    }
  }
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    out.push({ destination: cleanDest(dest), type: 'tmpfs', source: 'tmpfs', readOnly: false, data });
  }
  return out;
}

/** The container stopped: its volumes are released (the last user of a mounted one unmounts it). */
export async function releaseMounts(c: ContainerRecord, volumes: VolumeMounter): Promise<void> {
  for (const mp of c.mountPoints ?? []) {
    if (mp.Type === 'volume') await volumes.unmount(mp.Name!, c.id).catch(() => undefined);
  }
}

/** After a daemon restart: a running container's volumes are taken back. */
export async function adoptMounts(c: ContainerRecord, volumes: VolumeMounter): Promise<void> {
  for (const mp of c.mountPoints ?? []) {
    if (mp.Type === 'volume') await volumes.attach(mp.Name!, c.id).catch(() => undefined);
  }
}
