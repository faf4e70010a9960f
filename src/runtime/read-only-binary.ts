// crun copies itself and re-executes the copy at every call — the CVE-2019-5736 defence: a
// container must never be able to overwrite the host's runtime binary through /proc/self/exe —
// unless its binary already sits on a read-only mount, which gives the same protection. One
// read-only bind mount of it under the exec root, made at daemon start, saves ~5 ms on every
// `crun create` and `crun exec` here.
import fs from 'node:fs/promises';
import path from 'node:path';
import { bindReadOnly, isMountPoint, unmount } from '../util/mount.js';

/** Binds `binary` read-only at `target` (again, if a previous daemon left it) and returns `target`. */
export async function mountReadOnlyBinary(binary: string, target: string): Promise<string> {
  await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  // A daemon killed earlier left its mount: replace it, the package may have been upgraded since.
  if (await isMountPoint(target)) unmount(target);
  await fs.writeFile(target, '', { mode: 0o700 });
  bindReadOnly(await fs.realpath(binary), target);
  return target;
}

export async function unmountReadOnlyBinary(target: string): Promise<void> {
  if (await isMountPoint(target)) unmount(target);
  await fs.rm(target, { force: true });
}
