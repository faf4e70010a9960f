// Per-registry trust, laid out as Docker's: <certs dir>/<host:port>/*.crt are extra CA certificates
// for that registry (ca.crt by convention). Berth reads its own dir and Docker's.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isNotFound } from '../util/fs.js';

export const DEFAULT_CERTS_DIRS = ['/etc/berth/certs.d', '/etc/docker/certs.d'];

/** PEM CA certificates configured for `host` (e.g. "127.0.0.1:5000"), or undefined when none. */
export async function registryCAs(dirs: string[], host: string): Promise<string[] | undefined> {
  // A host name never holds a path separator; refuse anything that could climb out of the dir.
  if (!host || host.includes('/') || host.startsWith('.')) return undefined;
  const out: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await fsp.readdir(path.join(dir, host));
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw err;
    }
    for (const name of names.sort()) {
      if (name.endsWith('.crt')) out.push(await fsp.readFile(path.join(dir, host, name), 'utf8'));
    }
  }
  return out.length > 0 ? out : undefined;
}
