// Faults that lose nothing: an interrupted metadata write (the temporary file left beside the
// real one, as a SIGKILL between write and rename leaves it) does not replace or hide the data,
// and the next berthd removes the leftover.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { busyboxTar, mountsUnder, pidAlive, pidsMentioning, startDaemon, stopAndCheckClean, TestDaemon, waitFor } from './harness.js';
import { haveRegistry, startRegistry, type TestRegistry } from './registry/registry.js';

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
      // Two lines once the second run wrote its own (a loaded host can take a while): then exactly those.
      const log = await waitFor(async () => {
        const l = await d.dockerOk(['logs', id]);
        return l.split('\n').length > 2 ? l : undefined;
      }, 'both runs in the log', 30_000, 200);
      assert.equal(log, 'up\nup\n');
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

describe('a full data root', { skip: haveRegistry() ? false : 'docker-registry is not installed' }, () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  let filler: string;
  const small = fs.mkdtempSync('/tmp/bt-small-');
  fs.rmdirSync(small);
  const ref = (n: string): string => `${reg.host}/full/${n}:v1`;

  /** Fills the data root's filesystem up to `leave` free bytes. */
  function fill(leave: number): void {
    const st = fs.statfsSync(d.dataRoot);
    const size = Math.max(0, st.bavail * st.bsize - leave);
    execFileSync('fallocate', ['-l', String(size), filler]);
  }
  function unfill(): void {
    fs.rmSync(filler, { force: true });
  }
  /**
   * No half-written blob, layer or spool: the content store's ingest dir and the snapshots'
   * temporaries are empty, and so are partial registry downloads (kept for a resume otherwise,
   * but not those that filled the disk: once their downloads end, they go).
   */
  async function assertNothingHalfWritten(): Promise<void> {
    const ingest = path.join(d.dataRoot, 'content', 'ingest');
    assert.deepEqual(fs.readdirSync(ingest).filter((n) => n !== 'partial'), []);
    await waitFor(() => fs.readdirSync(path.join(ingest, 'partial')).length === 0, 'no partial downloads left', 15_000);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'snapshots')).filter((n) => n.startsWith('tmp-')), []);
  }
  async function assertServing(): Promise<void> {
    assert.equal((await d.api('GET', '/_ping')).text, 'OK');
    assert.equal((await d.api('GET', '/containers/json?all=1')).status, 200);
  }
  /**
   * `docker <argv>` with the data root full: refused with ENOSPC, the daemon still serving,
   * nothing half-written; `andThen` checks the rest while the disk is still full.
   */
  async function refusedWhenFull(argv: string[], andThen: () => Promise<void>): Promise<void> {
    fill(1 << 20);
    try {
      const r = await d.docker(argv);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no space left on device/i);
      await assertServing();
      await assertNothingHalfWritten();
      await andThen();
    } finally {
      unfill();
    }
  }

  before(async () => {
    reg = await startRegistry();
    d = new TestDaemon();
    // The data root is a symlink to a small tmpfs outside the daemon's dir (whose mounts the leak check counts).
    fs.mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', small]);
    fs.symlinkSync(small, d.dataRoot);
    filler = path.join(d.dataRoot, 'filler');
    await d.start();
    // An image of ~6 MiB only the registry has, and its archive saved aside.
    const noise = Buffer.alloc(4 << 20);
    for (let i = 0; i < noise.length; i += 4096) noise.writeUInt32LE(i * 2654435761 >>> 0, i);
    const r = await d.api('POST', `/images/create?fromSrc=-&repo=${encodeURIComponent(`${reg.host}/full/big`)}&tag=v1`, busyboxTar([{ name: 'noise', content: noise }]));
    assert.equal(r.status, 200, r.text);
    await d.dockerOk(['push', ref('big')]);
    await d.dockerOk(['save', '-o', path.join(d.root, 'big.tar'), ref('big')]);
    await d.dockerOk(['rmi', ref('big')]);
  });
  after(async () => {
    unfill();
    try {
      await stopAndCheckClean(d);
    } finally {
      await reg?.stop();
      execFileSync('umount', [small]);
      fs.rmdirSync(small);
    }
  });

  test("a container's writes: ENOSPC inside, the daemon serves on, the space comes back with rm", async () => {
    const r = await d.docker(['run', '--name', 'writer', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=200']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /No space left on device/);
    await assertServing();
    await d.dockerOk(['rm', 'writer']);
    assert.ok(fs.statfsSync(d.dataRoot).bavail * fs.statfsSync(d.dataRoot).bsize > 30 << 20, 'the space is back');
  });

  test('pull: a clear error, nothing half-written, and the next pull works', async () => {
    await refusedWhenFull(['pull', ref('big')], async () => {
      assert.equal((await d.api('GET', `/images/${encodeURIComponent(ref('big'))}/json`)).status, 404);
    });
    await d.dockerOk(['pull', ref('big')]);
    await d.dockerOk(['rmi', ref('big')]);
  });

  test('load: a clear error, nothing half-written', async () => {
    await refusedWhenFull(['load', '-i', path.join(d.root, 'big.tar')], async () => {
      assert.equal((await d.api('GET', `/images/${encodeURIComponent(ref('big'))}/json`)).status, 404);
    });
  });

  test('commit: a clear error, no image, nothing half-written, the container runs on', async () => {
    const id = (await d.dockerOk(['run', '-d', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/data bs=1M count=4 && sleep 600'])).trim();
    await waitFor(async () => (await d.docker(['exec', id, 'sh', '-c', 'test $(wc -c < /data) -eq 4194304'])).code === 0, '/data written');
    const images = (await d.api('GET', '/images/json?all=1')).body.length;
    await refusedWhenFull(['commit', id, 'full-commit:v1'], async () => {
      assert.equal((await d.api('GET', '/images/json?all=1')).body.length, images);
      assert.equal((await d.inspect(id)).State.Status, 'running');
    });
    await d.dockerOk(['commit', id, 'full-commit:v1']);
    await d.dockerOk(['rm', '-f', id]);
    await d.dockerOk(['rmi', 'full-commit:v1']);
  });
});

describe('leftovers of interrupted work', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => stopAndCheckClean(d));

  test('half-unpacked layers, temporary files, orphan snapshots and blobs are gone after a restart; images and containers stay', async () => {
    const keep = (await d.dockerOk(['create', '--name', 'kept', 'busybox', 'true'])).trim();
    const r = await d.api('POST', `/images/create?fromSrc=-&repo=orphaned&tag=v1`, busyboxTar([{ name: 'only-here', content: 'x' }]));
    assert.equal(r.status, 200, r.text);
    const orphanImage = (await d.api('GET', '/images/orphaned:v1/json')).body;
    const orphanLayer = orphanImage.GraphDriver.Data.UpperDir as string;
    await d.kill();
    const data = d.dataRoot;
    // An image whose record a crash lost before it was written: its layer and config blob are orphans.
    fs.rmSync(path.join(data, 'metadata', 'images', `${orphanImage.Id.slice(7)}.json`));
    fs.writeFileSync(path.join(data, 'metadata', 'references.json'), JSON.stringify(JSON.parse(fs.readFileSync(path.join(data, 'metadata', 'references.json'), 'utf8')), (k, v) => (typeof v === 'string' && v === orphanImage.Id ? undefined : v)));
    const planted = [
      path.join(data, 'snapshots', 'tmp-0123456789abcdef'), // a layer being unpacked
      path.join(data, 'content', 'ingest', '0123456789abcdef01234567'), // a blob being written
      path.join(data, 'content', 'ingest', 'load-abcdef'), // a load's spool
      path.join(data, 'content', 'blobs', 'sha256', 'f'.repeat(64)), // a blob nothing refers to
      path.join(data, 'snapshots', 'e'.repeat(64)), // the writable snapshot of a create cut short
      path.join(data, 'metadata', 'snapshots', `${'e'.repeat(64)}.json`),
    ];
    fs.mkdirSync(path.join(planted[0]!, 'fs', 'bin'), { recursive: true });
    fs.writeFileSync(planted[1]!, 'half a blob');
    fs.mkdirSync(planted[2]!);
    fs.writeFileSync(planted[3]!, 'nobody');
    for (const sub of ['fs', 'work', 'merged']) fs.mkdirSync(path.join(planted[4]!, sub), { recursive: true });
    fs.writeFileSync(planted[5]!, JSON.stringify({ key: 'e'.repeat(64), kind: 'active', parent: undefined, created: new Date().toISOString() }));
    await d.start();
    for (const p of [...planted, path.dirname(orphanLayer), path.join(data, 'content', 'blobs', 'sha256', orphanImage.Id.slice(7))]) {
      assert.equal(fs.existsSync(p), false, `${p} is still there`);
    }
    assert.equal((await d.inspect(keep)).Id, keep);
    assert.equal(await d.dockerOk(['run', '--rm', 'busybox', 'echo', 'ok']), 'ok\n');
    await d.dockerOk(['rm', keep]);
  });
});
