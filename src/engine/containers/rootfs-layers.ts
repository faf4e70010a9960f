// A container's root filesystem as layers: its writable upper dir over the image's read-only
// chain, minus the mount points the runtime had to create in it.
import { runtimeStubs, type StubCandidate } from '../../archive/changes.js';
import type { Snapshotter } from '../../snapshot/overlay.js';

/**
 * What Docker keeps in a container's init layer, below its writable layer: the runtime mounts
 * over these, and when the image lacks them crun creates them in the upper dir. They are not the
 * container's changes, so `diff` and `commit` leave them out (`export` keeps them, as Docker's).
 */
export const RUNTIME_MOUNT_POINTS: StubCandidate[] = [
  { path: '/dev/pts', kind: 'dir' },
  { path: '/dev/shm', kind: 'dir' },
  { path: '/dev/console', kind: 'file' },
  { path: '/dev', kind: 'dir' },
  { path: '/proc', kind: 'dir' },
  { path: '/sys', kind: 'dir' },
  { path: '/.dockerenv', kind: 'file' },
  { path: '/etc/resolv.conf', kind: 'file' },
  { path: '/etc/hosts', kind: 'file' },
  { path: '/etc/hostname', kind: 'file' },
  { path: '/etc/mtab', kind: 'symlink' },
  { path: '/etc', kind: 'dir' },
];

export interface ContainerLayers {
  /** The container's upper dir. */
  upper: string;
  /** The image's layer dirs, top first (empty for an image without layers). */
  lowers: string[];
  /** Snapshot key of the image's top layer. */
  parent: string | undefined;
}

export function containerLayers(snapshots: Snapshotter, id: string): ContainerLayers | undefined {
  const snap = snapshots.get(id);
  if (!snap) return undefined;
  return {
    upper: snapshots.fsDir(id),
    lowers: snapshots.below(id).map((k) => snapshots.fsDir(k)),
    parent: snap.parent,
  };
}

/** Paths ("/etc/hosts") of the upper dir that are only the runtime's mount points. */
export function runtimeMountPoints(layers: ContainerLayers): Promise<Set<string>> {
  return runtimeStubs(layers.upper, layers.lowers, RUNTIME_MOUNT_POINTS);
}
