// Containers that cannot reach back: Docker's defaults checked from inside a container, the same
// checks on a test-started dockerd and on berthd, compared. Capabilities, seccomp mode 2,
// no_new_privs, masked and read-only /proc paths, no host descriptors inside (runc's
// CVE-2024-21626 class), and the runtime binary out of reach from inside (CVE-2019-5736 class).
// docker cp racing symlinks (CVE-2018-15664 class) is cp.test.ts's "racing container" test.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startDaemon, stopAndCheckClean, type RunResult, type TestDaemon } from './harness.js';
import { peersMissing, startDockerd, which, type Dockerd } from './peers.js';

const skip = peersMissing(['dockerd', 'docker']);

type Engine = { name: string; docker(args: string[]): Promise<RunResult> };

/** Runs a shell snippet in a fresh busybox container (no network) and returns its stdout. */
async function inside(e: Engine, script: string, flags: string[] = []): Promise<string> {
  const r = await e.docker(['run', '--rm', '--network', 'none', ...flags, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 0, `${e.name}: ${script}: ${r.stderr}`);
  return r.stdout;
}

/** /proc/self/status lines of interest, from inside. */
async function status(e: Engine, flags: string[] = []): Promise<Record<string, string>> {
  const out = await inside(e, 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status', flags);
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
}

/** Mount points under /proc and /sys that are masked or read-only, with how. */
async function procMounts(e: Engine): Promise<string[]> {
  const out = await inside(e, 'cat /proc/self/mountinfo');
  const seen: string[] = [];
  for (const line of out.trim().split('\n')) {
    const f = line.split(' ');
    const mountPoint = f[4];
    const opts = f[5];
    const fstype = f[f.indexOf('-') + 1];
    if (!/^\/(proc|sys)\//.test(mountPoint)) continue;
    seen.push(`${mountPoint} ${opts.split(',')[0]} ${fstype === 'tmpfs' ? 'tmpfs' : fstype === 'proc' ? 'proc' : 'file'}`);
  }
  return seen.sort();
}

describe('containers that cannot reach back (berthd and dockerd, same checks)', { skip }, () => {
  let berth: TestDaemon;
  let dockerd: Dockerd;
  const engines: Engine[] = [];

  before(async () => {
    berth = await startDaemon();
    dockerd = await startDockerd({ busybox: true });
    engines.push({ name: 'berth', docker: (a) => berth.docker(a) }, { name: 'dockerd', docker: (a) => dockerd.docker(a) });
  });
  after(async () => {
    await dockerd?.stop();
    await stopAndCheckClean(berth);
  });

  test('effective capabilities, seccomp mode 2, no_new_privs only when asked', async () => {
    const [b, d] = await Promise.all(engines.map((e) => status(e)));
    assert.equal(b.Seccomp, '2');
    assert.deepEqual(b, d);
    const [bn, dn] = await Promise.all(engines.map((e) => status(e, ['--security-opt', 'no-new-privileges'])));
    assert.equal(bn.NoNewPrivs, '1');
    assert.equal(b.NoNewPrivs, '0');
    assert.deepEqual(bn, dn);
    const [bp, dp] = await Promise.all(engines.map((e) => status(e, ['--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE'])));
    assert.equal(bp.CapEff, '0000000000000400');
    assert.deepEqual(bp, dp);
  });

  test('masked /proc paths, read-only /proc/sys, /sys/firmware hidden', async () => {
    // Berth follows Docker 28's list (which also masks /proc/interrupts); the peer is dockerd 20.10:
    // every path it masks or makes read-only, Berth covers too.
    const [b, d] = await Promise.all(engines.map((e) => procMounts(e)));
    // (cgroup mounts under /sys/fs/cgroup are another matter: only masked and read-only places count.)
    const points = (l: string[]): string[] => l.map((m) => m.split(' ')[0]).filter((p) => p.startsWith('/proc/') || p === '/sys/firmware');
    for (const p of points(d)) assert.ok(points(b).includes(p), `dockerd covers ${p}, berth does not:\n${b.join('\n')}`);
    assert.ok(b.some((m) => m.startsWith('/proc/sys ro')), b.join('\n'));
    assert.ok(b.some((m) => m.startsWith('/proc/keys ') && m.endsWith(' file')), b.join('\n'));
    for (const e of engines) {
      const out = await inside(e, 'echo x > /proc/sys/kernel/domainname 2>/dev/null && echo written || echo refused; wc -c < /proc/keys; ls /sys/firmware | wc -l');
      assert.deepEqual(out.trim().split('\n').map((s) => s.trim()), ['refused', '0', '0'], e.name);
    }
  });

  test('only descriptors 0, 1 and 2 inside, for run and for exec', async () => {
    for (const e of engines) {
      // busybox ls holds its own directory descriptor (3) while it lists.
      assert.equal((await inside(e, 'ls /proc/self/fd | tr "\\n" " "')).trim(), '0 1 2 3', e.name);
      const name = `fds-${e.name}-${process.pid}`;
      assert.equal((await e.docker(['run', '-d', '--name', name, '--network', 'none', 'busybox', 'sleep', '1000'])).code, 0);
      try {
        for (const flags of [[], ['-i'], ['-t']]) {
          const r = await e.docker(['exec', ...flags, name, 'sh', '-c', 'ls /proc/self/fd | tr "\\n" " "']);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), '0 1 2 3', `${e.name} exec ${flags.join(' ')}`);
        }
        // The container's own init holds nothing of the host's either.
        const pid1 = await e.docker(['exec', name, 'sh', '-c', 'ls /proc/1/fd | tr "\\n" " "']);
        assert.equal(pid1.stdout.trim(), '0 1 2', `${e.name}: pid 1's descriptors`);
      } finally {
        await e.docker(['rm', '-f', name]);
      }
    }
  });

  test('the runtime binary cannot be written from inside, while execs run', { timeout: 120_000 }, async () => {
    // Each engine's runtime binary (berthd: crun by default; dockerd: runc), hashed before and after.
    const binaries = ['crun', 'runc'].map((b) => which(b)).filter((b): b is string => !!b);
    const hash = (): string[] => binaries.map((b) => createHash('sha256').update(fs.readFileSync(b)).digest('hex'));
    const before = hash();
    for (const e of engines) {
      const name = `exe-${e.name}-${process.pid}`;
      // The container tries, over and over, to open every other process's /proc/N/exe for writing:
      // during an exec the runtime's own process is briefly visible inside.
      // (Its own busybox it may overwrite: that only breaks the container, so those are skipped.)
      const attacker = `while :; do for p in /proc/[0-9]*; do e=$(readlink $p/exe 2>/dev/null); case "$e" in ''|/bin/*) ;; *) (echo pwned >> $p/exe) 2>/dev/null && echo "WROTE $e" >> /tmp/hits;; esac; done; done`;
      assert.equal((await e.docker(['run', '-d', '--name', name, '--network', 'none', 'busybox', 'sh', '-c', attacker])).code, 0);
      try {
        // (Under dockerd an exec can fail, 126, when the attacker holds runc's sealed copy open at
        // its execve: a nuisance, not a way out. Berth's execs all succeed; the binaries are what count.)
        const codes: number[] = [];
        for (let i = 0; i < 15; i++) codes.push((await e.docker(['exec', name, 'true'])).code);
        if (e.name === 'berth') assert.deepEqual(codes, Array(15).fill(0));
        const hits = await e.docker(['exec', name, 'sh', '-c', 'cat /tmp/hits 2>/dev/null; true']);
        assert.equal(hits.stdout, '', `${e.name}: the container wrote to a binary outside it`);
      } finally {
        await e.docker(['rm', '-f', name]);
      }
    }
    assert.deepEqual(hash(), before, 'a runtime binary changed');
  });
});
