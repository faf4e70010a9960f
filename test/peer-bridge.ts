// A bridge of its own for a test's or bench's dockerd. A dockerd started with --bridge=none deletes
// an existing docker0 (the host's own dockerd then cannot start a container), and one started with
// no --bridge creates docker0: both touch the host. So the test creates a bridge with a random
// name (btd + 6 hex digits) on a random 10.x.y.0/24 that overlaps no route or address already on
// the host, hands it to dockerd with --bridge, and deletes exactly that link when done.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

const IP_PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`;

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', env: { ...process.env, PATH: IP_PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function toInt(addr: string): number {
  return addr.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** [first, last] address of a CIDR (a bare address is a /32). */
function range(cidr: string): [number, number] {
  const [addr, bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(addr!) / size) * size;
  return [start, start + size - 1];
}

/** Every IPv4 prefix in use on the host: routes of all tables and interface addresses. */
function hostPrefixes(): [number, number][] {
  const prefixes: [number, number][] = [];
  for (const line of ip(['-4', 'route', 'show', 'table', 'all']).split('\n')) {
    const first = line.split(' ').find((w, i) => i < 2 && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(w));
    if (first) prefixes.push(range(first));
  }
  for (const m of ip(['-4', '-o', 'addr', 'show']).matchAll(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/g)) prefixes.push(range(m[1]!));
  return prefixes;
}

export interface PeerBridge {
  readonly name: string;
  /** The bridge's own address with its prefix, e.g. 10.187.42.1/24. */
  readonly cidr: string;
  /** dockerd flags that use this bridge and leave the host's forwarding and firewall alone. */
  readonly dockerdArgs: string[];
  /** Deletes the link (idempotent). */
  remove(): void;
}

/** Creates a bridge for one dockerd; the caller removes it after dockerd has stopped. */
export function createPeerBridge(): PeerBridge {
  const used = hostPrefixes();
  let subnet = '';
  for (let tries = 0; tries < 100 && !subnet; tries++) {
    const candidate = `10.${randomInt(16, 255)}.${randomInt(0, 256)}.0/24`;
    const [a, b] = range(candidate);
    if (!used.some(([c, d]) => c <= b && a <= d)) subnet = candidate;
  }
  if (!subnet) throw new Error('no free 10.x.y.0/24 for the test bridge');
  const name = `btd${randomBytes(3).toString('hex')}`;
  const cidr = subnet.replace(/\.0\/24$/, '.1/24');
  ip(['link', 'add', name, 'type', 'bridge']);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    try {
      ip(['link', 'del', name]);
    } catch {
      /* already gone */
    }
  };
  try {
    ip(['addr', 'add', cidr, 'dev', name]);
    ip(['link', 'set', name, 'up']);
  } catch (e) {
    remove();
    throw e;
  }
  const dockerdArgs = [`--bridge=${name}`, '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--ip-forward=false'];
  return { name, cidr, dockerdArgs, remove };
}

/** True while a link of that name exists. */
export function linkExists(name: string): boolean {
  try {
    ip(['link', 'show', name]);
    return true;
  } catch {
    return false;
  }
}
