// Start-up clean-up of the containers' directories (<data-root>/containers/<id>/ and their OCI
// bundles, <exec-root>/bundles/<id>/): what a create, a log rotation or an atomic write cut short
// by the daemon's death left behind.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { removeAtomicLeftovers } from '../../util/fs.js';
import { logger } from '../../util/logger.js';

/** A rotated log being gzipped (`container.log.1.gz.tmp`) or gunzipped for reading (`….gz.<pid>.<rand>.read`). */
const LOG_TEMP = /^container\.log\.\d+\.gz(\.tmp|\.\d+\.[a-z0-9]+\.read)$/;

/** Removes the directories and bundles of no known container and the temporaries in the others' directories. */
export async function removeContainerLeftovers(containersDir: string, bundlesDir: string, known: (id: string) => boolean): Promise<void> {
  for (const id of await fsp.readdir(bundlesDir).catch(() => [] as string[])) {
    if (!known(id)) await fsp.rm(path.join(bundlesDir, id), { recursive: true, force: true });
  }
  for (const id of await fsp.readdir(containersDir).catch(() => [] as string[])) {
    const dir = path.join(containersDir, id);
    if (!known(id)) {
      logger.info(`removing the directory of unknown container ${id.slice(0, 12)}`);
      await fsp.rm(dir, { recursive: true, force: true });
      continue;
    }
    await removeAtomicLeftovers(dir);
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      // A gzip finished but not followed by the plain file's removal: the .gz holds it all.
      const doneGzip = /^container\.log\.\d+$/.test(n) && names.includes(`${n}.gz`);
      if (LOG_TEMP.test(n) || doneGzip) await fsp.rm(path.join(dir, n), { force: true });
    }
  }
}
