// The per-file leak check. It runs while the daemon still runs: every container is removed through
// the API (a failed DELETE is itself a finding), then nothing of a removed container may remain
// (conmon, overlay or namespace mount, cgroup, exec-root file), nothing of a removed network (its
// netavark DNAT chain), and what berthd itself holds (open descriptors, child processes, timers)
// must not have grown since the file's daemon started.
// stopAndCheckClean (harness.ts) calls it in each file's `after`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mountsUnder, parseMountinfo, pidsMentioning, sleep, type TestDaemon } from './harness.js';

/** What berthd holds, read from /proc and from its SIGUSR1 dump. */
export interface DaemonResources {
  /** Targets of its open descriptors (socket:[…], /path, anon_inode:[…]). */
  fds: string[];
  /** Its child processes, as "pid cmdline". */
  children: string[];
  /** process.getActiveResourcesInfo() counts by kind (Timeout, TCPSocketWrap, …). */
  active: Record<string, number>;
}

/** How many more descriptors / timers than at start a file may leave (lazy one-offs: inotify, pools). */
const FD_SLACK = 6;
const TIMER_SLACK = 2;

function childrenOf(pid: number): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(`${d} ${fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim()}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Reads berthd's descriptors and children from /proc, and its active handles via SIGUSR1. */
export async function daemonResources(d: TestDaemon): Promise<DaemonResources> {
  const pid = d.pid;
  if (!pid) throw new Error('the daemon is not running');
  const fds: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      fds.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* closed meanwhile */
    }
  }
  const dump = path.join(d.execRoot, 'berthd-resources.json');
  fs.rmSync(dump, { force: true });
  process.kill(pid, 'SIGUSR1');
  let resources: string[] | undefined;
  for (let i = 0; i < 200 && !resources; i++) {
    try {
      resources = (JSON.parse(fs.readFileSync(dump, 'utf8')) as { resources: string[] }).resources;
    } catch {
      await sleep(10);
    }
  }
  fs.rmSync(dump, { force: true });
  if (!resources) throw new Error('berthd wrote no resource dump after SIGUSR1');
  const active: Record<string, number> = {};
  for (const r of resources) active[r] = (active[r] ?? 0) + 1;
  return { fds, children: childrenOf(pid), active };
}

/** Entries of a directory, or [] when it does not exist. */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Mount points under `root` with their filesystem type. */
function mountsWithType(root: string): { mountpoint: string; fstype: string }[] {
  const under = new Set(mountsUnder(root));
  return parseMountinfo().filter((m) => under.has(m.mountpoint));
}

/**
 * What berthd holds for itself, not for a container: the runtime binary bound read-only, the
 * netns dir (a bind mount of itself) and each network's keeper namespace (netns/keeper-<network>).
 */
function daemonOwn(d: TestDaemon, p: string): boolean {
  const netns = path.join(d.execRoot, 'netns');
  return p.startsWith(path.join(d.execRoot, 'runtime', 'bin') + '/') || p === netns || p.startsWith(path.join(netns, 'keeper-'));
}

/** What a removed container may have left: monitors, mounts, cgroups, exec-root state. */
function containerLeftovers(d: TestDaemon, ids: Iterable<string>): string[] {
  const found: string[] = [];
  for (const pid of pidsMentioning(d.execRoot, 'conmon')) found.push(`conmon ${pid} still runs`);
  const netns = path.join(d.execRoot, 'netns');
  for (const m of mountsWithType(d.root)) {
    if (daemonOwn(d, m.mountpoint)) continue;
    found.push(`${m.fstype} mount ${m.mountpoint}`);
  }
  for (const sub of ['runtime/ctr', 'runtime/exits', 'runtime/socket', 'runtime/crun', 'runtime/runc', 'bundles']) {
    for (const e of entries(path.join(d.execRoot, sub))) found.push(`exec-root file ${sub}/${e}`);
  }
  for (const e of entries(netns)) if (!daemonOwn(d, path.join(netns, e))) found.push(`exec-root file netns/${e}`);
  const cgroupRoots = entries('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h));
  cgroupRoots.push('/sys/fs/cgroup');
  for (const id of ids) {
    for (const r of cgroupRoots) if (fs.existsSync(path.join(r, 'berth', id))) found.push(`cgroup ${path.join(r, 'berth', id)}`);
    for (const ns of entries('/run/netns')) if (ns.includes(id.slice(0, 12))) found.push(`network namespace /run/netns/${ns}`);
  }
  return found;
}

/** The nat table's chains, from iptables-save (ip6tables-save for IPv6); [] without the tool. */
function natChains(save: 'iptables-save' | 'ip6tables-save'): string[] {
  try {
    const out = execFileSync(save, ['-t', 'nat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` } });
    return out.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
  } catch {
    return [];
  }
}

export function netavarkDnatChain(networkId: string): string {
  return `NETAVARK-DN-${createHash('sha512').update(networkId).digest('hex').slice(0, 13).toUpperCase()}`;
}

export function natChainExists(chain: string, ipv6 = false): boolean {
  return natChains(ipv6 ? 'ip6tables-save' : 'iptables-save').includes(chain);
}

/**
 * netavark's per-network DNAT chain of each network the daemon removed: netavark names it after
 * the network ("NETAVARK-DN-" + 13 upper-case hex digits of the SHA-512 of the name it was given,
 * Berth's network id; derived here independently of src/network/netavark.ts).
 */
export function removedNetworkChains(d: TestDaemon): string[] {
  if (d.removedNetworkIds.size === 0) return [];
  const wanted = new Map([...d.removedNetworkIds].map((id) => [netavarkDnatChain(id), id]));
  const found: string[] = [];
  for (const save of ['iptables-save', 'ip6tables-save'] as const) {
    for (const chain of natChains(save)) {
      const id = wanted.get(chain);
      if (id) found.push(`${save === 'iptables-save' ? 'iptables' : 'ip6tables'} nat chain ${chain} of removed network ${id.slice(0, 12)}`);
    }
  }
  return found;
}

/** Growth of descriptors, children and timers since `base`. */
function resourceGrowth(base: DaemonResources, now: DaemonResources): string[] {
  const found: string[] = [];
  if (now.fds.length > base.fds.length + FD_SLACK) {
    const left = [...base.fds];
    const extra = now.fds.filter((t) => {
      const i = left.indexOf(t);
      if (i < 0) return true;
      left.splice(i, 1);
      return false;
    });
    found.push(`berthd holds ${now.fds.length} descriptors, ${base.fds.length} at start: ${extra.join(', ')}`);
  }
  if (now.children.length > base.children.length) found.push(`berthd child processes: ${now.children.join('; ')}`);
  const timers = (r: DaemonResources): number => (r.active['Timeout'] ?? 0) + (r.active['Immediate'] ?? 0);
  if (timers(now) > timers(base) + TIMER_SLACK) found.push(`berthd has ${timers(now)} timers, ${timers(base)} at start`);
  return found;
}

/**
 * Removes every container through the API, then lists what was left behind (empty when clean).
 * What settles after the answer (a monitor exiting, a network teardown that runs in the
 * background, slow on a loaded machine) gets up to `settleMs`.
 */
export async function findLeaks(d: TestDaemon, settleMs = 20_000): Promise<string[]> {
  if (!d.running) return [];
  const found: string[] = [];
  const list = await d.api<{ Id: string }[]>('GET', '/containers/json?all=1');
  if (list.status !== 200) return [`GET /containers/json answered ${list.status} ${list.text}`];
  for (const c of list.body) {
    const r = await d.api('DELETE', `/containers/${c.Id}?force=1`);
    if (r.status !== 204) found.push(`DELETE /containers/${c.Id}?force=1 answered ${r.status} ${r.text}`);
  }
  let left: string[] = [];
  for (const deadline = Date.now() + settleMs; ; ) {
    left = [...containerLeftovers(d, d.containerIds), ...removedNetworkChains(d)];
    const base = d.baseline;
    if (base) left.push(...resourceGrowth(base, await daemonResources(d)));
    if (left.length === 0 || Date.now() > deadline) break;
    await sleep(200);
  }
  return [...found, ...left];
}
