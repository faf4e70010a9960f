// Host cgroup layout handling: hybrid-mode repair, locating a container's cgroup dirs, stats, OOM.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mount as mountFs } from '../util/mount.js';
import type { BlkioEntry, BlkioStats } from '../types/api.js';
import type { CgroupStats } from './types.js';

import { CGROUP_ROOT, cgroupMode } from '../oci/host-info.js';



export interface MountEntry {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Parse /proc/self/mountinfo. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (pre.length < 5 || post.length < 3) continue;
    out.push({
      root: unescapeMount(pre[3]!),
      mountPoint: unescapeMount(pre[4]!),
      fsType: post[0]!,
      superOptions: post[2]!.split(','),
    });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

const NON_CONTROLLER_OPTS = new Set(['rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'none', 'cpuset_v2_mode', 'favordynmods']);

/** Controllers bound to a cgroup v1 mount ("name=systemd" style hierarchies carry none). */
export function v1Controllers(m: MountEntry): string[] {
  if (m.fsType !== 'cgroup') return [];
  return m.superOptions.filter((o) => !NON_CONTROLLER_OPTS.has(o) && !o.includes('='));
}

/**
 * Which controllers must get a v1 hierarchy on a hybrid host: those the cgroup2 mount offers
 * (its cgroup.controllers) that no v1 mount carries. crun refuses hybrid hosts whose cgroup2
 * still holds controllers ("drop all controllers from cgroupv2").
 */
export function planHybridFix(unifiedControllers: string[], mounts: MountEntry[]): string[] {
  const mounted = new Set<string>();
  for (const m of mounts) for (const c of v1Controllers(m)) mounted.add(c);
  const todo: string[] = [];
  for (const c of unifiedControllers) {
    if (!/^[a-z_]+$/.test(c)) continue; // never let a strange name reach mount(8)
    if (!mounted.has(c) && !todo.includes(c)) todo.push(c);
  }
  return todo;
}

export interface HybridFixOptions {
  root?: string;
  /** Defaults to /proc/self/mountinfo's content. */
  mountinfo?: string;
  /** Performs one mount; defaults to mount(8). */
  mount?: (controller: string, target: string) => Promise<void>;
}

/**
 * On a hybrid host, give every controller still held by cgroup2 its own v1 hierarchy
 * (mkdir <root>/<ctrl>; mount -t cgroup -o <ctrl> cgroup <root>/<ctrl>). Idempotent; a no-op
 * on pure v1 and pure v2 hosts. Returns the controllers it mounted.
 */
export async function fixHybridCgroups(opts: HybridFixOptions = {}): Promise<string[]> {
  const root = opts.root ?? CGROUP_ROOT;
  if (opts.root === undefined && cgroupMode(root) !== 'hybrid') return [];
  let controllers: string[];
  try {
    controllers = (await fs.readFile(path.join(root, 'unified', 'cgroup.controllers'), 'utf8')).split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
  if (controllers.length === 0) return [];
  const mountinfo = opts.mountinfo ?? (await fs.readFile('/proc/self/mountinfo', 'utf8'));
  const todo = planHybridFix(controllers, parseMountinfo(mountinfo));
  const mount = opts.mount ?? (async (ctrl: string, target: string) => mountFs(target, { source: 'cgroup', fstype: 'cgroup', data: ctrl }));
  const done: string[] = [];
  for (const ctrl of todo) {
    const target = path.join(root, ctrl);
    await fs.mkdir(target, { recursive: true });
    try {
      await mount(ctrl, target);
    } catch (err) {
      throw new Error(`cannot mount cgroup v1 hierarchy for ${ctrl} at ${target}: ${(err as Error).message.trim()}`);
    }
    done.push(ctrl);
  }
  return done;
}

// ---- locating a container's cgroup ----

interface ControllerMount {
  mountPoint: string;
  root: string;
}

let mountCache: { v1: Map<string, ControllerMount>; v2: ControllerMount | null } | null = null;

async function cgroupMounts(): Promise<{ v1: Map<string, ControllerMount>; v2: ControllerMount | null }> {
  if (mountCache) return mountCache;
  const mounts = parseMountinfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
  const v1 = new Map<string, ControllerMount>();
  let v2: ControllerMount | null = null;
  for (const m of mounts) {
    if (m.fsType === 'cgroup2') {
      if (!v2 || m.mountPoint === CGROUP_ROOT) v2 = { mountPoint: m.mountPoint, root: m.root };
    }
    for (const c of v1Controllers(m)) if (!v1.has(c)) v1.set(c, { mountPoint: m.mountPoint, root: m.root });
  }
  mountCache = { v1, v2 };
  return mountCache;
}

/** Forget cached mount points (after fixHybridCgroups mounted something). */
export function resetCgroupCache(): void {
  mountCache = null;
}

function joinCg(mount: ControllerMount, cgPath: string): string {
  let rel = cgPath;
  if (mount.root !== '/' && (rel === mount.root || rel.startsWith(mount.root + '/'))) rel = rel.slice(mount.root.length);
  return path.join(mount.mountPoint, rel);
}

/** The directory of cgroup `cgPath` in every mounted hierarchy (v1 and v2), deepest mounts first. */
export async function cgroupDirsForPath(cgPath: string): Promise<string[]> {
  const mounts = parseMountinfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of mounts) {
    if (m.fsType !== 'cgroup' && m.fsType !== 'cgroup2') continue;
    const d = joinCg({ mountPoint: m.mountPoint, root: m.root }, cgPath);
    if (!seen.has(d)) {
      seen.add(d);
      out.push(d);
    }
  }
  return out;
}

export interface CgroupDirs {
  version: 1 | 2;
  /** v1: controller -> directory. */
  v1: Map<string, string>;
  /** v2: the unified directory. */
  unified: string | null;
}

/** Parse /proc/<pid>/cgroup into controller -> path ("" for the v2 line). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const ctrls = line.slice(a + 1, b);
    const p = line.slice(b + 1);
    if (ctrls === '') out.set('', p);
    else for (const c of ctrls.split(',')) out.set(c, p);
  }
  return out;
}

/**
 * The container's cgroup directories: from /proc/<pid>/cgroup when the init process is alive
 * (authoritative), else from the cgroupsPath the spec used.
 */
export async function containerCgroupDirs(pid: number | null, fallbackPath: string): Promise<CgroupDirs> {
  const mode = cgroupMode();
  const mounts = await cgroupMounts();
  let procPaths: Map<string, string> | null = null;
  if (pid && pid > 0) {
    try {
      procPaths = parseProcCgroup(await fs.readFile(`/proc/${pid}/cgroup`, 'utf8'));
    } catch {
      procPaths = null;
    }
  }
  if (mode === 'v2') {
    const p = procPaths?.get('') ?? fallbackPath;
    return { version: 2, v1: new Map(), unified: joinCg(mounts.v2 ?? { mountPoint: CGROUP_ROOT, root: '/' }, p) };
  }
  const v1 = new Map<string, string>();
  for (const [ctrl, m] of mounts.v1) v1.set(ctrl, joinCg(m, procPaths?.get(ctrl) ?? fallbackPath));
  return { version: 1, v1, unified: null };
}

// ---- stats ----

async function readText(p: string | undefined): Promise<string | null> {
  if (!p) return null;
  try {
    return await fs.readFile(p, 'utf8');
  } catch {
    return null;
  }
}

function num(s: string | null | undefined): number {
  if (s == null) return 0;
  const t = s.trim();
  if (t === '' || t === 'max') return 0;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

function parseKV(text: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  if (!text) return out;
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    out[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return out;
}

const USER_HZ = 100;

/** Total host CPU time in ns as /proc/stat counts it (what docker calls system_cpu_usage). */
export async function systemCpuNs(): Promise<number> {
  const text = (await readText('/proc/stat')) ?? '';
  const line = text.split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1, 8).map(Number);
  const ticks = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return (ticks * 1e9) / USER_HZ;
}

export async function readCgroupStats(dirs: CgroupDirs): Promise<CgroupStats> {
  const hostMem = os.totalmem();
  const onlineCpus = os.cpus().length || 1;
  const sysNs = await systemCpuNs();
  if (dirs.version === 2 && dirs.unified) {
    const d = dirs.unified;
    const [cpuStat, memCur, memPeak, memMax, memStat, pidsCur, pidsMax] = await Promise.all(
      ['cpu.stat', 'memory.current', 'memory.peak', 'memory.max', 'memory.stat', 'pids.current', 'pids.max'].map((f) =>
        readText(path.join(d, f)),
      ),
    );
    const cpu = parseKV(cpuStat);
    const limit = num(memMax);
    return {
      cpuTotalNs: (cpu['usage_usec'] ?? 0) * 1000,
      cpuUserNs: (cpu['user_usec'] ?? 0) * 1000,
      cpuSystemNs: (cpu['system_usec'] ?? 0) * 1000,
      perCpuNs: [],
      systemCpuNs: sysNs,
      onlineCpus,
      memoryUsage: num(memCur),
      memoryMaxUsage: num(memPeak),
      memoryLimit: limit > 0 && limit < hostMem ? limit : hostMem,
      memoryStats: parseKV(memStat),
      pidsCurrent: num(pidsCur),
      pidsLimit: num(pidsMax),
      cpuPeriods: cpu['nr_periods'] ?? 0,
      cpuThrottledPeriods: cpu['nr_throttled'] ?? 0,
      cpuThrottledNs: (cpu['throttled_usec'] ?? 0) * 1000,
      blkio: blkioV2(await readText(path.join(d, 'io.stat'))),
    };
  }
  const cpuacct = dirs.v1.get('cpuacct');
  const mem = dirs.v1.get('memory');
  const pids = dirs.v1.get('pids');
  const j = (d: string | undefined, f: string) => (d ? path.join(d, f) : undefined);
  const [usage, percpu, cpuStat, memUsage, memMaxUsage, memLimit, memStat, pidsCur, pidsMax, cfsStat] = await Promise.all([
    readText(j(cpuacct, 'cpuacct.usage')),
    readText(j(cpuacct, 'cpuacct.usage_percpu')),
    readText(j(cpuacct, 'cpuacct.stat')),
    readText(j(mem, 'memory.usage_in_bytes')),
    readText(j(mem, 'memory.max_usage_in_bytes')),
    readText(j(mem, 'memory.limit_in_bytes')),
    readText(j(mem, 'memory.stat')),
    readText(j(pids, 'pids.current')),
    readText(j(pids, 'pids.max')),
    readText(j(dirs.v1.get('cpu'), 'cpu.stat')),
  ]);
  const cfs = parseKV(cfsStat);
  const cs = parseKV(cpuStat);
  const limit = num(memLimit);
  return {
    cpuTotalNs: num(usage),
    cpuUserNs: ((cs['user'] ?? 0) * 1e9) / USER_HZ,
    cpuSystemNs: ((cs['system'] ?? 0) * 1e9) / USER_HZ,
    perCpuNs: (percpu ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
    systemCpuNs: sysNs,
    onlineCpus,
    memoryUsage: num(memUsage),
    memoryMaxUsage: num(memMaxUsage),
    memoryLimit: limit > 0 && limit < hostMem ? limit : hostMem,
    memoryStats: parseKV(memStat),
    pidsCurrent: num(pidsCur),
    pidsLimit: num(pidsMax),
    cpuPeriods: cfs['nr_periods'] ?? 0,
    cpuThrottledPeriods: cfs['nr_throttled'] ?? 0,
    cpuThrottledNs: cfs['throttled_time'] ?? 0,
    blkio: await blkioV1(dirs.v1.get('blkio')),
  };
}

/** "8:0 Read 4096" lines (the "Total" line has no device) → Docker's entries. */
function blkioEntries(text: string | null): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

/** cgroup v1: the CFQ files when the scheduler keeps them, else the throttle files (as Docker). */
async function blkioV1(dir: string | undefined): Promise<BlkioStats> {
  const read = async (name: string): Promise<BlkioEntry[]> => {
    if (!dir) return [];
    const cfq = blkioEntries(await readText(path.join(dir, `blkio.${name}`)));
    return cfq.length > 0 ? cfq : blkioEntries(await readText(path.join(dir, `blkio.throttle.${name}`)));
  };
  const sectors = async (): Promise<BlkioEntry[]> =>
    dir ? blkioEntries((await readText(path.join(dir, 'blkio.sectors_recursive')))?.replace(/^(\d+:\d+) (\d+)$/gm, '$1 Total $2') ?? null) : [];
  const plain = (name: string): Promise<BlkioEntry[]> => (dir ? readText(path.join(dir, `blkio.${name}`)).then(blkioEntries) : Promise.resolve([]));
  const [bytes, serviced, queue, time, wait, merged, iotime, sec] = await Promise.all([
    read('io_service_bytes_recursive'),
    read('io_serviced_recursive'),
    plain('io_queued_recursive'),
    plain('io_service_time_recursive'),
    plain('io_wait_time_recursive'),
    plain('io_merged_recursive'),
    plain('time_recursive'),
    sectors(),
  ]);
  return {
    io_service_bytes_recursive: bytes,
    io_serviced_recursive: serviced,
    io_queue_recursive: queue,
    io_service_time_recursive: time,
    io_wait_time_recursive: wait,
    io_merged_recursive: merged,
    io_time_recursive: iotime,
    sectors_recursive: sec,
  };
}

/** cgroup v2's io.stat ("8:0 rbytes=… wbytes=… rios=… wios=…"): bytes and ios only, the rest null, as Docker. */
function blkioV2(text: string | null): BlkioStats {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const v = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, n]) => [k, Number(n)]));
    const major = Number(m[1]);
    const minor = Number(m[2]);
    bytes.push({ major, minor, op: 'read', value: v['rbytes'] ?? 0 }, { major, minor, op: 'write', value: v['wbytes'] ?? 0 });
    ios.push({ major, minor, op: 'read', value: v['rios'] ?? 0 }, { major, minor, op: 'write', value: v['wios'] ?? 0 });
  }
  return { ...emptyBlkio(), io_service_bytes_recursive: bytes.length ? bytes : null, io_serviced_recursive: ios.length ? ios : null };
}

/** blkio_stats with nothing measured (a stopped container; cgroup v2's fields v1 alone has). */
export function emptyBlkio(): BlkioStats {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

/** Whether the kernel OOM killer has killed something in this cgroup (best effort). */
export async function cgroupOomKilled(dirs: CgroupDirs): Promise<boolean> {
  if (dirs.version === 2 && dirs.unified) {
    const ev = parseKV(await readText(path.join(dirs.unified, 'memory.events')));
    return (ev['oom_kill'] ?? 0) > 0;
  }
  const mem = dirs.v1.get('memory');
  if (!mem) return false;
  const ctl = parseKV(await readText(path.join(mem, 'memory.oom_control')));
  return (ctl['oom_kill'] ?? 0) > 0;
}

/** Pids in the container's cgroup (v1: the pids/memory/freezer hierarchy; v2: unified). */
export async function cgroupPids(dirs: CgroupDirs): Promise<number[] | null> {
  const candidates =
    dirs.version === 2 ? [dirs.unified] : [dirs.v1.get('pids'), dirs.v1.get('memory'), dirs.v1.get('freezer'), dirs.v1.get('cpu')];
  for (const d of candidates) {
    if (!d) continue;
    const t = await readText(path.join(d, 'cgroup.procs'));
    if (t !== null) return t.split('\n').filter(Boolean).map(Number);
  }
  return null;
}

/** Lifts the container's pids limit: crun's `update` can only write numbers, and "max" is the kernel's word for none. */
export async function unlimitPids(dirs: CgroupDirs): Promise<void> {
  const dir = dirs.version === 2 ? dirs.unified : dirs.v1.get('pids');
  if (dir) await fs.writeFile(path.join(dir, 'pids.max'), 'max');
}
