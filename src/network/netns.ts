// Network namespaces that outlive the daemon: one per container, created before the runtime
// runs (so netavark can set it up while the container is being created) and kept as a bind mount
// of the namespace under <exec-root>/netns/<id>, as Docker keeps /var/run/docker/netns.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { SystemError } from '../errors.js';
import { runCommand } from '../util/exec.js';
import { isNotFound } from '../util/fs.js';
import { bind, ensurePrivateMount, unmount } from '../util/mount.js';
import type { IdMapping, LinuxIDMapping } from '../util/idmap.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export class NetnsStore {
  constructor(
    readonly dir: string,
    /** berthd --userns-remap: the mappings of the user namespaces that own remapped containers' network namespaces. */
    private readonly ids?: IdMapping,
  ) {}

  async init(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await ensurePrivateMount(this.dir);
  }

  pathOf(id: string): string {
    return path.join(this.dir, id);
  }

  /** The user namespace that owns a remapped container's network namespace (bound next to it). */
  userPathOf(id: string): string {
    return `${this.pathOf(id)}.user`;
  }

  /**
   * A fresh, empty network namespace (loopback down: netavark brings it up). `userns`: owned by a
   * new user namespace with the daemon's mappings, which the container then joins (as Docker's
   * containers own the namespace runc makes inside theirs): its root may then set the
   * namespace's sysctls, open raw sockets and mount its own /sys.
   */
  async create(id: string, userns = false): Promise<string> {
    if (userns && this.ids) return this.createOwned(id, this.ids);
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

  /**
   * unshare(1) makes the user namespace first, so the network namespace it makes with it is the
   * user namespace's. While it waits on its stdin, root writes the mappings (newuidmap would want
   * root's own /etc/subuid ranges) and binds both namespaces onto files (unshare's own
   * --user=<file> fails with EPERM here).
   */
  private async createOwned(id: string, ids: IdMapping): Promise<string> {
    const file = this.pathOf(id);
    const user = this.userPathOf(id);
    await Promise.all([fsp.writeFile(file, '', { mode: 0o600 }), fsp.writeFile(user, '', { mode: 0o600 })]);
    try {
      const child = spawn('unshare', ['--user', '--net', '--', 'sh', '-c', 'echo ready; read _'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => resolve(code));
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const ready = await Promise.race([once(child.stdout, 'data').then(() => true), exited.then(() => false)]);
      if (!ready) throw new Error(stderr.trim() || 'unshare exited early');
      const lines = (maps: readonly LinuxIDMapping[]) => maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
      await fsp.writeFile(`/proc/${child.pid}/uid_map`, lines(ids.uids));
      await fsp.writeFile(`/proc/${child.pid}/gid_map`, lines(ids.gids));
      bind(`/proc/${child.pid}/ns/user`, user);
      bind(`/proc/${child.pid}/ns/net`, file);
      child.stdin.end('\n');
      const code = await exited;
      if (code !== 0) throw new Error(stderr.trim() || `unshare exited with ${code}`);
    } catch (err) {
      await this.remove(id);
      throw new SystemError(`failed to create network namespace: ${(err as Error).message}`);
    }
    return file;
  }

  /** Drops the bind mounts (a namespace dies with its last user) and the files. */
  async remove(id: string): Promise<void> {
    for (const file of [this.pathOf(id), this.userPathOf(id)]) {
      try {
        unmount(file);
      } catch {
        // not mounted (a half-made namespace, or no user namespace): only the file is left
      }
      await fsp.rm(file, { force: true }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }
}
