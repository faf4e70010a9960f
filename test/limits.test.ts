// Resource limits through the real cgroups (this machine's v1 hybrid layout, or v2): a memory hog
// OOM-killed, a CPU-bound loop held to its --cpus share by the kernel's own accounting, device and
// cpuset settings, `docker update` on a running container, and Docker's refusals.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

let d: TestDaemon;
const V2 = fs.statfsSync('/sys/fs/cgroup').type === 0x63677270;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

/** A cgroup file of the running container (v1: under the controller's hierarchy; v2: unified). */
async function cgroupFile(id: string, controller: string, file: string): Promise<string> {
  const pid = (await d.inspect(id)).State.Pid;
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  if (V2) return path.join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3), file);
  const line = lines.find((l) => l.split(':')[1]?.split(',').includes(controller))!;
  return path.join('/sys/fs/cgroup', controller, line.split(':')[2], file);
}

async function cgroupRead(id: string, controller: string, v1File: string, v2File = v1File): Promise<string> {
  return fs.readFileSync(await cgroupFile(id, controller, V2 ? v2File : v1File), 'utf8').trim();
}

test('a memory hog under --memory=16m is OOM-killed: 137, OOMKilled, an oom event (both CLIs)', async () => {
  const hog = ['busybox', 'sh', '-c', 'x=0123456789abcdef; while :; do x="$x$x"; done'];
  for (const cli of ['docker', 'berth'] as const) {
    const r = await d[cli](['run', '--memory=16m', ...hog], { timeoutMs: 60_000 });
    assert.equal(r.code, 137, `${cli}: ${r.stderr}`);
    const id = (await d.api('GET', '/containers/json?all=1&limit=1')).body[0].Id;
    const info = await d.inspect(id);
    assert.equal(info.State.OOMKilled, true);
    assert.equal(info.State.ExitCode, 137);
    assert.equal(info.HostConfig.Memory, 16 * 1024 * 1024);
    const filters = encodeURIComponent(JSON.stringify({ container: [id] }));
    const evs = (await d.api('GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`)).text;
    const actions = evs.split('\n').filter(Boolean).map((l) => JSON.parse(l).Action);
    assert.deepEqual(actions.slice(-2), ['oom', 'die']);
    await d.dockerOk(['rm', id]);
  }
});

test('a CPU-bound loop is held to its --cpus share, by the cgroup’s own accounting', async () => {
  const id = (await d.dockerOk(['run', '-d', '--cpus', '0.2', 'busybox', 'sh', '-c', 'while :; do :; done'])).trim();
  if (V2) assert.equal(await cgroupRead(id, 'cpu', '', 'cpu.max'), '20000 100000');
  else {
    assert.equal(await cgroupRead(id, 'cpu', 'cpu.cfs_quota_us'), '20000');
    assert.equal(await cgroupRead(id, 'cpu', 'cpu.cfs_period_us'), '100000');
  }
  // Let it run a second; then the kernel's numbers: CPU time used vs periods elapsed.
  await new Promise((r) => setTimeout(r, 1200));
  const stat = Object.fromEntries((await cgroupRead(id, 'cpu', 'cpu.stat')).split('\n').map((l) => l.split(' ')));
  const usedNs = V2 ? Number(stat.usage_usec) * 1000 : Number(await cgroupRead(id, 'cpuacct', 'cpuacct.usage'));
  const periods = Number(stat.nr_periods);
  assert.ok(periods >= 5, `only ${periods} periods`);
  // Never more than its 20 ms per 100 ms period (one period of slack at either end) ...
  assert.ok(usedNs <= (periods + 2) * 20e6, `used ${usedNs / 1e6} ms in ${periods} periods`);
  // ... and it wanted more: the kernel throttled it.
  assert.ok(Number(stat.nr_throttled) > 0, `never throttled: ${JSON.stringify(stat)}`);
  // stats reports the same throttling.
  const throttling = (await d.api('GET', `/containers/${id}/stats?stream=0&one-shot=1`)).body.cpu_stats.throttling_data;
  assert.ok(throttling.periods >= periods && throttling.throttled_periods >= Number(stat.nr_throttled), JSON.stringify(throttling));
  await d.dockerOk(['rm', '-f', id]);
});

test('limits at create reach the cgroup: shares, cpuset, pids, swap, reservation, oom-kill-disable, device throttles, shm', async () => {
  const disk = fs.existsSync('/dev/vda') ? '/dev/vda' : fs.readdirSync('/sys/block').map((b) => `/dev/${b}`).find((p) => fs.existsSync(p) && !p.includes('loop'));
  const args = ['run', '-d', '-c', '512', '--cpuset-cpus', '0', '--pids-limit', '42', '-m', '32m', '--memory-swap', '64m', '--memory-reservation', '16m', '--oom-kill-disable', '--shm-size', '8m'];
  if (disk) args.push('--device-read-bps', `${disk}:1mb`, '--device-write-iops', `${disk}:100`);
  const id = (await d.berthOk([...args, 'busybox', 'sh', '-c', 'df -k /dev/shm; sleep 60'])).trim();
  assert.equal(await cgroupRead(id, 'pids', 'pids.max'), '42');
  assert.equal(await cgroupRead(id, 'cpuset', 'cpuset.cpus', 'cpuset.cpus'), '0');
  if (!V2) {
    assert.equal(await cgroupRead(id, 'cpu', 'cpu.shares'), '512');
    assert.equal(await cgroupRead(id, 'memory', 'memory.limit_in_bytes'), String(32 << 20));
    assert.equal(await cgroupRead(id, 'memory', 'memory.soft_limit_in_bytes'), String(16 << 20));
    assert.match(await cgroupRead(id, 'memory', 'memory.oom_control'), /oom_kill_disable 1/);
    if (fs.existsSync(await cgroupFile(id, 'memory', 'memory.memsw.limit_in_bytes'))) {
      assert.equal(await cgroupRead(id, 'memory', 'memory.memsw.limit_in_bytes'), String(64 << 20));
    }
    if (disk) {
      const rdev = fs.statSync(disk).rdev;
      const majmin = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & ~0xff)}`;
      assert.equal(await cgroupRead(id, 'blkio', 'blkio.throttle.read_bps_device'), `${majmin} 1048576`);
      assert.equal(await cgroupRead(id, 'blkio', 'blkio.throttle.write_iops_device'), `${majmin} 100`);
    }
  } else {
    assert.equal(await cgroupRead(id, 'memory', '', 'memory.max'), String(32 << 20));
  }
  await d.waitForOutput(id, '/dev/shm');
  assert.match(await d.dockerOk(['logs', id]), /shm\s+8192\s/);
  const hc = (await d.inspect(id)).HostConfig;
  assert.equal(hc.CpuShares, 512);
  assert.equal(hc.MemorySwap, 64 << 20);
  assert.equal(hc.OomKillDisable, true);
  // A memory limit alone brings twice its size as memory+swap, as Docker records it.
  const plain = (await d.dockerOk(['create', '-m', '20m', 'busybox'])).trim();
  assert.equal((await d.inspect(plain)).HostConfig.MemorySwap, 40 << 20);
  await d.dockerOk(['rm', '-f', id, plain]);
});

test('docker update changes the limits of a running container: cgroup, inspect and stats (both CLIs)', async () => {
  const id = (await d.dockerOk(['run', '-d', '-m', '16m', '--cpus', '0.5', '--pids-limit', '20', 'busybox', 'sleep', '60'])).trim();
  assert.equal(await d.dockerOk(['update', '-m', '24m', '--memory-swap', '48m', '--cpus', '1.5', '--pids-limit', '30', '-c', '256', '--restart', 'on-failure:3', id]), `${id}\n`);
  const check = async (mem: number, quota: number, pids: string): Promise<void> => {
    if (V2) {
      assert.equal(await cgroupRead(id, 'memory', '', 'memory.max'), String(mem));
      assert.equal(await cgroupRead(id, 'cpu', '', 'cpu.max'), `${quota} 100000`);
    } else {
      assert.equal(await cgroupRead(id, 'memory', 'memory.limit_in_bytes'), String(mem));
      assert.equal(await cgroupRead(id, 'cpu', 'cpu.cfs_quota_us'), String(quota));
    }
    assert.equal(await cgroupRead(id, 'pids', 'pids.max'), pids);
  };
  await check(24 << 20, 150000, '30');
  if (!V2) assert.equal(await cgroupRead(id, 'cpu', 'cpu.shares'), '256');
  const hc = (await d.inspect(id)).HostConfig;
  assert.deepEqual([hc.Memory, hc.MemorySwap, hc.NanoCpus, hc.PidsLimit, hc.CpuShares], [24 << 20, 48 << 20, 1.5e9, 30, 256]);
  assert.deepEqual(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  const stats = (await d.api('GET', `/containers/${id}/stats?stream=0&one-shot=1`)).body;
  assert.equal(stats.memory_stats.limit, 24 << 20);
  assert.equal(stats.pids_stats.limit, 30);

  assert.equal(await d.berthOk(['update', '--memory', '32m', '--memory-swap', '64m', '--pids-limit', '-1', id]), `${id}\n`);
  await check(32 << 20, 150000, 'max');
  const events = (await d.api('GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: [id], event: ['update'] }))}`)).text;
  assert.equal(events.split('\n').filter(Boolean).length, 2);

  // Docker's refusals: nothing changes.
  const swapFirst = await d.docker(['update', '-m', '128m', id]);
  assert.equal(swapFirst.code, 1);
  assert.match(swapFirst.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
  const period = await d.api('POST', `/containers/${id}/update`, { CpuPeriod: 50000 });
  assert.equal(period.status, 409);
  assert.deepEqual(period.body, { message: 'Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set' });
  const tiny = await d.api('POST', `/containers/${id}/update`, { Memory: 1024, MemorySwap: 2048 });
  assert.equal(tiny.status, 400);
  assert.deepEqual(tiny.body, { message: 'Minimum memory limit allowed is 6MB' });
  const policy = await d.api('POST', `/containers/${id}/update`, { RestartPolicy: { Name: 'often' } });
  assert.equal(policy.status, 400);
  await check(32 << 20, 150000, 'max');
  assert.equal((await d.api('POST', '/containers/nope/update', { Memory: 8 << 20 })).status, 404);
  assert.match((await d.berth(['update', id])).stderr, /you must provide one or more flags when using this command/);
  await d.dockerOk(['rm', '-f', id]);
});

test('limits below the minimum, beyond the host, on missing CPUs or devices: Docker status and message, nothing created', async () => {
  const ncpu = (await d.api('GET', '/info')).body.NCPU;
  const before = (await d.api('GET', '/containers/json?all=1')).body.length;
  const cases: [object, string][] = [
    [{ Memory: 1024 }, 'Minimum memory limit allowed is 6MB'],
    [{ NanoCpus: (ncpu + 1) * 1e9 }, `range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`],
    [{ CpusetCpus: String(ncpu + 3) }, `Requested CPUs are not available - requested ${ncpu + 3}, available: ${ncpu === 1 ? '0' : `0-${ncpu - 1}`}`],
    [{ CpusetCpus: 'x' }, 'Invalid value x for cpuset cpus'],
    [{ Memory: 32 << 20, MemoryReservation: 64 << 20 }, 'Minimum memory limit can not be less than memory reservation limit, see usage'],
    [{ MemorySwap: 64 << 20 }, 'You should always set the Memory limit when using Memoryswap limit, see usage'],
    [{ CpuPeriod: 500 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
    [{ BlkioDeviceReadBps: [{ Path: '/dev/no-such-disk', Rate: 1024 }] }, 'stat /dev/no-such-disk: no such file or directory'],
  ];
  for (const [hc, message] of cases) {
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hc });
    assert.equal(r.status, 400, JSON.stringify(hc));
    assert.deepEqual(r.body, { message });
  }
  for (const cli of ['docker', 'berth'] as const) {
    for (const [flags, message] of [
      [['--memory=1k'], /Minimum memory limit allowed is 6MB/],
      [['--cpus', String(ncpu + 1)], /range of CPUs is from 0\.01/],
      [['--cpuset-cpus', String(ncpu + 3)], /Requested CPUs are not available/],
    ] as const) {
      const r = await d[cli](['run', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${cli} ${flags}`);
      assert.match(r.stderr, message);
    }
  }
  // API 1.42 dropped KernelMemory: a newer client's value is ignored, as Docker does.
  const kmem = await d.api('POST', '/v1.47/containers/create', { Image: 'busybox', HostConfig: { KernelMemory: 8 << 20 } });
  assert.equal(kmem.status, 201);
  assert.equal((await d.inspect(kmem.body.Id)).HostConfig.KernelMemory, undefined);
  await d.dockerOk(['rm', kmem.body.Id]);
  assert.equal((await d.api('GET', '/containers/json?all=1')).body.length, before);
});
