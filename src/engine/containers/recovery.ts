// Daemon start-up: every container recorded as running is reconciled with what the runtime holds
// (re-adopted, or its exit recorded), starts the daemon's death cut short are undone, runtime
// state of unknown containers is deleted, and the restart policies bring their containers back.
import { shortId } from '../../reference/index.js';
import { type ContainerRecord, isRunning, ZERO_TIME } from './container.js';
import { adoptMounts } from './mounts.js';
import { logger } from '../../util/logger.js';
import type { ContainerTable } from './container-table.js';
import type { ContainerLifecycle } from './lifecycle.js';
import { removeNow } from './remove.js';
import { removeContainerLeftovers } from './leftovers.js';

export async function recoverContainers(t: ContainerTable, lifecycle: ContainerLifecycle): Promise<void> {
  for (const c of t.containers.values()) {
    // One container that cannot be reconciled (its record not writable: a full disk) does not keep the daemon down.
    await reconcile(t, lifecycle, c).catch((err: Error) => logger.error(`reconciling ${shortId(c.id)}: ${err.message}`));
  }
  await removeUnknownRuntimeState(t);
  await removeContainerLeftovers(t.containersDir(), t.bundlesDir(), (id) => t.containers.has(id));
  // Not awaited: the daemon serves while the policy's containers come up.
  for (const c of t.containers.values()) void restartAtBoot(t, lifecycle, c);
}

/** After a daemon restart: re-adopt what still runs, record exits that happened while we were down. */
async function reconcile(t: ContainerTable, lifecycle: ContainerLifecycle, c: ContainerRecord): Promise<void> {
  const { runtime } = t.deps;
  if (c.state.status === 'removing') {
    await removeNow(t, c);
    return;
  }
  if (c.state.status === 'restarting') {
    // Waiting out its back-off when the daemon went away, or caught mid-restart: one that runs
    // is adopted, else restartAtBoot starts it anew.
    const state = await runtime.state(c.id).catch(() => null);
    c.state.status = state?.status === 'running' || state?.status === 'paused' ? 'running' : 'exited';
    if (c.state.status === 'exited') return;
  }
  if (!isRunning(c)) {
    await undoInterruptedStart(t, c);
    return;
  }
  const exit = await runtime.exitInfo(c.id);
  if (exit) {
    await lifecycle.handleExit(c.id, exit);
    return;
  }
  if (!(await runtime.monitorAlive(c.id))) {
    if (await runtime.hasState(c.id)) {
      // Its monitor was killed while the daemon was down: killed too, exit 137, as while it runs.
      await runtime.takeOverLostMonitor(c.id);
      const lost = await runtime.exitInfo(c.id);
      if (lost) await lifecycle.handleExit(c.id, lost);
      return;
    }
    // The monitor is gone without an exit file (host reboot: the exec root is a tmpfs).
    await lifecycle.handleExit(c.id, { exitCode: 255, oomKilled: false, finishedAt: new Date() }, 'container monitor lost (host reboot or runtime failure)');
    return;
  }
  const state = await runtime.state(c.id).catch(() => null);
  c.state.status = state?.status === 'paused' ? 'paused' : 'running';
  if (state?.pid) c.state.pid = state.pid;
  if (c.state.status === 'paused' && c.state.pausedForCommit) {
    // The commit that paused it died with the daemon: its client got no image, the container runs on.
    await runtime.resume(c.id).catch((err: Error) => logger.warn(`resuming ${shortId(c.id)} after an interrupted commit: ${err.message}`));
    c.state.status = 'running';
  }
  delete c.state.pausedForCommit;
  await t.deps.networking.restore(c);
  await adoptMounts(c, t.deps.volumes);
}

/**
 * A start cut short by the daemon's death (between the runtime's create and the record's save)
 * leaves a monitor, runtime state and the rootfs mount of a container recorded as not running.
 * Its client never got an answer, so the start did not happen: all of it is undone.
 */
async function undoInterruptedStart(t: ContainerTable, c: ContainerRecord): Promise<void> {
  const { runtime } = t.deps;
  if (await runtime.hasState(c.id)) {
    logger.info(`undoing the interrupted start of ${shortId(c.id)}`);
    await runtime.delete(c.id).catch((err: Error) => logger.warn(`deleting ${shortId(c.id)} from the runtime: ${err.message}`));
  }
  await t.deps.snapshots.unmount(c.id).catch(() => undefined);
  // A sandbox is recorded only with a running state; one in the record now is stale.
  if (c.sandbox) await t.deps.networking.release(c).catch(() => undefined);
}

/** Monitors and runtime state of containers that have no record (never saved, or removed midway). */
async function removeUnknownRuntimeState(t: ContainerTable): Promise<void> {
  const { runtime } = t.deps;
  for (const id of await runtime.knownIds()) {
    if (t.containers.has(id)) continue;
    logger.info(`removing runtime state of unknown container ${shortId(id)}`);
    await runtime.delete(id).catch((err: Error) => logger.warn(`deleting ${shortId(id)} from the runtime: ${err.message}`));
  }
}

/**
 * At daemon start, a stopped container whose policy wants it running is started again
 * (`always` even after a user stop, as in Docker); one that was waiting out its back-off too.
 */
async function restartAtBoot(t: ContainerTable, lifecycle: ContainerLifecycle, c: ContainerRecord): Promise<void> {
  if (c.state.status !== 'exited' || c.state.startedAt === ZERO_TIME) return;
  if (!t.restarts.of(c).restartsAtBoot(c.hostConfig.RestartPolicy, c.state.exitCode, !!c.state.stoppedByUser)) return;
  await t.lock
    .run(c.id, async () => {
      if (c.state.status !== 'exited' || !t.containers.has(c.id)) return;
      c.restartCount++;
      // Seen as restarting while it starts, as after a back-off.
      c.state.status = 'restarting';
      // What the last run or a start cut short by the daemon's death may have left behind.
      await t.deps.runtime.delete(c.id).catch(() => undefined);
      await t.deps.networking.release(c).catch(() => undefined);
      await lifecycle.startLocked(c);
    })
    .catch((err: Error) => logger.warn(`restart ${shortId(c.id)} at daemon start: ${err.message}`));
}
