// Layout of the runtime's exec root (a tmpfs such as /run/berth):
//
//   <execRoot>/exits/<id>                  conmon's exit file for container <id> (watched with inotify)
//   <execRoot>/socket/<uuid> -> bundle     conmon's short symlink to the dir holding the attach socket
//   <execRoot>/<runtime-name>/             the OCI runtime's --root (crun/runc state)
//   <execRoot>/bin/<runtime-name>          the runtime's binary, bound read-only
//   <execRoot>/ctr/<id>/                   per container: conmon.pid, pidfile, meta.json, conmon's cwd
//                                          and --persist-dir (so `exit` and `oom` land here too)
//   <execRoot>/ctr/<id>/exec/<execId>/     per exec session: process.json, pidfile, exit, attach, ctl
import path from 'node:path';
import type { RuntimeName } from './types.js';

/** The cgroupsPath the spec builder must put into the OCI config for container `id`. */
export function cgroupsPath(id: string): string {
  return `/berth/${id}`;
}

/**
 * conmon's name for a container or exec session under the socket dir. A 64-hex id there would
 * leave only ~20 bytes for the exec root before the attach socket path passes sun_path's limit;
 * 16 hex digits (64 bits) are as unique in practice and leave room for long test roots.
 */
export function socketUuid(id: string): string {
  return id.slice(0, 16);
}

/** The attach socket path must fit into sockaddr_un.sun_path (108 bytes incl. NUL). */
export const MAX_SOCKET_PATH = 107;

export class Layout {
  readonly exitsDir: string;
  readonly socketDir: string;
  readonly runtimeRoot: string;
  readonly ctrRoot: string;

  constructor(readonly execRoot: string, runtime: RuntimeName) {
    this.exitsDir = path.join(execRoot, 'exits');
    this.socketDir = path.join(execRoot, 'socket');
    this.runtimeRoot = path.join(execRoot, runtime);
    this.ctrRoot = path.join(execRoot, 'ctr');
  }

  /** Where the runtime's binary is bound read-only (see read-only-binary.ts). */
  runtimeBinary(runtime: RuntimeName): string {
    return path.join(this.execRoot, 'bin', runtime);
  }
  exitFile(id: string): string {
    return path.join(this.exitsDir, id);
  }
  ctrDir(id: string): string {
    return path.join(this.ctrRoot, id);
  }
  execDir(id: string, execId: string): string {
    return path.join(this.ctrRoot, id, 'exec', execId);
  }
  /** Where conmon binds the attach socket for a bundle (or exec dir) registered under `uuid`. */
  attachSocket(bundle: string, uuid: string): string {
    const direct = path.join(bundle, 'attach');
    if (Buffer.byteLength(direct) <= MAX_SOCKET_PATH) return direct;
    // conmon makes <socket-dir>/<uuid> a symlink to the bundle for exactly this case.
    return path.join(this.socketDir, uuid, 'attach');
  }
}

// No dots: conmon writes exit files through a temp file named `<id>.XXXXXX`, and the exits
// watcher tells the two apart by the dot. Ids also end up in paths and argv.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function isValidId(id: string): boolean {
  return ID_RE.test(id);
}

export function checkId(kind: string, id: string): void {
  if (!isValidId(id)) throw new Error(`invalid ${kind} id ${JSON.stringify(id)}`);
}
