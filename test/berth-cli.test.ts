// The main stories through our own `berth` CLI, compared with the real docker CLI where the two
// should print the same thing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, REPO, run, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

/**
 * Both CLIs against the same daemon: the same exit code, stdout and stderr (both failing alike
 * counts only when their messages match). Relative times ("3 seconds ago", "Up 2 seconds") may
 * tick between the two runs: their numbers are not compared, and a difference is retried twice.
 * On the last try the padding between columns is not compared either, since "1 second ago" and
 * "2 seconds ago" make a column one character wider or narrower (seen on a loaded machine).
 */
async function same(args: string[]): Promise<string> {
  const times = (s: string): string => s.replace(/\b\d+ (second|minute|hour)s?\b/g, 'N $1s');
  const padding = (s: string): string => s.replace(/ {2,}/g, '  ');
  for (let attempt = 0; ; attempt++) {
    const last = attempt === 2;
    const view = (r: { code: number; stdout: string; stderr: string }) => ({ code: r.code, stdout: last ? padding(times(r.stdout)) : times(r.stdout), stderr: r.stderr });
    const [b, k] = await Promise.all([d.berth(args), d.docker(args)]);
    if (!last && JSON.stringify(view(b)) !== JSON.stringify(view(k))) continue;
    assert.deepEqual(view(b), view(k), `berth and docker differ for ${args.join(' ')}`);
    return b.stdout;
  }
}

describe('berth CLI', () => {
  test('the bin (dist/berth.cjs) runs through its shebang, and drops NODE_EXTRA_CA_CERTS', async () => {
    const bin = path.join(REPO, 'dist', 'berth.cjs');
    // A missing file there would make node fail at start-up if the variable were still set.
    const r = await run(bin, ['-H', d.host, 'version', '--format', '{{.Client.Version}}'], { env: { NODE_EXTRA_CA_CERTS: path.join(d.root, 'no-such-bundle.pem') } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0.1.0\n');
    assert.doesNotMatch(r.stderr, /no-such-bundle/);
  });

  test('run --rm busybox echo hello', async () => {
    assert.deepEqual(await d.berth(['run', '--rm', 'busybox', 'echo', 'hello']), { code: 0, stdout: 'hello\n', stderr: '' });
  });

  test('exit codes: 42, 137 and 127', async () => {
    assert.equal((await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 42'])).code, 42);
    assert.equal((await d.berth(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'kill -KILL $$'])).code, 137);
    const missing = await d.berth(['run', '--rm', 'busybox', 'nosuchcmd'], { timeoutMs: 10_000 });
    assert.equal(missing.code, 127, missing.stderr);
  });

  test('run options: -e, -w, -u, -h, --entrypoint', async () => {
    const r = await d.berth(['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1000:1000', '-h', 'bh', '--entrypoint', 'sh', 'busybox', '-c', 'echo $A; pwd; id; hostname']);
    assert.deepEqual(r, { code: 0, stdout: '1\n/tmp\nuid=1000 gid=1000 groups=1000\nbh\n', stderr: '' });
  });

  test('run -i with piped stdin; stdout and stderr apart', async () => {
    const r = await d.berth(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo err >&2'], { input: 'in\n' });
    assert.deepEqual(r, { code: 0, stdout: 'in\n', stderr: 'err\n' });
  });

  describe('with containers', () => {
    let id: string;
    before(async () => {
      id = (await d.berthOk(['run', '-d', '--name', 'bdet', '-l', 'x=y', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exec sleep 1000'])).trim();
      await d.berthOk(['create', '--name', 'bcreated', 'busybox', 'true']);
      await d.berth(['run', '--name', 'bexited', 'busybox', 'sh', '-c', 'exit 3']);
    });
    after(async () => {
      await d.berth(['rm', '-f', 'bdet', 'bcreated', 'bexited']);
    });

    test('run -d prints the full id', () => {
      assert.match(id, /^[0-9a-f]{64}$/);
    });

    test('ps -a: same header and rows as docker', async () => {
      const out = lines(await same(['ps', '-a']));
      assert.match(out[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
      assert.equal(out.length, 4);
      await same(['ps', '-a', '--no-trunc']);
      await same(['ps']);
    });

    test('ps formats and filters match docker', async () => {
      await same(['ps', '-a', '--format', '{{.ID}} {{.Image}} {{.Command}} {{.Names}} {{.Labels}}']);
      await same(['ps', '-q']);
      await same(['ps', '-aq', '--no-trunc']);
      await same(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}']);
      await same(['ps', '-a', '--filter', 'label=x=y', '--format', '{{.Names}}']);
      await same(['ps', '-l', '--format', '{{.Names}}']);
      await same(['ps', '-a', '-n', '2', '--format', '{{.Names}}']);
      assert.equal(await same(['ps', '-a', '--filter', 'exited=3', '--format', '{{.Names}}']), 'bexited\n');
    });

    test('inspect -f matches docker', async () => {
      assert.equal(await same(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.Name}} {{.Config.Image}}', 'bexited']), 'exited 3 /bexited busybox\n');
      await same(['inspect', '-f', '{{.Id}} {{.State.Running}} {{.State.Pid}} {{json .Config.Labels}}', 'bdet']);
      await same(['inspect', '-f', '{{.GraphDriver.Name}} {{.GraphDriver.Data.UpperDir}}', 'bdet']);
      await same(['image', 'inspect', '-f', '{{.Id}} {{.RepoTags}} {{.Os}}', 'busybox']);
      const missing = await d.berth(['inspect', 'nosuch']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /No such object: nosuch/);
    });

    test('logs: stdout and stderr apart, --tail', async () => {
      const b = await d.berth(['logs', 'bdet']);
      assert.deepEqual(b, { code: 0, stdout: 'out\n', stderr: 'err\n' });
      const k = await d.docker(['logs', 'bdet']);
      assert.deepEqual(b, k);
      await same(['logs', '--tail', '1', 'bdet']);
    });

    test('exec: output and exit code', async () => {
      const r = await d.berth(['exec', '-e', 'V=9', '-w', '/tmp', 'bdet', 'sh', '-c', 'echo $V $(pwd); exit 7']);
      assert.deepEqual(r, { code: 7, stdout: '9 /tmp\n', stderr: '' });
    });

    test('top and wait', async () => {
      const top = lines(await d.berthOk(['top', 'bdet']));
      assert.match(top[0], /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
      assert.match(top[1], /sleep 1000$/);
      assert.equal(await same(['wait', 'bexited']), '3\n');
      // failing alike: the same exit code and the same message
      await same(['inspect', 'no-such-object']);
      await same(['wait', 'no-such-container']);
    });
  });

  test('stop, start -a, kill, restart, pause/unpause, rename, rm', async () => {
    await d.berthOk(['run', '-d', '--name', 'blife', 'busybox', 'sh', '-c', 'trap "exit 3" TERM; echo up; while :; do sleep 0.1; done']);
    await d.waitForOutput('blife', 'up');
    assert.equal(await d.berthOk(['stop', 'blife']), 'blife\n');
    assert.equal(await d.berthOk(['inspect', '-f', '{{.State.ExitCode}}', 'blife']), '3\n');
    await d.berthOk(['start', 'blife']);
    assert.equal(await d.berthOk(['pause', 'blife']), 'blife\n');
    assert.equal(await d.berthOk(['inspect', '-f', '{{.State.Status}}', 'blife']), 'paused\n');
    assert.equal(await d.berthOk(['unpause', 'blife']), 'blife\n');
    assert.equal(await d.berthOk(['restart', '-t', '1', 'blife']), 'blife\n');
    assert.equal(await d.berthOk(['inspect', '-f', '{{.State.Running}}', 'blife']), 'true\n');
    await d.berthOk(['rename', 'blife', 'blife2']);
    assert.equal(await d.berthOk(['kill', 'blife2']), 'blife2\n');
    assert.equal(await d.berthOk(['wait', 'blife2']), '137\n');
    const notRunning = await d.berth(['kill', 'blife2']);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, /is not running/);
    assert.equal(await d.berthOk(['rm', 'blife2']), 'blife2\n');
    const gone = await d.berth(['rm', 'blife2']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such container: blife2/);
  });

  test('the writable layer survives stop/start', async () => {
    const script = 'if test -f /tmp/f; then cat /tmp/f; else echo kept > /tmp/f; echo new; fi';
    assert.equal(await d.berthOk(['run', '--name', 'bwl', 'busybox', 'sh', '-c', script]), 'new\n');
    assert.equal(await d.berthOk(['start', '-a', 'bwl']), 'kept\n');
    const upper = (await d.berthOk(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'bwl'])).trim();
    assert.ok(fs.existsSync(upper));
    await d.berthOk(['rm', 'bwl']);
    assert.equal(fs.existsSync(upper), false);
  });

  test('import, tag, images, rmi, image prune', async () => {
    const dir = path.join(d.root, 'rootfs');
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
    fs.symlinkSync('busybox', path.join(dir, 'bin', 'sh'));
    fs.writeFileSync(path.join(dir, 'f'), 'berth import\n');
    const tar = execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 26 });
    const id = (await d.berthOk(['import', '--change', 'CMD ["/bin/sh","-c","read x < /f; echo $x"]', '-m', 'msg', '-', 'bimp:1'], { input: tar })).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await d.berthOk(['run', '--rm', 'bimp:1']), 'berth import\n');
    assert.equal(await d.berthOk(['tag', 'bimp:1', 'bimp:2']), '');
    await same(['images']);
    await same(['images', '-q']);
    await same(['images', '--no-trunc', '--filter', 'reference=bimp']);
    await same(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    await same(['image', 'inspect', '-f', '{{.Comment}} {{json .Config.Cmd}}', 'bimp:1']);
    assert.equal(await d.berthOk(['rmi', 'bimp:2']), 'Untagged: bimp:2\n');
    assert.deepEqual(lines(await d.berthOk(['rmi', 'bimp:1'])), ['Untagged: bimp:1', `Deleted: ${id}`]);
    const dangling = (await d.berthOk(['import', '-'], { input: tar })).trim();
    assert.equal(await same(['images', '-q', '--no-trunc', '--filter', 'dangling=true']), dangling + '\n');
    const pr = await d.berthOk(['image', 'prune', '-f']);
    assert.match(pr, new RegExp(`deleted: ${dangling}`));
    assert.equal(await same(['images', '--format', '{{.Repository}}']), 'busybox\n');
  });

  test('container prune, events --since/--until', async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    const id = (await d.berthOk(['create', '--name', 'bprune', 'busybox', 'true'])).trim();
    const out = await d.berthOk(['container', 'prune', '-f']);
    assert.match(out, new RegExp(`^Deleted Containers:\\n${id}\\n`));
    const t1 = Math.ceil(Date.now() / 1000) + 1;
    const args = ['events', '--since', String(t0), '--until', String(t1), '--filter', `container=${id}`, '--format', '{{.Action}} {{.Actor.Attributes.name}}'];
    const ev = await same(args);
    assert.deepEqual(lines(ev), ['create bprune', 'destroy bprune']);
  });

  test('version and info talk to the daemon', async () => {
    assert.equal(await same(['version', '--format', '{{.Server.Version}} {{.Client.APIVersion}} {{.Server.Os}}']), '0.1.0 1.47 linux\n');
    await same(['info', '--format', '{{.Driver}} {{.OSType}} {{.Containers}}']);
  });

  test('version --format uses Go field names ({{.Server.APIVersion}})', async () => {
    assert.equal(await same(['version', '--format', '{{.Server.APIVersion}}']), '1.47\n');
  });
});
