// Supervision: containers outlive a SIGKILLed berthd and are re-adopted by the next one on the
// same roots, including containers that exited while no daemon was running.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { demux, pidAlive, startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;
const COUNTER = 'i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done';

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

function assertCounter(out: string): number[] {
  const nums = out.split('\n').filter(Boolean).map(Number);
  assert.ok(nums.length > 0);
  nums.forEach((n, i) => assert.equal(n, i, `gap in the counter at line ${i}: ${nums.slice(Math.max(0, i - 3), i + 3)}`));
  return nums;
}

test('containers survive a SIGKILLed daemon and are re-adopted', async () => {
  const id = (await d.dockerOk(['run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', COUNTER])).trim();
  await d.dockerOk(['run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'sleep 1; exit 5']);
  const pid = Number((await d.dockerOk(['inspect', '-f', '{{.State.Pid}}', 'counter'])).trim());
  assert.ok(pid > 0);
  await d.waitForOutput(id, '3\n');

  const t0 = Date.now();
  await d.kill();
  assert.equal(d.running, false);
  assert.ok(pidAlive(pid), 'container process died with the daemon');
  // Let the quitter exit while no daemon runs, and the counter keep counting.
  await new Promise((r) => setTimeout(r, Math.max(0, 1500 - (Date.now() - t0))));
  assert.ok(pidAlive(pid));
  await d.start();

  // ps shows it running, with the same pid.
  assert.equal(await d.dockerOk(['ps', '--filter', 'name=counter', '--format', '{{.Names}} {{.State}}']), 'counter running\n');
  assert.equal(Number((await d.dockerOk(['inspect', '-f', '{{.State.Pid}}', id])).trim()), pid);
  // The one that exited meanwhile shows its code.
  assert.match(await d.dockerOk(['ps', '-a', '--filter', 'name=quitter', '--format', '{{.Status}}']), /^Exited \(5\) /);
  assert.equal(await d.dockerOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quitter']), 'exited 5\n');
  assert.equal(await d.dockerOk(['wait', 'quitter']), '5\n');

  // Logs are complete: output written while the daemon was down is there, without gaps.
  const before = assertCounter(await d.dockerOk(['logs', 'counter']));
  assert.ok(before.length >= 8, `only ${before.length} lines after ~1.5s down`);
  await waitFor(async () => (await d.dockerOk(['logs', 'counter'])).split('\n').length > before.length + 2, 'new output after restart');
  assertCounter(await d.dockerOk(['logs', 'counter']));

  // exec works.
  assert.deepEqual(await d.docker(['exec', 'counter', 'sh', '-c', 'echo in-exec; exit 6']), { code: 6, stdout: 'in-exec\n', stderr: '' });

  // Following the logs of the re-adopted container sees new lines.
  const { res, abort } = await d.stream(`/containers/${id}/logs?stdout=1&follow=1&tail=0`);
  const got = await new Promise<string>((resolve) => {
    let buf = Buffer.alloc(0);
    res.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const text = demux(buf).stdout;
      if (text.split('\n').length > 2) resolve(text);
    });
  });
  abort();
  assert.match(got, /^\d+\n\d+\n/);

  // stop works and wait returns the code.
  const w = d.docker(['wait', 'counter']);
  assert.equal(await d.dockerOk(['stop', '-t', '1', 'counter']), 'counter\n');
  assert.equal((await w).stdout, '137\n');
  assert.equal(pidAlive(pid), false);
  assert.equal(await d.dockerOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'counter']), 'exited 137\n');
  // And it can start again under the new daemon.
  await d.dockerOk(['start', 'counter']);
  assert.equal(await d.dockerOk(['inspect', '-f', '{{.State.Running}}', 'counter']), 'true\n');
  assert.equal(await d.dockerOk(['rm', '-f', 'counter', 'quitter']), 'counter\nquitter\n');
});

test('attach to a re-adopted container with stdin', async () => {
  await d.dockerOk(['run', '-d', '-i', '--name', 'reader', 'busybox', 'sh', '-c', 'while read x; do [ "$x" = quit ] && exit 0; echo "got $x"; done']);
  await d.kill();
  await d.start();
  // (Docker keeps the container's stdin open when the client's ends: the container decides.)
  const r = await d.docker(['attach', 'reader'], { input: 'one\ntwo\nquit\n', timeoutMs: 10_000 });
  assert.equal(r.stdout, 'got one\ngot two\n');
  assert.equal(r.code, 0);
  assert.equal(await d.dockerOk(['wait', 'reader']), '0\n');
  await d.dockerOk(['rm', 'reader']);
});

test('a container that exits while the daemon is down is reaped on restart, then restartable', async () => {
  await d.dockerOk(['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'echo before; sleep 0.5; echo after; exit 9']);
  await d.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await d.start();
  assert.match(await d.dockerOk(['ps', '-a', '--filter', 'name=short', '--format', '{{.Status}}']), /^Exited \(9\) /);
  assert.equal(await d.dockerOk(['logs', 'short']), 'before\nafter\n');
  assert.deepEqual(await d.docker(['start', '-a', 'short']), { code: 9, stdout: 'before\nafter\n', stderr: '' });
  assert.equal(await d.dockerOk(['inspect', '-f', '{{.State.ExitCode}}', 'short']), '9\n');
  await d.dockerOk(['rm', 'short']);
});
