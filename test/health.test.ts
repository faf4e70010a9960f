// Healthchecks: probes run as execs in the container, State.Health, ps status and filter,
// health_status events, the image's HEALTHCHECK and --no-healthcheck, and wait unaffected.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

async function health(id: string): Promise<any> {
  return (await d.inspect(id)).State.Health;
}

async function healthEvents(id: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ container: [id], event: ['health_status'] }));
  const r = await d.api('GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
  return r.text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).Action as string);
}

test('an unhealthy container turns unhealthy and a healthy one healthy (both CLIs, repeated)', async () => {
  for (let round = 0; round < 2; round++) {
    const cli = round === 0 ? d.dockerOk.bind(d) : d.berthOk.bind(d);
    const sick = (await cli(['run', '-d', '--health-cmd', 'echo probing; exit 1', '--health-interval', '100ms', '--health-retries', '2', 'busybox', 'sleep', '60'])).trim();
    // Healthy once the file exists: the first probes fail, then it recovers.
    const well = (await cli(['run', '-d', '--health-cmd', 'test -f /tmp/ready', '--health-interval', '100ms', '--health-retries', '50', 'busybox', 'sh', '-c', 'sleep 0.5; touch /tmp/ready; sleep 60'])).trim();
    // Until its first probe (30 s away) a container's health is starting.
    const waiting = (await cli(['run', '-d', '--health-cmd', 'true', '--health-interval', '30s', 'busybox', 'sleep', '60'])).trim();
    assert.equal((await health(waiting)).Status, 'starting');
    assert.match(await cli(['ps', '--filter', `id=${waiting}`, '--format', '{{.Status}}']), /^Up .* \(health: starting\)\n$/);
    assert.ok((await cli(['ps', '-q', '--no-trunc', '--filter', 'health=starting'])).includes(waiting));

    await waitFor(async () => (await health(sick)).Status === 'unhealthy', 'unhealthy', 10_000, 50);
    await waitFor(async () => (await health(well)).Status === 'healthy', 'healthy', 10_000, 50);
    const h = await health(sick);
    assert.ok(h.FailingStreak >= 2);
    assert.ok(h.Log.length >= 2 && h.Log.length <= 5, `log of ${h.Log.length}`);
    assert.deepEqual(Object.keys(h.Log[0]).sort(), ['End', 'ExitCode', 'Output', 'Start']);
    assert.equal(h.Log[0].ExitCode, 1);
    assert.equal(h.Log[0].Output, 'probing\n');
    await waitFor(async () => (await health(sick)).Log.length === 5, 'the log keeps five', 10_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await health(sick)).Log.length, 5);
    assert.equal((await health(well)).FailingStreak, 0);

    assert.match(await cli(['ps', '--filter', `id=${sick}`, '--format', '{{.Status}}']), /^Up .* \(unhealthy\)\n$/);
    assert.match(await cli(['ps', '--filter', `id=${well}`, '--format', '{{.Status}}']), /^Up .* \(healthy\)\n$/);
    const byFilter = async (h: string): Promise<string[]> => (await cli(['ps', '-q', '--no-trunc', '--filter', `health=${h}`])).split('\n').filter(Boolean);
    assert.ok((await byFilter('unhealthy')).includes(sick) && !(await byFilter('unhealthy')).includes(well));
    assert.ok((await byFilter('healthy')).includes(well) && !(await byFilter('healthy')).includes(sick));
    assert.deepEqual(await healthEvents(sick), ['health_status: unhealthy']);
    assert.equal((await healthEvents(well)).at(-1), 'health_status: healthy');
    // Probe execs come and go: none is left listed.
    await cli(['rm', '-f', sick, well, waiting]);
  }
  const bad = await d.docker(['ps', '--filter', 'health=sickly']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Unrecognised filter value for health: sickly/);
});

test("the image's HEALTHCHECK applies, --no-healthcheck turns it off, flags override its fields", async () => {
  await d.dockerOk(['commit', '-c', 'HEALTHCHECK --interval=100ms --retries=1 CMD ["false"]', (await d.dockerOk(['create', 'busybox'])).trim(), 'hc-image']);
  const fromImage = (await d.dockerOk(['run', '-d', 'hc-image', 'sleep', '60'])).trim();
  assert.deepEqual((await d.inspect(fromImage)).Config.Healthcheck, { Test: ['CMD', 'false'], Interval: 100_000_000, Retries: 1 });
  await waitFor(async () => (await health(fromImage))?.Status === 'unhealthy', 'unhealthy from the image', 10_000, 50);

  const off = (await d.dockerOk(['run', '-d', '--no-healthcheck', 'hc-image', 'sleep', '60'])).trim();
  // Docker's merge keeps the image's other fields under NONE.
  assert.deepEqual((await d.inspect(off)).Config.Healthcheck.Test, ['NONE']);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(await health(off), undefined);
  assert.match(await d.dockerOk(['ps', '--filter', `id=${off}`, '--format', '{{.Status}}']), /^Up [^(]*\n$/);
  assert.ok((await d.dockerOk(['ps', '-q', '--no-trunc', '--filter', 'health=none'])).includes(off));

  const overridden = (await d.berthOk(['run', '-d', '--health-cmd', 'true', 'hc-image', 'sleep', '60'])).trim();
  assert.deepEqual((await d.inspect(overridden)).Config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 100_000_000, Retries: 1 });
  await waitFor(async () => (await health(overridden))?.Status === 'healthy', 'healthy with the flag', 10_000, 50);
  await d.dockerOk(['rm', '-f', fromImage, off, overridden]);
  await d.dockerOk(['rmi', 'hc-image']);
});

test('start period, timeout, and a stopped monitor', async () => {
  // Failures inside the start period do not count.
  const patient = await d.create({ Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD', 'false'], Interval: 50e6, StartPeriod: 60e9, StartInterval: 50e6, Retries: 1 } });
  // A probe that outlives its timeout fails with Docker's message.
  const slow = await d.create({ Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD-SHELL', 'sleep 5'], Interval: 50e6, Timeout: 200e6, Retries: 1 } });
  await d.dockerOk(['start', patient, slow]);
  await waitFor(async () => (await health(slow)).Status === 'unhealthy', 'timed out', 10_000, 50);
  const log = (await health(slow)).Log;
  assert.equal(log[0].ExitCode, -1);
  assert.equal(log[0].Output, 'Health check exceeded timeout (200ms)');
  assert.ok(Date.parse(log[0].End) - Date.parse(log[0].Start) < 2000, 'the probe is killed at its timeout');
  await waitFor(async () => (await health(patient)).Log.length >= 3, 'probes in the start period', 10_000, 50);
  assert.equal((await health(patient)).Status, 'starting');
  assert.equal((await health(patient)).FailingStreak, 0);
  // Pausing stops the probes; Docker then reports unhealthy.
  await d.dockerOk(['pause', patient]);
  assert.equal((await health(patient)).Status, 'unhealthy');
  const n = (await health(patient)).Log.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await health(patient)).Log.length, n, 'no probe while paused');
  await d.dockerOk(['unpause', patient]);
  await d.dockerOk(['rm', '-f', patient, slow]);
});

test('wait is unaffected by the probes: it returns the container exit code', async () => {
  for (let i = 0; i < 3; i++) {
    const id = (await d.dockerOk(['run', '-d', '--health-cmd', 'exit 0', '--health-interval', '20ms', 'busybox', 'sh', '-c', 'sleep 0.6; exit 7'])).trim();
    const t0 = Date.now();
    assert.equal(await d.dockerOk(['wait', id]), '7\n');
    assert.ok(Date.now() - t0 > 300, 'wait returned before the container exited');
    await waitFor(async () => (await d.inspect(id)).ExecIDs === null, 'probe execs forgotten', 5_000, 50);
    await d.dockerOk(['rm', id]);
  }
});

test('malformed healthcheck durations are refused as Docker does, nothing created', async () => {
  const before = (await d.api('GET', '/containers/json?all=1')).body.length;
  const cases: [object, string][] = [
    [{ Test: ['CMD', 'true'], Interval: 10 }, 'Interval in Healthcheck cannot be less than 1ms'],
    [{ Test: ['CMD', 'true'], Timeout: -5 }, 'Timeout in Healthcheck cannot be less than 1ms'],
    [{ Test: ['CMD', 'true'], Retries: -1 }, 'Retries in Healthcheck cannot be negative'],
    [{ Test: ['CMD', 'true'], StartPeriod: 999 }, 'StartPeriod in Healthcheck cannot be less than 1ms'],
    [{ Test: ['CMD', 'true'], StartInterval: 1 }, 'StartInterval in Healthcheck cannot be less than 1ms'],
  ];
  for (const [hc, message] of cases) {
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Healthcheck: hc });
    assert.equal(r.status, 400, JSON.stringify(hc));
    assert.deepEqual(r.body, { message });
  }
  // docker-py (docker-compose) sends null for what it leaves unset: no value, no error.
  const py = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9, Timeout: null, StartPeriod: null, Retries: null } });
  assert.equal(py.status, 201, py.text);
  assert.deepEqual((await d.inspect(py.body.Id)).Config.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9 });
  await d.dockerOk(['rm', py.body.Id]);
  for (const cli of ['docker', 'berth'] as const) {
    const r = await d[cli](['run', '--health-interval', '10x', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid argument "10x" for "--health-interval" flag: time: unknown unit "x" in duration "10x"/);
    const neg = await d[cli](['run', '--health-timeout', '-1s', 'busybox', 'true']);
    assert.equal(neg.code, 125);
    assert.match(neg.stderr, /--health-timeout cannot be negative/);
  }
  assert.equal((await d.api('GET', '/containers/json?all=1')).body.length, before);
});
