// Restart policies acted on by the daemon: Docker's back-off read from the event times, counts,
// the restarting state, a user's stop ending the policy, and restarts across a SIGKILLed daemon.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RestartManager } from '../src/engine/containers/restart-manager.js';
import { startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

interface Ev {
  Action: string;
  timeNano: number;
}

/** The container's events so far, from the daemon's log. */
async function events(id: string): Promise<Ev[]> {
  const filters = encodeURIComponent(JSON.stringify({ container: [id] }));
  const r = await d.api('GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
  return r.text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ev);
}

/** Milliseconds from each `die` to the `start` that followed it. */
function restartDelays(evs: Ev[]): number[] {
  const out: number[] = [];
  let died: number | undefined;
  for (const e of evs) {
    if (e.Action === 'die') died = e.timeNano;
    if (e.Action === 'start' && died !== undefined) {
      out.push((e.timeNano - died) / 1e6);
      died = undefined;
    }
  }
  return out;
}

test('the back-off: 100 ms doubling up to a minute, reset by a run of 10 s, on-failure counting', () => {
  const rm = new RestartManager(0);
  const always = { Name: 'always' as const };
  const seq = Array.from({ length: 12 }, () => rm.shouldRestart(always, 1, false, 50));
  assert.deepEqual(seq, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
  assert.equal(rm.shouldRestart(always, 0, true, 10_000), 100, 'a 10 s run resets the delay; always ignores a manual stop');
  const onFailure = new RestartManager(1);
  const policy = { Name: 'on-failure' as const, MaximumRetryCount: 2 };
  assert.equal(onFailure.shouldRestart(policy, 0, false, 5), undefined, 'exit 0 is no failure');
  assert.equal(onFailure.shouldRestart(policy, 1, false, 5), 200, 'the second of two');
  assert.equal(onFailure.shouldRestart(policy, 1, false, 5), undefined, 'the count is spent');
  assert.equal(new RestartManager(0).shouldRestart({ Name: 'unless-stopped' }, 1, true, 5), undefined);
  const canceled = new RestartManager(0);
  canceled.cancel();
  assert.equal(canceled.shouldRestart(always, 1, false, 5), undefined);
});

test('a crashing container is restarted with a growing delay until on-failure:N is spent (repeated, both CLIs)', async () => {
  const bases = [100, 200, 400, 800];
  for (let round = 0; round < 3; round++) {
    const cli = round === 0 ? d.dockerOk.bind(d) : d.berthOk.bind(d);
    const id = (await cli(['run', '-d', '--restart', 'on-failure:4', 'busybox', 'sh', '-c', 'exit 3'])).trim();
    await waitFor(async () => (await d.inspect(id)).State.Status === 'exited' && (await d.inspect(id)).RestartCount === 4, 'four restarts, then exited', 20_000, 100);
    const info = await d.inspect(id);
    assert.equal(info.State.ExitCode, 3);
    assert.equal(info.HostConfig.RestartPolicy.MaximumRetryCount, 4);
    const delays = restartDelays(await events(id));
    assert.equal(delays.length, 4, `restarts seen in the events: ${delays}`);
    delays.forEach((ms, i) => {
      assert.ok(ms >= bases[i] - 5, `restart ${i + 1} came after ${ms} ms, before its ${bases[i]} ms back-off`);
      assert.ok(ms < bases[i] + 2500, `restart ${i + 1} took ${ms} ms`);
    });
    await cli(['rm', id]);
  }
});

test('restarting shows in ps and inspect; exec and pause wait; stop ends the policy until the next start', async () => {
  const id = (await d.dockerOk(['run', '-d', '--name', 'looper', '--restart', 'always', 'busybox', 'false'])).trim();
  // After five quick exits the back-off is 1.6 s: long enough to look at it.
  await waitFor(async () => (await d.inspect(id)).RestartCount >= 5, 'five restarts', 15_000, 50);
  await waitFor(async () => (await d.inspect(id)).State.Restarting, 'restarting', 5_000, 20);
  const st = (await d.inspect(id)).State;
  assert.equal(st.Status, 'restarting');
  assert.equal(st.Running, true, 'Docker counts a restarting container as running');
  assert.equal(st.Pid, 0);
  assert.match(await d.dockerOk(['ps', '--filter', 'status=restarting', '--format', '{{.Names}} {{.Status}}']), /^looper Restarting \(1\) /);
  const exec = await d.docker(['exec', 'looper', 'true']);
  assert.equal(exec.code, 1);
  assert.match(exec.stderr, /is restarting, wait until the container is running/);
  assert.match((await d.docker(['pause', 'looper'])).stderr, /is restarting, wait until the container is running/);
  // A start of a restarting container is a no-op (304), as for a running one.
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 304);

  assert.equal(await d.berthOk(['stop', 'looper']), 'looper\n');
  const stopped = await d.inspect(id);
  assert.equal(stopped.State.Status, 'exited');
  const count = stopped.RestartCount;
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await d.inspect(id)).State.Status, 'exited', 'no restart after a stop');
  assert.equal((await d.inspect(id)).RestartCount, count);

  // The next start resets the count and the policy applies again.
  await d.dockerOk(['start', 'looper']);
  await waitFor(async () => (await d.inspect(id)).RestartCount >= 2, 'restarts after start', 10_000, 50);
  assert.ok((await d.inspect(id)).RestartCount < count, 'the count started over');
  // rm -f of a container between two runs removes it at once.
  await d.dockerOk(['rm', '-f', 'looper']);
  assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
});

test('unless-stopped and always: a kill from the user ends them; exit 0 restarts always but not on-failure', async () => {
  const always = (await d.dockerOk(['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2'])).trim();
  const onFailure = (await d.dockerOk(['run', '-d', '--restart', 'on-failure', 'busybox', 'sh', '-c', 'sleep 0.2'])).trim();
  const unless = (await d.dockerOk(['run', '-d', '--restart', 'unless-stopped', 'busybox', 'sleep', '60'])).trim();
  await waitFor(async () => (await d.inspect(always)).RestartCount >= 2, 'always restarts exit 0', 10_000, 50);
  await waitFor(async () => (await d.inspect(onFailure)).State.Status === 'exited', 'on-failure stops on exit 0', 10_000, 50);
  assert.equal((await d.inspect(onFailure)).RestartCount, 0);
  await d.dockerOk(['kill', unless]);
  await waitFor(async () => (await d.inspect(unless)).State.Status === 'exited', 'killed', 10_000, 50);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await d.inspect(unless)).State.Status, 'exited');
  assert.equal((await d.inspect(unless)).RestartCount, 0);
  await d.dockerOk(['rm', '-f', always, onFailure, unless]);
});

test('bad restart policies are refused with Docker messages, nothing created', async () => {
  const before = (await d.api('GET', '/containers/json?all=1')).body.length;
  const cases: [object, string][] = [
    [{ RestartPolicy: { Name: 'sometimes' } }, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"],
    [{ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } }, 'invalid restart policy: maximum retry count cannot be negative'],
    [{ RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } }, "invalid restart policy: maximum retry count can only be used with 'on-failure'"],
    [{ RestartPolicy: { Name: 'always' }, AutoRemove: true }, "can't create 'AutoRemove' container with restart policy"],
  ];
  for (const [hc, message] of cases) {
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hc });
    assert.equal(r.status, 400, JSON.stringify(hc));
    assert.deepEqual(r.body, { message });
  }
  const cli = await d.docker(['run', '--restart', 'on-failure:-2', 'busybox', 'true']);
  assert.equal(cli.code, 125);
  assert.match(cli.stderr, /maximum retry count cannot be negative/);
  const rm = await d.berth(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  assert.equal(rm.code, 125);
  assert.match(rm.stderr, /conflicting options: cannot specify both --restart and --rm/);
  assert.equal((await d.api('GET', '/containers/json?all=1')).body.length, before);
});

test('restarts are counted and honoured across a SIGKILLed daemon (twice)', async () => {
  for (let round = 0; round < 2; round++) {
    // Each run lasts a second, then fails: one exit happens while the daemon is down.
    const counted = (await d.dockerOk(['run', '-d', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'sleep 1; exit 4'])).trim();
    const always = (await d.dockerOk(['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 1; exit 0'])).trim();
    const stoppedAlways = (await d.dockerOk(['run', '-d', '--restart', 'always', 'busybox', 'sleep', '60'])).trim();
    const stoppedUnless = (await d.dockerOk(['run', '-d', '--restart', 'unless-stopped', 'busybox', 'sleep', '60'])).trim();
    await d.dockerOk(['stop', '-t', '0', stoppedAlways, stoppedUnless]);
    await d.kill();
    await new Promise((r) => setTimeout(r, 1800));
    await d.start();

    // The exit seen at start-up is a restart like any other: counted, and the count still binds.
    await waitFor(async () => (await d.inspect(counted)).RestartCount === 2 && (await d.inspect(counted)).State.Status === 'exited', 'on-failure:2 spent', 15_000, 100);
    assert.equal((await d.inspect(counted)).State.ExitCode, 4);
    await waitFor(async () => (await d.inspect(always)).RestartCount >= 1, 'always restarted after its exit while down', 10_000, 50);
    // As in Docker, `always` comes back when the daemon starts even after a user's stop; unless-stopped does not.
    await waitFor(async () => (await d.inspect(stoppedAlways)).State.Status === 'running', 'always started at daemon start', 10_000, 50);
    assert.equal((await d.inspect(stoppedUnless)).State.Status, 'exited');
    await d.dockerOk(['rm', '-f', counted, always, stoppedAlways, stoppedUnless]);
  }
});
