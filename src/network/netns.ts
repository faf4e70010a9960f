// Network namespaces that outlive the daemon: one per container, created before the runtime
// runs (so netavark can set it up while the container is being created) and kept as a bind mount
// of the namespace under <exec-root>/netns/<id>, as Docker keeps /var/run/docker/netns.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { SystemError } from '../errors.js';
import { runCommand } from '../util/exec.js';
import { isNotFound } from '../util/fs.js';
import { ensurePrivateMount, unmount } from '../util/mount.js';

export class NetnsStore {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await ensurePrivateMount(this.dir);
  }

  pathOf(id: string): string {
    return path.join(this.dir, id);
  }

  /** A fresh, empty network namespace (loopback down: netavark brings it up). */
  async create(id: string): Promise<string> {
    const file = this.pathOf(id);
    await fsp.writeFile(file, '', { mode: 0o600 });
    try {
      // unshare(1) binds the new namespace onto the file itself: a 3 ms spawn, and no thread of
      // this process ever leaves the host's namespace.
      await runCommand('unshare', [`--net=${file}`, 'true']);
    } catch (err) {
      await fsp.rm(file, { force: true });
      throw new SystemError(`failed to create network namespace: ${(err as Error).message}`);
    }
    return file;
  }

  async exists(id: string): Promise<boolean> {
    try {
      await fsp.access(this.pathOf(id));
      return true;
    } catch {
      return false;
    }
  }

  /** At daemon shutdown: the directory's own mount goes when no namespace is left in it. */
  async close(): Promise<void> {
    const left = await fsp.readdir(this.dir).catch(() => ['?']);
    if (left.length > 0) return;
    try {
      unmount(this.dir);
    } catch {
      // not a mount point (never initialised)
    }
  }

  /** Drops the bind mount (the namespace dies with its last user) and the file. */
  async remove(id: string): Promise<void> {
    const file = this.pathOf(id);
    try {
      unmount(file);
    } catch {
      // not mounted (a half-made namespace): only the file is left
    }
    await fsp.rm(file, { force: true }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}
