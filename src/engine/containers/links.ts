// Docker's legacy links (--link name:alias) on the default network: checked at create and
// recorded in Docker's form ("/db:/web/db"), turned into the <ALIAS>_NAME and <ALIAS>_ENV_*
// variables at start, and removed by DELETE /containers/{name}?link=true. The /etc/hosts entry and
// the <ALIAS>_PORT_* variables need the linked container's address: they come with networks.
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

/** Start: the variables a linked container's processes see (moby's links.Link.ToEnv, without ports). */
export function linkEnv(parent: ContainerRecord, find: Find): string[] {
  const env: string[] = [];
  for (const raw of parent.hostConfig.Links ?? []) {
    const { child, alias } = parseLink(raw);
    const c = lookup(find, child);
    if (!isRunning(c)) throw new ConflictError(`Cannot link to a non running container: /${c.name} AS /${parent.name}/${alias}`);
    const prefix = alias.toUpperCase().replace(/-/g, '_');
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
