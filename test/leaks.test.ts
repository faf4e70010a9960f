// The per-file leak check (leaks.ts) can fail: each kind of leftover it looks for is planted by
// hand and must be reported, and the same daemon, cleaned, must then pass.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { findLeaks, natChainExists, netavarkDnatChain } from './leaks.js';
import { mountsUnder, run, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
});
after(() => stopAndCheckClean(d));

test('a daemon whose containers ran and were removed passes', async () => {
  const id = (await d.dockerOk(['run', '-d', 'busybox', 'sleep', '60'])).trim();
  await d.dockerOk(['exec', id, 'true']);
  await d.dockerOk(['run', '--rm', 'busybox', 'true']);
  // findLeaks removes the running one itself, through the API
  assert.deepEqual(await findLeaks(d), []);
  assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
});

test('planted leftovers of every kind are reported', async () => {
  // a cgroup of a container the daemon created and removed
  const removed = (await d.dockerOk(['create', 'busybox', 'true'])).trim();
  await d.dockerOk(['rm', removed]);
  const hierarchy = ['pids', 'memory', 'cpu,cpuacct', 'unified'].map((h) => path.join('/sys/fs/cgroup', h)).find((h) => fs.existsSync(path.join(h, 'cgroup.procs')));
  const cgroup = hierarchy ? path.join(hierarchy, 'berth', removed) : undefined;
  if (cgroup) fs.mkdirSync(cgroup, { recursive: true });
  // a mount under the data root, an exec-root file, a monitor that outlived its container
  const mnt = path.join(d.dataRoot, 'planted-mount');
  fs.mkdirSync(mnt, { recursive: true });
  assert.equal((await run('mount', ['-t', 'tmpfs', 'planted', mnt])).code, 0);
  const stale = path.join(d.execRoot, 'runtime', 'ctr', 'f'.repeat(64));
  fs.mkdirSync(stale, { recursive: true });
  const fakeConmon = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', d.execRoot], { argv0: 'conmon', stdio: 'ignore' });
  // streams left open: event streams with an `until` an hour away hold a descriptor and a timer each
  const until = Math.floor(Date.now() / 1000) + 3600;
  const streams = await Promise.all(Array.from({ length: 8 }, () => d.stream(`/events?until=${until}`)));
  try {
    const found = await findLeaks(d, 2000);
    const expect = (what: RegExp): void => assert.ok(found.some((f) => what.test(f)), `${what} in:\n${found.join('\n')}`);
    expect(new RegExp(`^tmpfs mount ${mnt}$`));
    expect(new RegExp(`^exec-root file runtime/ctr/f{64}$`));
    expect(new RegExp(`^conmon ${fakeConmon.pid} still runs$`));
    expect(/^berthd holds \d+ descriptors, \d+ at start: .*socket:/);
    expect(/^berthd has \d+ timers, \d+ at start$/);
    if (cgroup) expect(new RegExp(`^cgroup ${cgroup}$`));
  } finally {
    for (const st of streams) st.abort();
    fakeConmon.kill('SIGKILL');
    if (mountsUnder(mnt).length) await run('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    fs.rmSync(stale, { recursive: true, force: true });
    if (cgroup) fs.rmdirSync(cgroup);
  }
  assert.deepEqual(await findLeaks(d), [], 'clean again once the plants are gone');
});

test("a removed network's netavark DNAT chain goes with it; one left behind is reported", async () => {
  const net = (await d.dockerOk(['network', 'create', '--subnet', `10.${d.net.octet}.77.0/24`, 'chained'])).trim();
  const chain = netavarkDnatChain(net);
  const id = (await d.dockerOk(['run', '-d', '--network', 'chained', '-p', '127.0.0.1::80', 'busybox', 'sleep', '60'])).trim();
  assert.ok(natChainExists(chain), `netavark made ${chain} for the published port (the name the check derives is netavark's)`);
  await d.dockerOk(['rm', '-f', id]);
  await d.dockerOk(['network', 'rm', 'chained']);
  assert.equal(natChainExists(chain), false, 'network rm deleted the chain netavark leaves');
  assert.deepEqual(await findLeaks(d), []);
  // Planted: an empty chain of that name, as netavark 1.4 alone leaves it.
  assert.equal((await run('iptables', ['-w', '-t', 'nat', '-N', chain])).code, 0);
  try {
    const found = await findLeaks(d, 500);
    assert.deepEqual(found, [`iptables nat chain ${chain} of removed network ${net.slice(0, 12)}`]);
  } finally {
    await run('iptables', ['-w', '-t', 'nat', '-X', chain]);
  }
  assert.deepEqual(await findLeaks(d), []);
});

test('stop() reports a container the daemon failed to remove', async () => {
  const other = await startDaemon();
  const id = (await other.dockerOk(['create', 'busybox', 'true'])).trim();
  // make its removal fail: a mount inside its container dir (stop() unmounts it afterwards)
  const busy = path.join(other.dataRoot, 'containers', id, 'busy');
  fs.mkdirSync(busy, { recursive: true });
  assert.equal((await run('mount', ['-t', 'tmpfs', 'busy', busy])).code, 0);
  await assert.rejects(other.stop(), new RegExp(`failed to remove containers:\nDELETE ${id}: `));
  assert.deepEqual(other.leftovers(), { conmons: [], mounts: [] });
  assert.equal(fs.existsSync(other.root), false);
});
