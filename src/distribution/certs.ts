// Per-registry TLS material, laid out as Docker's: in <certs dir>/<host:port>/, every *.crt is an
// extra CA certificate (ca.crt by convention) and every *.cert with its *.key is a client
// certificate (client.cert + client.key). Berth reads its own dir and Docker's.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RegistryError } from '../errors.js';
import { isNotFound } from '../util/fs.js';

export const DEFAULT_CERTS_DIRS = ['/etc/berth/certs.d', '/etc/docker/certs.d'];

export interface RegistryTls {
  /** Extra trusted CA certificates (PEM); the system roots stay trusted. */
  ca?: string[];
  /** Client certificates and their keys (PEM), pairwise. */
  cert?: string[];
  key?: string[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch (err) {
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** The TLS material configured for `host` (e.g. "registry.example:5000"); Docker's errors for a half pair. */
export async function registryTls(dirs: string[], host: string): Promise<RegistryTls> {
  // A host name never holds a path separator; refuse anything that could climb out of the dir.
  if (!host || host.includes('/') || host.startsWith('.')) return {};
  const out: Required<RegistryTls> = { ca: [], cert: [], key: [] };
  for (const dir of dirs) {
    const hostDir = path.join(dir, host);
    const names = await listDir(hostDir);
    const read = (name: string): Promise<string> => fsp.readFile(path.join(hostDir, name), 'utf8');
    for (const name of names) {
      if (name.endsWith('.crt')) out.ca.push(await read(name));
      else if (name.endsWith('.cert')) {
        const key = `${name.slice(0, -'.cert'.length)}.key`;
        if (!names.includes(key)) throw new RegistryError(`missing key ${key} for client certificate ${name}. CA certificates must use the extension .crt`);
        out.cert.push(await read(name));
        out.key.push(await read(key));
      } else if (name.endsWith('.key')) {
        const cert = `${name.slice(0, -'.key'.length)}.cert`;
        if (!names.includes(cert)) throw new RegistryError(`missing client certificate ${cert} for key ${name}`);
      }
    }
  }
  return {
    ...(out.ca.length ? { ca: out.ca } : {}),
    ...(out.cert.length ? { cert: out.cert, key: out.key } : {}),
  };
}
