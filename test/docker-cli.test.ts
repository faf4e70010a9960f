// The user stories through the real docker CLI (v28) against berthd.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, run, startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

/** `docker run --rm busybox ...args`, returning the whole result. */
const rr = (opts: string[], cmd: string[], input?: string) => d.docker(['run', '--rm', ...opts, 'busybox', ...cmd], { input });

async function state(name: string): Promise<any> {
  return JSON.parse(await d.dockerOk(['inspect', '-f', '{{json .State}}', name]));
}

describe('run', { concurrency: 4 }, () => {
  test('run --rm busybox echo hello', async () => {
    const r = await rr([], ['echo', 'hello']);
    assert.deepEqual(r, { code: 0, stdout: 'hello\n', stderr: '' });
  });

  test('run --rm leaves no container behind', async () => {
    const r = await d.docker(['run', '--rm', '--name', 'rm-me', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    const ps = await d.dockerOk(['ps', '-a', '--filter', 'name=rm-me', '-q']);
    assert.equal(ps, '');
  });

  test('exit codes', async () => {
    assert.equal((await rr([], ['sh', '-c', 'exit 42'])).code, 42);
    const child = await rr([], ['sh', '-c', 'sh -c "kill -9 \\$\\$"; echo $?']);
    assert.equal(child.code, 0);
    assert.equal(child.stdout, '137\n');
    // pid 1 ignores signals it has no handler for, even SIGKILL sent from inside: Docker gives 0.
    const self = await rr([], ['sh', '-c', 'kill -9 $$; echo survived']);
    assert.deepEqual([self.code, self.stdout], [0, 'survived\n']);
    // With --init the shell is not pid 1: it dies and the init reports 128+9.
    assert.equal((await rr(['--init'], ['sh', '-c', 'kill -KILL $$'])).code, 137);
    // A command that does not exist: 127 (and --rm still removes it), a non-executable one: 126.
    const missing = await d.docker(['run', '--rm', '--name', 'missing-cmd', 'busybox', 'nosuchcmd'], { timeoutMs: 10_000 });
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /nosuchcmd/);
    assert.equal(await d.dockerOk(['ps', '-aq', '--filter', 'name=missing-cmd']), '');
    const notExec = await rr([], ['/etc/passwd']);
    assert.equal(notExec.code, 126, notExec.stderr);
  });

  test('-e and --env-file', async () => {
    const envFile = path.join(d.root, 'env.list');
    fs.writeFileSync(envFile, '# comment\nFROM_FILE=yes\nSPACED=a b\n');
    const r = await rr(['-e', 'A=1', '-e', 'B=two words', '--env-file', envFile], ['env']);
    assert.equal(r.code, 0, r.stderr);
    const env = lines(r.stdout);
    for (const v of ['A=1', 'B=two words', 'FROM_FILE=yes', 'SPACED=a b', 'HOME=/root']) assert.ok(env.includes(v), `${v} not in ${env}`);
    assert.ok(env.some((l) => l.startsWith('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')), env.join('|'));
  });

  test('-w, -u, --entrypoint, -h', async () => {
    assert.equal((await rr(['-w', '/tmp'], ['pwd'])).stdout, '/tmp\n');
    assert.equal((await rr(['-w', '/made/by/docker'], ['pwd'])).stdout, '/made/by/docker\n');
    assert.equal((await rr(['-u', '1000:1000'], ['id'])).stdout, 'uid=1000 gid=1000 groups=1000\n');
    assert.equal((await rr(['-u', 'nobody'], ['id', '-u'])).stdout, '65534\n');
    const ep = await rr(['--entrypoint', 'echo'], ['from', 'entrypoint']);
    assert.equal(ep.stdout, 'from entrypoint\n');
    assert.equal((await rr(['-h', 'myhost'], ['hostname'])).stdout, 'myhost\n');
  });

  test('-l labels and --name', async () => {
    await d.dockerOk(['create', '--name', 'labelled', '-l', 'a=b', '-l', 'c', 'busybox', 'true']);
    const labels = JSON.parse(await d.dockerOk(['inspect', '-f', '{{json .Config.Labels}}', 'labelled']));
    assert.deepEqual(labels, { a: 'b', c: '' });
    assert.equal(await d.dockerOk(['ps', '-a', '--filter', 'label=a=b', '--format', '{{.Names}}']), 'labelled\n');
    const dup = await d.docker(['create', '--name', 'labelled', 'busybox', 'true']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /Conflict\. The container name "\/labelled" is already in use/);
    await d.dockerOk(['rm', 'labelled']);
  });

  test('--init makes pid 1 the init', async () => {
    const r = await rr(['--init'], ['sh', '-c', 'cat /proc/1/comm; cat /proc/$$/stat | cut -d" " -f1']);
    assert.equal(r.code, 0, r.stderr);
    const [comm, shPid] = lines(r.stdout);
    assert.equal(comm, 'docker-init');
    assert.notEqual(shPid, '1');
    const plain = await rr([], ['cat', '/proc/1/comm']);
    assert.equal(plain.stdout, 'cat\n');
  });

  test('--read-only', async () => {
    const r = await rr(['--read-only'], ['touch', '/x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal((await rr([], ['touch', '/x'])).code, 0);
  });

  test('capabilities: --cap-drop ALL, --cap-add, --privileged', async () => {
    const capEff = async (opts: string[]): Promise<string> => {
      const r = await rr(opts, ['grep', 'CapEff', '/proc/self/status']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split(/\s+/)[1];
    };
    assert.equal(await capEff(['--cap-drop', 'ALL']), '0000000000000000');
    assert.equal(await capEff(['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN']), '0000000000001000');
    // Docker's default set.
    assert.equal(await capEff([]), '00000000a80425fb');
    const host = /CapEff:\s+([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1];
    assert.equal(await capEff(['--privileged']), host);
  });

  test('--security-opt no-new-privileges', async () => {
    const r = await rr(['--security-opt', 'no-new-privileges'], ['grep', 'NoNewPrivs', '/proc/self/status']);
    assert.match(r.stdout, /NoNewPrivs:\s+1/);
    const def = await rr([], ['grep', 'NoNewPrivs', '/proc/self/status']);
    assert.match(def.stdout, /NoNewPrivs:\s+0/);
  });

  test('seccomp: a profile crun compiled once is handed to it ready the next time, and still enforced', async () => {
    const profile = path.join(d.root, 'no-mkdir.json');
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const bundleSpec = async (name: string): Promise<any> => {
      const id = (await d.dockerOk(['inspect', '-f', '{{.Id}}', name])).trim();
      return JSON.parse(fs.readFileSync(path.join(d.execRoot, 'bundles', id, 'config.json'), 'utf8'));
    };
    const names: string[] = [];
    const runProfile = async (opts: string[]): Promise<{ out: string; spec: any }> => {
      const name = `seccomp-${names.length}-${process.pid}`;
      names.push(name);
      const r = await d.docker(['run', '--name', name, ...opts, 'busybox', 'sh', '-c', 'grep ^Seccomp: /proc/self/status; mkdir /made 2>&1; echo rc=$?']);
      assert.equal(r.code, 0, r.stderr);
      return { out: r.stdout, spec: await bundleSpec(name) };
    };
    try {
      const first = await runProfile(['--security-opt', `seccomp=${profile}`]);
      const second = await runProfile(['--security-opt', `seccomp=${profile}`]);
      assert.equal(first.spec.annotations?.['run.oci.seccomp_bpf_data'], undefined, 'the first create compiles the profile');
      assert.match(second.spec.annotations?.['run.oci.seccomp_bpf_data'] ?? '', /^[A-Za-z0-9+/]+=*$/, 'the second create gets the BPF');
      for (const r of [first, second]) {
        assert.match(r.out, /Seccomp:\s+2/);
        assert.match(r.out, /Operation not permitted\s+rc=1/);
      }
      const unconfined = await runProfile(['--security-opt', 'seccomp=unconfined']);
      assert.match(unconfined.out, /Seccomp:\s+0/);
      assert.match(unconfined.out, /rc=0/);
      assert.equal(unconfined.spec.annotations?.['run.oci.seccomp_bpf_data'], undefined);
    } finally {
      await d.docker(['rm', '-f', ...names]);
    }
  });

  test('--network none and host', async () => {
    const none = await rr(['--network', 'none'], ['ls', '/sys/class/net']);
    assert.equal(none.stdout, 'lo\n');
    // Interfaces come and go on a shared host (other daemons' bridges and veths, whose names are
    // reused): the container sees lo, eth0 and every other interface that stayed throughout.
    const churn = /^(veth|bt\d|br-)/;
    const before = fs.readdirSync('/sys/class/net');
    const host = await rr(['--network', 'host'], ['ls', '/sys/class/net']);
    const after = fs.readdirSync('/sys/class/net');
    const seen = lines(host.stdout);
    for (const i of before.filter((x) => after.includes(x) && !churn.test(x))) assert.ok(seen.includes(i), `${i} missing from ${seen}`);
    assert.ok(seen.includes('lo') && seen.includes('eth0'), `${seen}`);
  });

  test('run -i with piped stdin', async () => {
    const r = await rr(['-i'], ['sh', '-c', 'cat; echo done'], 'line1\nline2\n');
    assert.deepEqual(r, { code: 0, stdout: 'line1\nline2\ndone\n', stderr: '' });
    const big = 'x'.repeat(300_000) + '\n';
    const wc = await rr(['-i'], ['wc', '-c'], big);
    assert.equal(wc.stdout.trim(), String(big.length));
    // Without -i, stdin is not attached.
    const noI = await rr([], ['sh', '-c', 'cat; echo end'], 'ignored\n');
    assert.equal(noI.stdout, 'end\n');
  });

  test('run -it under a pty (script)', async () => {
    const inner = `docker -H ${d.host} run -it --rm busybox sh -c 'tty; stty size'`;
    const r = await run('script', ['-qec', `stty rows 30 cols 100; ${inner}`, '/dev/null'], {
      env: { DOCKER_CONFIG: d.dockerConfig },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/0\r\n30 100\r\n/);
  });

  test('stdout and stderr are kept apart', async () => {
    const r = await rr([], ['sh', '-c', 'echo to-out; echo to-err >&2']);
    assert.equal(r.stdout, 'to-out\n');
    assert.equal(r.stderr, 'to-err\n');
  });
});

describe('detached containers: ps, logs, inspect', () => {
  let id: string;
  before(async () => {
    id = (await d.dockerOk(['run', '-d', '--name', 'det', '-l', 'role=det', 'busybox', 'sh', '-c', 'echo out; echo err >&2; sleep 0.5; seq 1 10; exec sleep 1000'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await d.dockerOk(['run', '--name', 'det-exited', 'busybox', 'sh', '-c', 'exit 2']).catch(() => undefined);
    await d.waitForOutput(id, '10\n');
  });
  after(async () => {
    await d.docker(['rm', '-f', 'det', 'det-exited']);
  });

  test('ps variants', async () => {
    assert.equal(await d.dockerOk(['ps', '--format', '{{.Names}}', '--filter', 'name=det']), 'det\n');
    assert.deepEqual(lines(await d.dockerOk(['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=det'])).sort(), ['det', 'det-exited']);
    assert.equal(await d.dockerOk(['ps', '-q', '--filter', 'label=role=det']), id.slice(0, 12) + '\n');
    assert.equal(await d.dockerOk(['ps', '-q', '--no-trunc', '--filter', 'label=role=det']), id + '\n');
    assert.equal(await d.dockerOk(['ps', '-l', '--format', '{{.Names}}']), 'det-exited\n');
    assert.equal(lines(await d.dockerOk(['ps', '-n', '2', '-q'])).length, 2);
    assert.equal(await d.dockerOk(['ps', '-a', '--filter', 'exited=2', '--format', '{{.Names}} {{.Status}}']).then((s) => s.replace(/ago$/m, 'ago')).then((s) => /^det-exited Exited \(2\) .* ago\n$/.test(s)), true);
    const table = lines(await d.dockerOk(['ps', '--filter', 'name=^det$']));
    assert.match(table[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(table[1], new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c 'echo out; ec…"\\s+.* ago\\s+Up .*\\s+det$`));
    assert.equal(lines(await d.dockerOk(['ps', '--filter', 'status=exited', '--filter', 'name=det', '-a', '--format', '{{.Names}}'])).join(), 'det-exited');
  });

  test('logs: streams apart, --tail, -t, --since, -f', async () => {
    const r = await d.docker(['logs', 'det']);
    assert.equal(r.stdout, 'out\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal((await d.dockerOk(['logs', '--tail', '2', 'det'])), '9\n10\n');
    const ts = lines(await d.dockerOk(['logs', '-t', '--tail', '1', 'det']));
    assert.equal(ts.length, 1);
    assert.match(ts[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z 10$/);
    const t = Date.parse(ts[0].split(' ')[0]);
    assert.ok(Math.abs(Date.now() - t) < 60_000);
    assert.equal((await d.docker(['logs', '--since', '1m', 'det'])).stdout.split('\n').length, 12);
    const future = new Date(Date.now() + 3600_000).toISOString();
    assert.deepEqual(await d.docker(['logs', '--since', future, 'det']), { code: 0, stdout: '', stderr: '' });
    // -f ends when the container exits.
    await d.dockerOk(['run', '-d', '--name', 'follow', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.1; done']);
    const f = await d.docker(['logs', '-f', 'follow'], { timeoutMs: 10_000 });
    assert.deepEqual(f, { code: 0, stdout: '1\n2\n3\n', stderr: '' });
    await d.dockerOk(['rm', 'follow']);
  });

  test('inspect: State fields and overlay2 dirs', async () => {
    const i = JSON.parse(await d.dockerOk(['inspect', 'det']))[0];
    assert.equal(i.Id, id);
    assert.equal(i.Name, '/det');
    assert.equal(i.State.Status, 'running');
    assert.equal(i.State.Running, true);
    assert.equal(i.State.Paused, false);
    assert.equal(i.State.ExitCode, 0);
    assert.ok(i.State.Pid > 0);
    assert.equal(fs.readFileSync(`/proc/${i.State.Pid}/comm`, 'utf8'), 'sleep\n');
    assert.ok(Date.parse(i.State.StartedAt) > Date.now() - 60_000);
    assert.equal(i.State.FinishedAt, '0001-01-01T00:00:00Z');
    assert.equal(i.GraphDriver.Name, 'overlay2');
    for (const k of ['MergedDir', 'UpperDir', 'WorkDir']) assert.ok(fs.existsSync(i.GraphDriver.Data[k]), `${k} ${i.GraphDriver.Data[k]}`);
    for (const l of i.GraphDriver.Data.LowerDir.split(':')) assert.ok(fs.existsSync(l), l);
    assert.ok(i.GraphDriver.Data.MergedDir.startsWith(d.dataRoot));
    assert.equal(i.Config.Image, 'busybox');
    assert.match(i.Image, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await d.dockerOk(['inspect', '-f', '{{.State.ExitCode}} {{.State.Status}}', 'det-exited']), '2 exited\n');
    const missing = await d.docker(['inspect', 'nosuch']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such object: nosuch/);
  });

  test('top and stats --no-stream', async () => {
    const top = lines(await d.dockerOk(['top', 'det']));
    assert.match(top[0], /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    assert.equal(top.length, 2);
    assert.match(top[1], /sleep 1000$/);
    const stats = await d.dockerOk(['stats', '--no-stream', '--format', '{{.Name}} {{.ID}} {{.PIDs}}', 'det']);
    assert.equal(stats, `det ${id.slice(0, 12)} 1\n`);
    const mem = await d.dockerOk(['stats', '--no-stream', '--format', '{{.MemUsage}}', 'det']);
    assert.match(mem, /^\d+(\.\d+)?[KMG]?i?B \/ \d+(\.\d+)?[KMGT]i?B\n$/);
  });

  test('exec: -e, -w, -u, exit code', async () => {
    assert.equal(await d.dockerOk(['exec', '-e', 'X=42', 'det', 'sh', '-c', 'echo $X']), '42\n');
    assert.equal(await d.dockerOk(['exec', '-w', '/tmp', 'det', 'pwd']), '/tmp\n');
    assert.equal(await d.dockerOk(['exec', '-u', '1000:1000', 'det', 'id']), 'uid=1000 gid=1000 groups=1000\n');
    const r = await d.docker(['exec', 'det', 'sh', '-c', 'echo o; echo e >&2; exit 7']);
    assert.deepEqual(r, { code: 7, stdout: 'o\n', stderr: 'e\n' });
    assert.equal(await d.dockerOk(['exec', '-i', 'det', 'cat'], { input: 'piped\n' }), 'piped\n');
    const stopped = await d.docker(['exec', 'det-exited', 'true']);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /is not running/);
  });
});

describe('lifecycle', () => {
  test('stop: TERM trap exits 3; ignored TERM is killed after -t 1 (137)', async () => {
    await d.dockerOk(['run', '-d', '--name', 'trap', 'busybox', 'sh', '-c', 'trap "exit 3" TERM; echo trapped; while :; do sleep 0.1; done']);
    await d.dockerOk(['run', '-d', '--name', 'ignore', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']);
    await d.waitForOutput('trap', 'trapped');
    assert.equal(await d.dockerOk(['stop', 'trap']), 'trap\n');
    assert.equal((await state('trap')).ExitCode, 3);
    const t0 = Date.now();
    assert.equal(await d.dockerOk(['stop', '-t', '1', 'ignore']), 'ignore\n');
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `stop took ${took}ms`);
    const s = await state('ignore');
    assert.equal(s.ExitCode, 137);
    assert.equal(s.Status, 'exited');
    assert.equal(await d.dockerOk(['wait', 'ignore']), '137\n');
    await d.dockerOk(['rm', 'trap', 'ignore']);
  });

  test('--stop-signal and --stop-timeout', async () => {
    await d.dockerOk(['run', '-d', '--name', 'ssig', '--stop-signal', 'USR1', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'trap "exit 10" USR1; trap "" TERM; echo trapped; while :; do sleep 0.1; done']);
    await d.waitForOutput('ssig', 'trapped');
    const cfg = JSON.parse(await d.dockerOk(['inspect', '-f', '{{json .Config}}', 'ssig']));
    assert.equal(cfg.StopSignal, 'USR1');
    assert.equal(cfg.StopTimeout, 1);
    await d.dockerOk(['stop', 'ssig']);
    assert.equal((await state('ssig')).ExitCode, 10);
    await d.dockerOk(['run', '-d', '--name', 'stimeout', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    await d.dockerOk(['stop', 'stimeout']);
    assert.ok(Date.now() - t0 < 5000, 'stop-timeout 1 not honoured');
    assert.equal((await state('stimeout')).ExitCode, 137);
    await d.dockerOk(['rm', 'ssig', 'stimeout']);
  });

  test('kill -s, restart, rename, wait', async () => {
    await d.dockerOk(['run', '-d', '--name', 'kk', 'busybox', 'sh', '-c', 'trap "exit 12" HUP; echo trapped; while :; do sleep 0.1; done']);
    await d.waitForOutput('kk', 'trapped');
    const w = d.docker(['wait', 'kk']);
    await d.dockerOk(['kill', '-s', 'HUP', 'kk']);
    assert.equal((await w).stdout, '12\n');
    const bad = await d.docker(['kill', '-s', 'NOPE', 'kk']);
    assert.equal(bad.code, 1);
    await d.dockerOk(['start', 'kk']);
    const pid1 = (await state('kk')).Pid;
    const started1 = (await state('kk')).StartedAt;
    await d.dockerOk(['restart', '-t', '1', 'kk']);
    const s = await state('kk');
    assert.equal(s.Running, true);
    assert.notEqual(s.Pid, pid1);
    assert.notEqual(s.StartedAt, started1);
    await d.dockerOk(['rename', 'kk', 'k2']);
    assert.equal(await d.dockerOk(['inspect', '-f', '{{.Name}}', 'k2']), '/k2\n');
    assert.equal((await d.docker(['inspect', 'kk'])).code, 1);
    await d.dockerOk(['kill', 'k2']);
    assert.equal(await d.dockerOk(['wait', 'k2']), '137\n');
    await d.dockerOk(['rm', 'k2']);
  });

  test('pause and unpause freeze the process', async () => {
    await d.dockerOk(['run', '-d', '--name', 'pp', 'busybox', 'sh', '-c', 'while :; do echo x; sleep 0.05; done']);
    await waitFor(async () => (await d.dockerOk(['logs', 'pp'])).length > 4, 'output');
    await d.dockerOk(['pause', 'pp']);
    const s = await state('pp');
    assert.equal(s.Status, 'paused');
    assert.equal(s.Paused, true);
    assert.equal(s.Running, true);
    assert.match(await d.dockerOk(['ps', '--filter', 'name=^pp$', '--format', '{{.Status}}']), /\(Paused\)/);
    const n1 = (await d.dockerOk(['logs', 'pp'])).length;
    await new Promise((r) => setTimeout(r, 400));
    const n2 = (await d.dockerOk(['logs', 'pp'])).length;
    assert.equal(n2, n1, 'output grew while paused');
    const pstate = fs.readFileSync(`/proc/${s.Pid}/status`, 'utf8');
    assert.match(pstate, /State:\s+[SD]/);
    const twice = await d.docker(['pause', 'pp']);
    assert.equal(twice.code, 1);
    await d.dockerOk(['unpause', 'pp']);
    assert.equal((await state('pp')).Status, 'running');
    await waitFor(async () => (await d.dockerOk(['logs', 'pp'])).length > n2, 'output after unpause', 5000);
    const rmRunning = await d.docker(['rm', 'pp']);
    assert.equal(rmRunning.code, 1);
    assert.match(rmRunning.stderr, /container is running/);
    assert.equal(await d.dockerOk(['rm', '-f', 'pp']), 'pp\n');
    assert.equal((await d.docker(['inspect', 'pp'])).code, 1);
  });

  test('the writable layer survives stop/start; rm deletes the upper dir', async () => {
    const script = 'if test -f /tmp/testfile; then cat /tmp/testfile; else echo data > /tmp/testfile; echo created; fi';
    assert.equal(await d.dockerOk(['run', '--name', 'wl', 'busybox', 'sh', '-c', script]), 'created\n');
    assert.equal(await d.dockerOk(['start', '-a', 'wl']), 'data\n');
    const upper = (await d.dockerOk(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'wl'])).trim();
    assert.equal(fs.readFileSync(path.join(upper, 'tmp', 'testfile'), 'utf8'), 'data\n');
    const diff = await d.dockerOk(['diff', 'wl']);
    assert.match(diff, /^A \/tmp\/testfile$/m);
    await d.dockerOk(['rm', 'wl']);
    assert.equal(fs.existsSync(upper), false);
    assert.equal(fs.existsSync(path.dirname(upper)), false);
  });

  test('container prune -f removes only stopped containers', async () => {
    await d.dockerOk(['create', '--name', 'pr1', 'busybox', 'true']);
    await d.docker(['run', '--name', 'pr2', 'busybox', 'true']);
    await d.dockerOk(['run', '-d', '--name', 'pr3', 'busybox', 'sleep', '1000']);
    const ids = lines(await d.dockerOk(['ps', '-aq', '--no-trunc', '--filter', 'name=pr']));
    assert.equal(ids.length, 3);
    const out = await d.dockerOk(['container', 'prune', '-f']);
    assert.match(out, /^Deleted Containers:\n/);
    assert.deepEqual(lines(await d.dockerOk(['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=pr'])), ['pr3']);
    const running = (await d.dockerOk(['inspect', '-f', '{{.Id}}', 'pr3'])).trim();
    assert.equal(lines(out).filter((l) => ids.includes(l)).length, 2);
    assert.ok(!out.includes(running));
    assert.equal(await d.dockerOk(['rm', '-f', 'pr3']), 'pr3\n');
  });

  test('events --since/--until', async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    const id = (await d.dockerOk(['run', '-d', '--name', 'ev', 'busybox', 'true'])).trim();
    await d.dockerOk(['wait', 'ev']);
    await d.dockerOk(['rm', 'ev']);
    const t1 = Math.ceil(Date.now() / 1000) + 1;
    const out = await d.dockerOk(['events', '--since', String(t0), '--until', String(t1), '--filter', `container=${id}`, '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    assert.deepEqual(lines(out), ['container create ev', 'container start ev', 'container die ev', 'container destroy ev']);
  });

  // dockerd 20.10's sequences for the same commands (seen side by side with `docker events`):
  // `die` before `network disconnect`, a `kill` for each signal stop and rm -f send, `attach` for run.
  test('container and network events in dockerd order: run --rm, stop, kill, rm -f (default bridge and a user network)', async () => {
    const net = `evnet${process.pid}`;
    await d.dockerOk(['network', 'create', net]);
    try {
      for (const network of ['bridge', net]) {
        const t0 = Math.floor(Date.now() / 1000) - 1;
        const ids: string[] = [];
        const runD = async (cmd: string[]): Promise<string> => {
          const id = (await d.dockerOk(['run', '-d', '--net', network, 'busybox', ...cmd])).trim();
          ids.push(id);
          return id;
        };
        const created = await d.dockerOk(['create', '--rm', '--net', network, 'busybox', 'true']);
        ids.push(created.trim());
        await d.dockerOk(['start', '-a', created.trim()]);
        await d.dockerOk(['stop', '-t', '0', await runD(['sleep', '600'])]);
        const trapping = await runD(['sh', '-c', 'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done']);
        await d.waitForOutput(trapping, 'ready');
        await d.dockerOk(['stop', trapping]);
        await d.dockerOk(['kill', await runD(['sleep', '600'])]);
        await d.dockerOk(['rm', '-f', await runD(['sleep', '600'])]);
        await d.dockerOk(['rm', ...ids.slice(1, 4)]);
        const t1 = Math.ceil(Date.now() / 1000) + 1;
        const out = await d.dockerOk(['events', '--since', String(t0), '--until', String(t1), '--format', '{{json .}}']);
        const seq = (id: string): string[] =>
          lines(out)
            .map((l) => JSON.parse(l))
            .filter((e) => e.Actor.ID === id || e.Actor.Attributes.container === id)
            .map((e) => `${e.Type === 'network' ? `network ${e.Action} ${e.Actor.Attributes.name}` : e.Action}${e.Action === 'kill' ? ` ${e.Actor.Attributes.signal}` : ''}${e.Action === 'die' ? ` ${e.Actor.Attributes.exitCode}` : ''}`);
        const connect = `network connect ${network}`;
        const disconnect = `network disconnect ${network}`;
        const msg = `on ${network}`;
        assert.deepEqual(seq(ids[0]), ['create', 'attach', connect, 'start', 'die 0', disconnect, 'destroy'], msg);
        assert.deepEqual(seq(ids[1]), ['create', connect, 'start', 'kill 15', 'kill 9', 'die 137', disconnect, 'stop', 'destroy'], msg);
        assert.deepEqual(seq(ids[2]), ['create', connect, 'start', 'kill 15', 'die 3', disconnect, 'stop', 'destroy'], msg);
        assert.deepEqual(seq(ids[3]), ['create', connect, 'start', 'kill 9', 'die 137', disconnect, 'destroy'], msg);
        assert.deepEqual(seq(ids[4]), ['create', connect, 'start', 'kill 9', 'die 137', disconnect, 'destroy'], msg);
      }
    } finally {
      await d.docker(['network', 'rm', net]);
    }
  });
});

describe('images', () => {
  test('import a directory tar with --change and -m, run it', async () => {
    const dir = path.join(d.root, 'rootfs');
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
    for (const a of ['sh', 'cat', 'echo']) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
    fs.writeFileSync(path.join(dir, 'hello'), 'hello from import\n');
    const tar = execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 26 });
    const id = (await d.dockerOk(['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV IMP=1', '-m', 'my message', '-', 'imported:v1'], { input: tar })).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const i = JSON.parse(await d.dockerOk(['image', 'inspect', 'imported:v1']))[0];
    assert.equal(i.Id, id);
    assert.deepEqual(i.Config.Cmd, ['/bin/sh']);
    assert.ok(i.Config.Env.includes('IMP=1'));
    assert.equal(i.Comment, 'my message');
    assert.deepEqual(i.RepoTags, ['imported:v1']);
    assert.equal(i.Os, 'linux');
    const r = await d.docker(['run', '--rm', '-i', 'imported:v1'], { input: 'cat /hello; echo $IMP\n' });
    assert.deepEqual(r, { code: 0, stdout: 'hello from import\n1\n', stderr: '' });
    // an imported image has one history entry, its own id
    assert.deepEqual(lines(await d.dockerOk(['history', '-q', 'imported:v1'])), [i.Id.replace('sha256:', '').slice(0, 12)]);
  });

  test('tag, images (-q, --no-trunc, --filter), rmi, image prune', async () => {
    const id = (await d.dockerOk(['image', 'inspect', '-f', '{{.Id}}', 'imported:v1'])).trim();
    await d.dockerOk(['tag', 'imported:v1', 'example.com/team/app:2']);
    const table = lines(await d.dockerOk(['images', '--filter', `reference=imported`]));
    assert.match(table[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table[1], new RegExp(`^imported\\s+v1\\s+${id.slice(7, 19)}\\s+.*ago\\s+\\d+(\\.\\d+)?MB$`));
    assert.equal(table.length, 2);
    assert.equal(await d.dockerOk(['images', '-q', '--filter', 'reference=example.com/team/*']), id.slice(7, 19) + '\n');
    assert.equal(await d.dockerOk(['images', '-q', '--no-trunc', 'example.com/team/app']), id + '\n');
    assert.equal(
      await d.dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=*:v1']),
      'imported:v1\n',
    );
    assert.equal(await d.dockerOk(['rmi', 'example.com/team/app:2']), 'Untagged: example.com/team/app:2\n');
    // An image a container uses cannot be removed without -f.
    await d.dockerOk(['create', '--name', 'user', 'imported:v1']);
    const used = await d.docker(['rmi', 'imported:v1']);
    assert.equal(used.code, 1);
    assert.match(used.stderr, /conflict: unable to remove repository reference "imported:v1" \(must force\) - container [0-9a-f]{12} is using its referenced image/);
    await d.dockerOk(['rm', 'user']);
    const rmi = lines(await d.dockerOk(['rmi', 'imported:v1']));
    assert.deepEqual(rmi, ['Untagged: imported:v1', `Deleted: ${id}`]);
    const gone = await d.docker(['image', 'inspect', id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such image/);
    // prune: a dangling image goes, busybox stays.
    const dir = path.join(d.root, 'rootfs');
    fs.writeFileSync(path.join(dir, 'hello'), 'dangling\n');
    const dangling = (await d.dockerOk(['import', '-'], { input: execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 26 }) })).trim();
    assert.equal(await d.dockerOk(['images', '-q', '--no-trunc', '--filter', 'dangling=true']), dangling + '\n');
    const pr = await d.dockerOk(['image', 'prune', '-f']);
    assert.match(pr, new RegExp(`deleted: ${dangling}`));
    assert.match(pr, /Total reclaimed space: \d+(\.\d+)?MB/);
    assert.equal(await d.dockerOk(['images', '-q', '--filter', 'dangling=true']), '');
    assert.equal(lines(await d.dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}'])).join(), 'busybox:latest');
  });

  test('pull from an unreachable Docker Hub fails with a clear message', async () => {
    const r = await d.docker(['pull', 'alpine']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /registry-1\.docker\.io/);
  });
});
