// A bridge of its own for a test's or a bench's dockerd. A dockerd started with --bridge=none deletes an
// existing docker0 (the host's own dockerd then cannot start a container), and one started with no
// --bridge creates docker0: both touch the host. So the test takes a network range of its own
// (TestNetRange: a 10.X.0.0/16 nobody routes, locked against the other test daemons on this
// machine), creates a bridge of that range's unique name on 10.X.0.1/24, hands it to dockerd with
// --bridge, and deletes exactly that link when done.
import { execFileSync } from 'node:child_process';
import { TestNetRange } from './net-range.js';

const IP_PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`;

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', env: { ...process.env, PATH: IP_PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface PeerBridge {
  readonly name: string;
  /** The bridge's own address with its prefix, e.g. 10.187.0.1/24. */
  readonly cidr: string;
  /** dockerd flags that use this bridge and leave the host's forwarding and firewall alone. */
  readonly dockerdArgs: string[];
  /** Deletes the link and gives the range back (idempotent). */
  remove(): void;
}

/** Creates a bridge for one dockerd; the caller removes it after dockerd has stopped. */
export function createPeerBridge(): PeerBridge {
  const net = TestNetRange.take();
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    net.release(); // deletes the link by its unique name, then the lock
  };
  try {
    ip(['link', 'add', net.bridge, 'type', 'bridge']);
    ip(['addr', 'add', net.bip, 'dev', net.bridge]);
    ip(['link', 'set', net.bridge, 'up']);
  } catch (e) {
    remove();
    throw e;
  }
  const dockerdArgs = [`--bridge=${net.bridge}`, '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--ip-forward=false'];
  return { name: net.bridge, cidr: net.bip, dockerdArgs, remove };
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
