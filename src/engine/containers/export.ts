// `docker export`: a container's whole filesystem (the image's layers with its changes on top)
// as one flat tar, for running and stopped containers alike.
//
// The tar is packed from a private read-only overlay mount of the container's layers, never
// from the container's own mount: a running container cannot mount over it or rearrange it
// under the packer, and the packer never follows a symlink (archive/pack.ts), so nothing
// outside the container's files can end up in the tar. The mount goes when the stream ends,
// fails or is abandoned.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { packDirectory } from '../../archive/pack.js';
import { ConflictError, noSuchContainer } from '../../errors.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import { logger } from '../../util/logger.js';
import type { ContainerRecord } from './container.js';

export interface ExportDeps {
  snapshots: Snapshotter;
  /** Where the read-only views are mounted (under the exec root, so a reboot clears them). */
  viewsDir: string;
}

/** Opens the export of `c`; the stream's end (or destruction) releases the view. */
export async function exportContainer(deps: ExportDeps, c: ContainerRecord): Promise<Readable> {
  if (c.state.status === 'dead') throw new ConflictError(`You cannot export container ${c.id} which is Dead`);
  if (c.state.status === 'removing') throw new ConflictError(`You cannot export container ${c.id} which is being removed`);
  if (!deps.snapshots.get(c.id)) throw noSuchContainer(c.id);
  const target = path.join(deps.viewsDir, `${c.id}-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(target, { recursive: true, mode: 0o700 });
  try {
    await deps.snapshots.mountView(c.id, target);
  } catch (err) {
    await fsp.rmdir(target).catch(() => undefined);
    throw err;
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    void removeView(deps.snapshots, target).catch((err: Error) => logger.warn(`export ${c.id}: ${err.message}`));
  };
  let tar: Readable;
  try {
    tar = packDirectory(target, { ids: deps.snapshots.ids });
  } catch (err) {
    release();
    throw err;
  }
  tar.once('close', release);
  tar.once('end', release);
  tar.once('error', release);
  return tar;
}

async function removeView(snapshots: Snapshotter, target: string): Promise<void> {
  await snapshots.unmountPath(target);
  await fsp.rmdir(target);
}

/** Views left mounted by a daemon that died mid-export. */
export async function removeStaleViews(snapshots: Snapshotter, viewsDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(viewsDir);
  } catch {
    return;
  }
  for (const n of names) {
    const target = path.join(viewsDir, n);
    // unmountPath leaves a directory that is no mount point alone.
    await snapshots.unmountPath(target).catch((err: Error) => logger.warn(`stale export view ${target}: ${err.message}`));
    await fsp.rmdir(target).catch(() => undefined);
  }
}
