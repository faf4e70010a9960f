#!/usr/bin/env node
// What --userns-remap costs. Berth and dockerd both chown on unpack: a remapped daemon stores
// its own copy of every image, with host ids, under <data-root>/<uid>.<gid>. Timed side by side,
// plain and remapped, through the same docker CLI: `load` of one image archive (a large layer of
// many files: the per-entry ownership is the part that could cost) and `run --rm` of it; the
// floor is GNU tar extracting the same layer as root. Then the alternative Berth does not use:
// id-mapped mounts (open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount) of the layer
// directories under one overlay — whether the kernel allows it here, and what it costs per layer.
// Run as root (it adds a user with a subordinate range and removes it at the end):
//
//   npm run bench:userns          # or: node dist/bench/userns.js [--quick] [--mb 200] [--runs 3]
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  DOCKER_ENV,
  DOCKERD_CLI,
  log,
  median,
  mustTime,
  type OpContestant,
  opBenchArgs,
  opReport,
  type Peer,
  prepareOpBench,
  ratio,
  reportTime,
  runBench,
  runOps,
  sh,
  startBerth,
  startDockerd,
  skipped,
  TMP,
} from './lib.js';

const opts = opBenchArgs('userns.js', 'size of the image layer in MB (default 200)');
// Smaller defaults than the other throughput benches (5 contestants): 200 MB, 50 with --quick (one run).
const QUICK = opts.runs === 1 && !process.argv.includes('--runs');
const MB = process.argv.includes('--mb') ? opts.mb : QUICK ? 50 : 200;
const RUNS = opts.runs;
const SMALL_FILES = QUICK ? 5000 : 20000;
const TIMEOUT = 15 * 60_000;
const RANGE = 65536;
const IMAGE = 'bench-userns:latest';

type Op = 'load' | 'run';
type Contestant = OpContestant<Op>;
const FLOOR = 'floor: GNU tar -x (as root)';
const BERTH = 'Berth (docker CLI)';
const BERTH_REMAP = 'Berth --userns-remap';
const DOCKERD_REMAP = 'dockerd --userns-remap';

/** A user with a free subordinate range, as the tests make one; removed (with its ranges) by userdel. */
function createRemapUser(): { name: string; start: number } {
  const name = `berthbu${randomBytes(3).toString('hex')}`;
  let start = 100000;
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      const p = l.split(':');
      if (p.length === 3 && Number(p[1]) + Number(p[2]) > start) start = Number(p[1]) + Number(p[2]);
    }
  }
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', name]);
  execFileSync('usermod', ['--add-subuids', `${start}-${start + RANGE - 1}`, '--add-subgids', `${start}-${start + RANGE - 1}`, name]);
  return { name, start };
}

/** busybox plus MB of 1 MiB files and SMALL_FILES small ones, as one layer tar. */
function writeLayer(dir: string): string {
  const root = path.join(dir, 'rootfs');
  mkdirSync(root, { recursive: true });
  execFileSync('tar', ['-xf', path.join(TMP, 'busybox.tar'), '-C', root]);
  for (let i = 0; i < MB; i++) {
    const sub = path.join(root, 'payload', `d${Math.floor(i / 50)}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `f${i}.bin`), randomBytes(1 << 20));
  }
  for (let i = 0; i < SMALL_FILES; i++) {
    const sub = path.join(root, 'small', `s${i % 100}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `x${i}.txt`), `small file ${i}\n`);
  }
  const tar = path.join(dir, 'layer.tar');
  execFileSync('tar', ['-cf', tar, '-C', root, '.']);
  rmSync(root, { recursive: true, force: true });
  return tar;
}

function dockerContestant(name: string, peer: Peer, archive: string): Contestant {
  return {
    name,
    run: async (op) => {
      if (op === 'load') {
        await mustTime(peer.docker('rmi', '-f', IMAGE), DOCKER_ENV, TIMEOUT).catch(() => undefined);
        return (await mustTime(peer.docker('load', '-q', '-i', archive), DOCKER_ENV, TIMEOUT)).ms / 1000;
      }
      return (await mustTime(peer.docker('run', '--rm', '--network', 'none', IMAGE, 'true'), DOCKER_ENV, TIMEOUT)).ms / 1000;
    },
  };
}

function floorContestant(layer: string): Contestant {
  return {
    name: FLOOR,
    run: async (op, i) => {
      const target = path.join(TMP, `floor-${i}`);
      mkdirSync(target);
      const r = await mustTime(['tar', '-xf', layer, '-C', target], undefined, TIMEOUT);
      rmSync(target, { recursive: true, force: true });
      return op === 'load' ? r.ms / 1000 : NaN;
    },
  };
}

// ------------------------------------------------ id-mapped mounts, measured (Berth does not use them)

const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const MOUNT_ATTR_IDMAP = 0x100000;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const SYS = { open_tree: 428, move_mount: 429, mount_setattr: 442 }; // x86_64

/** Whether overlayfs takes id-mapped layers here, and the time per id-mapped layer mount. */
async function idmappedMounts(layers: number, start: number): Promise<string[]> {
  if (process.arch !== 'x64') return ['id-mapped mounts: not measured (syscall numbers are x86_64 ones)'];
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  const syscall = libc.func('long syscall(long nr, ...)');
  const close = libc.func('int close(int fd)');
  const attr = koffi.struct('mount_attr', { attr_set: 'uint64', attr_clr: 'uint64', propagation: 'uint64', userns_fd: 'uint64' });
  const dir = path.join(TMP, 'idmap');
  // A user namespace with the mapping: a process waiting on its stdin, maps written by root.
  const holder = spawn('unshare', ['--user', '--', 'sh', '-c', 'echo ready; read _'], { stdio: ['pipe', 'pipe', 'ignore'] });
  await once(holder.stdout, 'data');
  writeFileSync(`/proc/${holder.pid}/uid_map`, `0 ${start} ${RANGE}\n`);
  writeFileSync(`/proc/${holder.pid}/gid_map`, `0 ${start} ${RANGE}\n`);
  const nsfd = openSync(`/proc/${holder.pid}/ns/user`, 'r');
  const out: string[] = [];
  const mounted: string[] = [];
  try {
    const ms: number[] = [];
    for (let i = 0; i < layers; i++) {
      const src = path.join(dir, `l${i}`);
      const dst = path.join(dir, `m${i}`);
      mkdirSync(src, { recursive: true });
      mkdirSync(dst, { recursive: true });
      writeFileSync(path.join(src, `f${i}`), 'x');
      const t0 = process.hrtime.bigint();
      const fd = Number(syscall(SYS.open_tree, 'int', AT_FDCWD, 'str', src, 'uint', OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
      if (fd < 0) throw new Error(`open_tree: errno ${koffi.errno()}`);
      try {
        const a = { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: nsfd };
        if (Number(syscall(SYS.mount_setattr, 'int', fd, 'str', '', 'uint', AT_EMPTY_PATH, koffi.pointer(attr), a, 'size_t', koffi.sizeof(attr))) !== 0) {
          throw new Error(`mount_setattr(MOUNT_ATTR_IDMAP): errno ${koffi.errno()}`);
        }
        if (Number(syscall(SYS.move_mount, 'int', fd, 'str', '', 'int', AT_FDCWD, 'str', dst, 'uint', MOVE_MOUNT_F_EMPTY_PATH)) !== 0) {
          throw new Error(`move_mount: errno ${koffi.errno()}`);
        }
      } finally {
        close(fd);
      }
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      mounted.push(dst);
    }
    out.push(`id-mapped layer mounts: ${layers} made, median ${median(ms).toFixed(3)} ms each; a file owned by 0 on disk shows as ${statSync(path.join(dir, 'm0', 'f0')).uid} through one`);
    const merged = path.join(dir, 'merged');
    for (const d of ['upper', 'work', 'merged']) mkdirSync(path.join(dir, d), { recursive: true });
    const lower = mounted.map((m) => m).reverse().join(':');
    try {
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, merged], { stdio: 'pipe' });
      mounted.push(merged);
      out.push(`overlay over ${layers} id-mapped layers: mounts; through it f0 is owned by ${statSync(path.join(merged, 'f0')).uid} (the mapped root)`);
    } catch (err) {
      out.push(`overlay over id-mapped layers: refused (${(err as Error).message.split('\n')[0]})`);
    }
  } catch (err) {
    out.push(`id-mapped mounts: not available here (${(err as Error).message})`);
  } finally {
    for (const m of mounted.reverse()) spawnUmount(m);
    closeSync(nsfd);
    holder.stdin.end('\n');
  }
  return out;
}

function spawnUmount(target: string): void {
  try {
    execFileSync('umount', [target], { stdio: 'ignore' });
  } catch {
    /* gone */
  }
}

function du(dir: string): number {
  return Number(sh('du', ['-sxm', dir]).split('\t')[0]);
}

async function main(): Promise<void> {
  await prepareOpBench(opts, ['tar', 'uidmap', 'passwd']);
  const user = createRemapUser();
  // The remapped root must pass through every directory above its data root (as dockerd requires).
  chmodSync(TMP, 0o711);
  try {
    log(`writing a layer of ${MB} MB and ${SMALL_FILES} small files`);
    const layer = writeLayer(path.join(TMP, 'layer'));
    const contestants: Contestant[] = [floorContestant(layer)];
    log('starting berthd, plain and remapped');
    const berth = await startBerth('berth', 'crun', ['--no-default-image']);
    const berthRemap = await startBerth('berth-remap', 'crun', ['--userns-remap', user.name], 'bu');
    // The archive every contestant loads: the layer imported into the plain berthd and saved.
    await mustTime(berth.docker('import', layer, IMAGE), DOCKER_ENV, TIMEOUT);
    const archive = path.join(TMP, 'image.tar');
    await mustTime(berth.docker('save', '-o', archive, IMAGE), DOCKER_ENV, TIMEOUT);
    contestants.push(dockerContestant(BERTH, berth, archive), dockerContestant(BERTH_REMAP, berthRemap, archive));
    const dockerds: Peer[] = [];
    if (opts.noDockerd) skipped.push('dockerd: --no-dockerd');
    else {
      try {
        log('starting dockerd, plain and remapped');
        dockerds.push(await startDockerd());
        dockerds.push(await startDockerd('dockerd-remap', ['--userns-remap', user.name]));
        contestants.push(dockerContestant(DOCKERD_CLI, dockerds[0]!, archive), dockerContestant(DOCKERD_REMAP, dockerds[1]!, archive));
      } catch (err) {
        skipped.push(`dockerd: could not start: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    const results = await runOps<Op>(['load', 'run'], contestants, RUNS, (op, c) => op === 'load' || c.name !== FLOOR);
    const med = (op: Op, name: string): number => median(results.find((r) => r.op === op && r.name === name)?.seconds ?? []);
    const extra = [
      `remapped ÷ plain, Berth: load ${ratio(med('load', BERTH_REMAP) / med('load', BERTH))}, run ${ratio(med('run', BERTH_REMAP) / med('run', BERTH))}`,
      dockerds.length ? `remapped ÷ plain, dockerd: load ${ratio(med('load', DOCKERD_REMAP) / med('load', DOCKERD_CLI))}, run ${ratio(med('run', DOCKERD_REMAP) / med('run', DOCKERD_CLI))}` : '',
      `disk: the plain berthd's data root ${du(path.join(TMP, 'berth', 'root'))} MB, the remapped one's ${du(path.join(TMP, 'berth-remap', 'root'))} MB: a remapped daemon keeps its own copy of every image`,
      ...(await idmappedMounts(10, user.start)),
    ].filter(Boolean);
    process.stdout.write(
      opReport({
        title: `Berth --userns-remap benchmark — ${reportTime()} UTC — layer ${MB} MB + ${SMALL_FILES} small files, ${RUNS} run(s) each`,
        versions: sh('tar', ['--version']).split('\n')[0],
        results,
        megabytes: MB,
        floor: FLOOR,
        hasFloor: (op) => op === 'load',
        target: () => undefined,
        legend: 'load: `docker load` of the saved image (rmi before each run); run: `docker run --rm --network none` of it. The floor extracts the same layer tar with GNU tar.',
      }) + extra.join('\n') + '\n',
    );
  } finally {
    // After the daemons are gone (runBench's cleanup runs later): userdel only needs no process of the user.
    process.once('beforeExit', () => spawn('userdel', [user.name], { stdio: 'ignore' }));
  }
}

runBench(main);
