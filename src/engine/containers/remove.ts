// docker rm: a stopped container (or, with force, one killed first) goes with its writable layer,
// its directories and record; `-v` takes its anonymous volumes along.
import { promises as fsp } from 'node:fs';
import { ConflictError } from '../../errors.js';
import { isNoSpace } from '../../util/fs.js';
import { type ContainerRecord, isRunning } from './container.js';
import type { ContainerTable } from './container-table.js';
import type { ContainerLifecycle } from './lifecycle.js';

export interface RemoveOptions {
  force: boolean;
  volumes: boolean;
}

export async function removeContainer(t: ContainerTable, lifecycle: ContainerLifecycle, idOrName: string, opts: RemoveOptions): Promise<void> {
  const c = t.find(idOrName);
  if (c.state.status === 'removing') throw new ConflictError(`removal of container ${c.id} is already in progress`);
  // A restart policy may bring the container back between the kill and the removal (its own
  // exit was being handled when the kill came): kill it again, a few times at most.
  for (let attempt = 0; ; attempt++) {
    if (isRunning(c)) {
      if (!opts.force) {
        throw new ConflictError(`cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
      }
      const exited = t.signals.waitForExit(c.id, 30_000);
      const wasRestarting = await t.lock.run(c.id, () => lifecycle.cancelRestart(c));
      if (!wasRestarting) {
        c.state.stoppedByUser = true;
        t.emit(c, 'kill', { signal: '9' });
        await lifecycle.killThawed(c);
        await exited;
      }
    }
    const removed = await t.lock.run(c.id, async () => {
      if (!t.containers.has(c.id)) return true;
      if (isRunning(c)) {
        if (opts.force && attempt < 3) return false;
        throw new ConflictError(`cannot remove container "/${c.name}": container is running`);
      }
      const before = c.state.status;
      c.state.status = 'removing';
      await t.save(c).catch((err: unknown) => {
        // On a full disk the removal that frees space goes on without its marker (the record goes last).
        if (isNoSpace(err)) return;
        c.state.status = before;
        throw err;
      });
      await removeNow(t, c);
      return true;
    });
    if (removed) break;
  }
  if (opts.volumes) await removeAnonymousVolumes(t, c);
}

/** rm -v, run --rm: the container's anonymous volumes go, unless another container uses one. */
async function removeAnonymousVolumes(t: ContainerTable, c: ContainerRecord): Promise<void> {
  for (const mp of c.mountPoints ?? []) {
    if (mp.Type === 'volume' && mp.Anonymous) await t.deps.volumes.remove(mp.Name!).catch(() => undefined);
  }
}

/** Everything of a stopped container, its record last (a removal cut short is finished at the next start-up). */
export async function removeNow(t: ContainerTable, c: ContainerRecord): Promise<void> {
  const { deps } = t;
  await deps.runtime.delete(c.id).catch(() => undefined);
  await deps.networking.release(c).catch(() => undefined);
  await deps.snapshots.remove(c.id);
  await fsp.rm(t.containerDir(c.id), { recursive: true, force: true });
  await fsp.rm(t.bundleDir(c.id), { recursive: true, force: true });
  await t.records.delete(c.id);
  t.restarts.forget(c.id);
  t.containers.delete(c.id);
  if (t.names.get(c.name) === c.id) t.names.delete(c.name);
  t.emit(c, 'destroy');
  t.signals.removed(c.id);
}
