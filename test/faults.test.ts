// Faults that lose nothing: an interrupted metadata write (the temporary file left beside the
// real one, as a SIGKILL between write and rename leaves it) does not replace or hide the data,
// and the next berthd removes the leftover.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountsUnder, pidAlive, pidsMentioning, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';

export const COUNTER = 'i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done';

describe('interrupted writes', () => {
  let d: TestDaemon;
  const counters: string[] = [];
  before(async () => {
    d = await startDaemon();
    for (let i = 0; i < 1; i++) counters.push((await d.dockerOk(['run', '-d', '--name', `counter${i}`, 'busybox', 'sh', '-c', COUNTER])).trim());
  });
  after(() => stopAndCheckClean(d));

  test('a kill between write and rename leaves the old metadata whole; the leftover is not taken for data', async () => {
    const id = counters[0];
    const dir = path.join(d.dataRoot, 'metadata');
    // Find this container's metadata file and plant what an interrupted atomic write leaves.
    const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.includes(id) && f.endsWith('.json'));
    assert.ok(files.length > 0, 'no metadata file for the container');
    const planted = files.map((f) => path.join(dir, path.dirname(f), `.${path.basename(f)}.deadbeef0000.tmp`));
    for (const p of planted) fs.writeFileSync(p, '{"Id": "trunc');
    await d.kill();
    await d.start();
    const s = (await d.api('GET', `/containers/${id}/json`)).body;
    assert.equal(s.Id, id);
    assert.equal(s.State.Running, true);
    for (const p of planted) assert.equal(fs.existsSync(p), false, `${p} was left behind at start-up`);
  });
});

/** The conmon process monitoring container `id` of daemon `d`. */
function monitorOf(d: TestDaemon, id: string): number {
  const pids = pidsMentioning(d.execRoot, 'conmon').filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(id));
  assert.equal(pids.length, 1, `conmon of ${id}: ${pids.join(', ')}`);
  return pids[0]!;
}

describe('a killed monitor', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => stopAndCheckClean(d));

  // containerd reports a container whose shim died as killed (ExitStatus 128+SIGKILL): Docker shows
  // "Exited (137)". The container must not run on unmonitored, and must start again.
  for (const when of ['while berthd runs', 'while berthd is down'] as const) {
    test(`a conmon SIGKILLed ${when}: exited 137, its process gone, and it starts again`, async () => {
      const id = (await d.dockerOk(['run', '-d', 'busybox', 'sh', '-c', 'echo up; sleep 600'])).trim();
      const pid = (await d.inspect(id)).State.Pid as number;
      assert.ok(pidAlive(pid));
      if (when === 'while berthd is down') await d.kill();
      process.kill(monitorOf(d, id), 'SIGKILL');
      if (when === 'while berthd is down') await d.start();
      const s = await waitFor(async () => {
        const st = (await d.inspect(id)).State;
        return st.Status === 'exited' ? st : undefined;
      }, 'the container to show as exited', 20_000);
      assert.equal(s.ExitCode, 137);
      assert.equal(s.Running, false);
      await waitFor(() => !pidAlive(pid), 'the container process to be gone', 10_000);
      await d.dockerOk(['start', id]);
      assert.equal((await d.inspect(id)).State.Running, true);
      await waitFor(async () => (await d.dockerOk(['logs', id])) === 'up\nup\n', 'both runs in the log');
      await d.dockerOk(['rm', '-f', id]);
    });
  }
});

describe('a missing or failing runtime', () => {
  let d: TestDaemon;
  let dir: string;
  let runtime: string;
  before(async () => {
    dir = fs.mkdtempSync('/tmp/bt-rt-');
    runtime = path.join(dir, 'flaky-runtime');
    // crun behind a switch: a file named "fail" beside it makes every call fail as a broken runtime would.
    fs.writeFileSync(runtime, `#!/bin/sh\nif [ -e ${dir}/fail ]; then echo "flaky-runtime: injected failure" >&2; exit 1; fi\nexec /usr/bin/crun "$@"\n`, { mode: 0o755 });
    const config = path.join(dir, 'daemon.json');
    fs.writeFileSync(config, JSON.stringify({ runtimes: { flaky: { path: runtime } }, 'default-runtime': 'flaky' }));
    d = await startDaemon({ args: ['--config-file', config] });
  });
  after(async () => {
    await stopAndCheckClean(d);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Nothing of a start that failed: no monitor, mount, namespace or runtime state, and the container is still there. */
  async function assertNothingHalfMade(id: string): Promise<void> {
    const st = (await d.inspect(id)).State;
    assert.equal(st.Running, false);
    assert.equal(pidsMentioning(d.execRoot, 'conmon').filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id)).length, 0);
    assert.deepEqual(mountsUnder(d.dataRoot), []);
    assert.deepEqual(fs.readdirSync(path.join(d.execRoot, 'netns')).filter((n) => !n.startsWith('keeper-')), []);
    for (const sub of ['runc', 'ctr']) assert.equal(fs.existsSync(path.join(d.execRoot, 'runtime', sub, id)), false, `${sub}/${id} left`);
  }

  test('a failing runtime: docker run says what it said, nothing half-made, the container starts once it works', async () => {
    fs.writeFileSync(path.join(dir, 'fail'), '');
    for (let i = 0; i < 3; i++) {
      const r = await d.docker(['run', '--name', `failing${i}`, 'busybox', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /flaky-runtime: injected failure/);
      const id = (await d.inspect(`failing${i}`)).Id as string;
      await assertNothingHalfMade(id);
      assert.match((await d.inspect(id)).State.Error, /flaky-runtime: injected failure/);
    }
    fs.rmSync(path.join(dir, 'fail'));
    assert.equal(await d.dockerOk(['start', '-a', 'failing0']), '');
    assert.equal((await d.inspect('failing0')).State.ExitCode, 0);
    for (let i = 0; i < 3; i++) await d.dockerOk(['rm', `failing${i}`]);
  });

  test('a runtime binary gone: a clear error, nothing half-made, and berthd refuses to start without it', async () => {
    fs.renameSync(runtime, `${runtime}.away`);
    try {
      const r = await d.docker(['run', '--name', 'norun', '--network', 'bridge', 'busybox', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /flaky-runtime.*(no such file|not found|No such file)/i);
      await assertNothingHalfMade((await d.inspect('norun')).Id);
      await d.terminate();
      await assert.rejects(d.start(), /default runtime flaky: .*flaky-runtime does not exist/);
    } finally {
      fs.renameSync(`${runtime}.away`, runtime);
    }
    await d.start();
    await d.dockerOk(['start', 'norun']);
    await d.dockerOk(['rm', '-f', 'norun']);
  });
});
