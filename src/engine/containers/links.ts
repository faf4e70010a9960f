// Docker's legacy links (--link name:alias) on the default network: checked at create and
// recorded in Docker's form ("/db:/web/db"), turned into the <ALIAS>_PORT*, <ALIAS>_NAME and
// <ALIAS>_ENV_* variables at start, and removed by DELETE /containers/{name}?link=true. The
// /etc/hosts entry is the network service's (engine/networks/sandboxes.ts).
import { ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import { type ContainerRecord, isRunning } from './container.js';

type Find = (idOrName: string) => ContainerRecord;

interface Link {
  child: string;
  alias: string;
}

/** "db", "db:alias" or the recorded "/db:/web/alias". */
function parseLink(raw: string): Link {
  const i = raw.indexOf(':');
  const child = (i < 0 ? raw : raw.slice(0, i)).replace(/^\//, '');
  let alias = i < 0 ? child : raw.slice(i + 1);
  alias = alias.slice(alias.lastIndexOf('/') + 1);
  if (!child || !alias) throw new InvalidParameterError(`invalid link: ${raw}`);
  return { child, alias };
}

function lookup(find: Find, name: string): ContainerRecord {
  try {
    return find(name);
  } catch (err) {
    if (err instanceof NotFoundError) throw new InvalidParameterError(`could not get container for ${name}: No such container: ${name}`);
    throw err;
  }
}

/** Create: every linked container must exist; the links are recorded as Docker shows them. */
export function recordLinks(links: string[] | null | undefined, networkMode: string | undefined, parentName: string, find: Find): string[] | null {
  if (!links || links.length === 0) return links ?? null;
  if (networkMode === 'host') throw new InvalidParameterError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  if (networkMode?.startsWith('container:')) throw new InvalidParameterError('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
  return links.map((raw) => {
    const { child, alias } = parseLink(raw);
    const c = lookup(find, child);
    return `/${c.name}:/${parentName}/${alias}`;
  });
}

interface ExposedPort {
  port: number;
  proto: string;
}

/** The linked container's exposed ports in Docker's order: by number, tcp first among equal numbers. */
function exposedPorts(c: ContainerRecord): ExposedPort[] {
  const ports = Object.keys(c.config.ExposedPorts ?? {}).map((k) => {
    const [port, proto = 'tcp'] = k.split('/');
    return { port: Number(port), proto: proto.toLowerCase() };
  });
  const rank = (p: ExposedPort): number => (p.proto === 'tcp' ? 0 : 1);
  return ports.filter((p) => Number.isInteger(p.port)).sort((a, b) => a.port - b.port || rank(a) - rank(b) || a.proto.localeCompare(b.proto));
}

/**
 * <ALIAS>_PORT (the lowest port) and <ALIAS>_PORT_<n>_<PROTO>[_ADDR|_PORT|_PROTO] for every exposed
 * port, at the linked container's address on the default bridge. A run of three or more ports
 * also gets _START/_END variables named after its first port; as Docker counts it, the run goes
 * on while the k-th port after the first is numbered at most first + k (whatever its protocol).
 */
function portEnv(prefix: string, ip: string, ports: ExposedPort[]): string[] {
  if (ports.length === 0) return [];
  const env = [`${prefix}_PORT=${ports[0]!.proto}://${ip}:${ports[0]!.port}`];
  for (let i = 0; i < ports.length; ) {
    const first = ports[i]!;
    let last = i;
    while (last + 1 < ports.length && ports[last + 1]!.port <= first.port + (last + 1 - i)) last++;
    if (last < i + 2) {
      i++;
      continue;
    }
    const end = ports[last]!;
    const key = `${prefix}_PORT_${first.port}_${first.proto.toUpperCase()}`;
    const endKey = `${prefix}_PORT_${first.port}_${end.proto.toUpperCase()}`;
    env.push(`${key}_START=${first.proto}://${ip}:${first.port}`, `${key}_ADDR=${ip}`, `${key}_PROTO=${first.proto}`, `${key}_PORT_START=${first.port}`);
    env.push(`${endKey}_END=${end.proto}://${ip}:${end.port}`, `${endKey}_PORT_END=${end.port}`);
    i = last + 1;
  }
  for (const p of ports) {
    const key = `${prefix}_PORT_${p.port}_${p.proto.toUpperCase()}`;
    env.push(`${key}=${p.proto}://${ip}:${p.port}`, `${key}_ADDR=${ip}`, `${key}_PORT=${p.port}`, `${key}_PROTO=${p.proto}`);
  }
  return env;
}

/** Start: the variables a linked container's processes see, in Docker's order (moby's links.Link.ToEnv). */
export function linkEnv(parent: ContainerRecord, find: Find): string[] {
  const env: string[] = [];
  for (const raw of parent.hostConfig.Links ?? []) {
    const { child, alias } = parseLink(raw);
    const c = lookup(find, child);
    if (!isRunning(c)) throw new ConflictError(`Cannot link to a non running container: /${c.name} AS /${parent.name}/${alias}`);
    const prefix = alias.toUpperCase().replace(/-/g, '_');
    const ip = c.networks?.['bridge']?.ipAddress;
    if (ip) env.push(...portEnv(prefix, ip, exposedPorts(c)));
    env.push(`${prefix}_NAME=/${parent.name}/${alias}`);
    for (const v of c.config.Env ?? []) {
      const eq = v.indexOf('=');
      if (eq < 0) continue;
      const key = v.slice(0, eq);
      // As Docker: variables every image has are not worth passing on.
      if (key === 'HOME' || key === 'PATH') continue;
      env.push(`${prefix}_ENV_${key}=${v.slice(eq + 1)}`);
    }
  }
  return env;
}

/** DELETE /containers/{/parent/alias}?link=true: which container loses which link. */
export function parseLinkName(name: string): { parent: string; alias: string } {
  const full = name.startsWith('/') ? name : `/${name}`;
  const i = full.lastIndexOf('/');
  const parent = full.slice(1, i);
  if (!parent) throw new ConflictError('Conflict, cannot remove the default link name of the container');
  return { parent, alias: full.slice(i + 1) };
}

/** The parent's links without `alias`; throws when it had no such link. */
export function withoutLink(parent: ContainerRecord, alias: string, fullName: string): string[] | null {
  const links = parent.hostConfig.Links ?? [];
  const kept = links.filter((raw) => parseLink(raw).alias !== alias);
  if (kept.length === links.length) throw new NotFoundError(`Could not find link ${fullName}`);
  return kept.length ? kept : null;
}
