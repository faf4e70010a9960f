// The log files kept for json-file and local: rotation at max-size with max-file files (gzipped
// with compress), read back across rotations by `logs`, `logs -f` and `--tail` through both CLIs
// and the API, and the shipping pump's resumption after berthd was SIGKILLed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, run, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';
import { tcpReceiver } from './log-receivers.js';

/**
 * A shell loop writing `out1..outN` to stdout and `errK` to stderr for every 7th K, in `phases`
 * bursts; after each it waits for the test's go (a file /tmp/go<phase>), so that the test can see
 * the burst rotated before the next: how often a busy host's berthd gets to rotate is not the point.
 */
function writer(n: number, phases = 1): string[] {
  const per = Math.ceil(n / phases);
  const burst = `while [ $i -lt $((p*${per})) ] && [ $i -lt ${n} ]; do i=$((i+1)); echo out$i; if [ $((i % 7)) = 0 ]; then echo err$i >&2; fi; done`;
  const wait = phases > 1 ? 'while [ ! -e /tmp/go$p ]; do sleep 0.02; done' : 'true';
  return ['sh', '-c', `i=0; p=0; while [ $p -lt ${phases} ]; do p=$((p+1)); ${burst}; ${wait}; done`];
}

/** How many rotated files (numbers) a container's log has. */
function rotatedCount(d: TestDaemon, id: string): number {
  return new Set(logFiles(d, id).flatMap((f) => /^container\.log\.(\d+)/.exec(f)?.[1] ?? [])).size;
}

/** Lets a phased writer go on once each burst was rotated (`rotatedBy(p)` files there). */
async function pace(d: TestDaemon, id: string, phases: number, rotatedBy: (p: number) => number): Promise<void> {
  for (let p = 1; p <= phases; p++) {
    await waitFor(() => rotatedCount(d, id) >= rotatedBy(p), `rotation after burst ${p}`, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${logFiles(d, id).join(' ')}`);
    });
    await d.dockerOk(['exec', id, 'touch', `/tmp/go${p}`]);
  }
}

const expected = (n: number, from = 1): { out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  for (let i = from; i <= n; i++) {
    out.push(`out${i}`);
    if (i % 7 === 0) err.push(`err${i}`);
  }
  return { out, err };
};

/** The frames of a multiplexed (non-tty) logs body, as [stream, text] in the order sent. */
function frames(raw: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let i = 0; i + 8 <= raw.length; ) {
    const len = raw.readUInt32BE(i + 4);
    out.push([raw[i], raw.subarray(i + 8, i + 8 + len).toString()]);
    i += 8 + len;
  }
  return out;
}

function logFiles(d: TestDaemon, id: string): string[] {
  return fs
    .readdirSync(path.join(d.dataRoot, 'containers', id))
    .filter((f) => f.startsWith('container.log'))
    .sort();
}

describe('log files: rotation and reading across it', () => {
  let d: TestDaemon;

  before(async () => {
    d = await startDaemon();
  });

  after(async () => {
    await stopAndCheckClean(d);
  });

  test('json-file rotates at max-size into gzipped files; logs, logs -f and --tail read across them (repeated)', async () => {
    const n = 6000;
    const want = expected(n);
    for (let round = 0; round < 3; round++) {
      const id = (await d.dockerOk(['run', '-d', '--log-opt', 'max-size=16k', '--log-opt', 'max-file=60', '--log-opt', 'compress=true', 'busybox', ...writer(n, 6)])).trim();
      // Followers started while the container writes: they cross every rotation as it happens.
      const followDocker = d.docker(['logs', '-f', id]);
      const followBerth = d.berth(['logs', '-f', id]);
      // Each burst of 1000 lines is over 50 KB: rotated at least once.
      await pace(d, id, 6, (p) => p);
      assert.equal((await d.dockerOk(['wait', id])).trim(), '0');
      for (const [who, r] of [
        ['docker logs', await d.docker(['logs', id])],
        ['berth logs', await d.berth(['logs', id])],
        ['docker logs -f', await followDocker],
        ['berth logs -f', await followBerth],
      ] as const) {
        assert.equal(r.code, 0, `${who}: ${r.stderr.slice(0, 200)}`);
        assert.deepEqual(lines(r.stdout), want.out, `${who}: stdout, round ${round}`);
        assert.deepEqual(lines(r.stderr), want.err, `${who}: stderr, round ${round}`);
      }
      // Every rotated file compressed (the last one in the background), numbered from 1 up.
      await waitFor(() => logFiles(d, id).every((f) => f === 'container.log' || /\.gz$/.test(f)), 'rotated files gzipped');
      const rotated = logFiles(d, id).filter((f) => f !== 'container.log');
      assert.ok(rotated.length >= 6, `rotated: ${rotated.join(' ')}`);
      assert.deepEqual(rotated, rotated.map((_, i) => `container.log.${i + 1}.gz`).sort());
      // The API's tail and since are the end of the whole stream, in its order.
      const all = frames((await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1&timestamps=1`)).raw);
      assert.equal(all.length, want.out.length + want.err.length);
      const tail = frames((await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1&timestamps=1&tail=1500`)).raw);
      assert.deepEqual(tail, all.slice(-1500));
      const since = all[all.length - 1000][1].split(' ')[0];
      const fromSince = frames((await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1&timestamps=1&since=${(Date.parse(since) / 1000).toFixed(9)}`)).raw);
      assert.ok(fromSince.length >= 1000 && fromSince.length < all.length, `since: ${fromSince.length}`);
      assert.deepEqual(fromSince, all.slice(-fromSince.length));
      await d.dockerOk(['rm', id]);
    }
  });

  test('max-file bounds what is kept: the oldest files go, logs is the rest in order', async () => {
    const n = 4000;
    const id = (await d.dockerOk(['run', '-d', '--log-opt', 'max-size=8k', '--log-opt', 'max-file=3', 'busybox', ...writer(n, 4)])).trim();
    await pace(d, id, 4, (p) => Math.min(p, 2));
    await d.dockerOk(['wait', id]);
    const out = lines(await d.dockerOk(['logs', id]));
    const first = Number(out[0].slice(3));
    assert.ok(first > 1, 'the oldest lines were dropped');
    assert.deepEqual(out, expected(n, first).out);
    assert.deepEqual(logFiles(d, id).filter((f) => f !== 'container.log'), ['container.log.1', 'container.log.2']);
    await d.dockerOk(['rm', id]);
  });

  test('a rotation cut short by a berthd crash is finished or undone at the restart; logs loses nothing', async () => {
    const id = (await d.dockerOk(['run', '-d', '--log-opt', 'max-size=1m', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo line$i; sleep 0.05; done'])).trim();
    await waitFor(async () => lines(await d.dockerOk(['logs', id])).length >= 5, 'first lines');
    await d.kill();
    // As if berthd died between renaming the file away and asking conmon to reopen it: conmon
    // goes on writing the renamed file.
    const dir = path.join(d.dataRoot, 'containers', id);
    fs.renameSync(path.join(dir, 'container.log'), path.join(dir, 'container.log.rotating'));
    await d.start();
    assert.equal((await d.dockerOk(['wait', id])).trim(), '0');
    assert.deepEqual(lines(await d.dockerOk(['logs', id])), Array.from({ length: 40 }, (_, i) => `line${i + 1}`));
    assert.deepEqual(logFiles(d, id), ['container.log']);
    await d.dockerOk(['rm', id]);
  });

  test("local: Docker's defaults (20 MB, 5 files, compressed) and its start-time refusal", async () => {
    // 21 MB of output: one rotation at the default size, compressed by default.
    const id = (await d.dockerOk(['run', '-d', '--log-driver', 'local', 'busybox', 'sh', '-c', "head -c 21000000 /dev/zero | tr '\\0' x | fold -w 1000; echo; echo done"])).trim();
    await d.dockerOk(['wait', id]);
    await waitFor(() => logFiles(d, id).includes('container.log.1.gz'), 'local rotated at 20 MB and gzipped', 20_000);
    const tail = await d.dockerOk(['logs', '--tail', '2', id]);
    assert.equal(tail, `${'x'.repeat(1000)}\ndone\n`);
    const count = (await run('sh', ['-c', `docker -H ${d.host} logs ${id} | wc -l`])).stdout.trim();
    assert.equal(Number(count), 21_001);
    await d.dockerOk(['rm', id]);
    // max-file 5 by default, 4 rotated files at most.
    const small = (await d.dockerOk(['run', '-d', '--log-driver', 'local', '--log-opt', 'max-size=4k', 'busybox', ...writer(1200, 6)])).trim();
    await pace(d, small, 6, (p) => Math.min(p, 4));
    await d.dockerOk(['wait', small]);
    const rotated = (): string => logFiles(d, small).filter((f) => f !== 'container.log').join(' ');
    await waitFor(() => rotated() === 'container.log.1.gz container.log.2.gz container.log.3.gz container.log.4.gz', 'local keeps 5 files').catch((e: Error) => {
      throw new Error(`${e.message}: ${rotated()}`);
    });
    await d.dockerOk(['rm', small]);
    const bad = (await d.dockerOk(['create', '--log-driver', 'local', '--log-opt', 'max-file=1', 'busybox', 'true'])).trim();
    const r = await d.docker(['start', bad]);
    assert.match(r.stderr, /failed to initialize logging driver: compression cannot be enabled when max file count is 1/);
    assert.equal((await d.inspect(bad)).State.Status, 'created');
    await d.dockerOk(['rm', bad]);
  });

  test('after berthd is SIGKILLed, the syslog pump ships what was written meanwhile, each line once (repeated)', async () => {
    const tcp = await tcpReceiver();
    try {
      for (let round = 0; round < 3; round++) {
        const n = 60;
        const tag = `resume${round}`;
        const got = (): string[] => tcp.got.filter((m) => m.includes(` ${tag} `)).map((m) => m.slice(m.indexOf(' - ') + 3));
        const id = (
          await d.dockerOk([
            'run', '-d', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${tcp.port}`, '--log-opt', 'syslog-format=rfc5424', '--log-opt', `tag=${tag}`,
            'busybox', 'sh', '-c', `i=0; while [ $i -lt ${n} ]; do i=$((i+1)); echo line$i; sleep 0.05; done`,
          ])
        ).trim();
        await waitFor(() => got().length >= 5 + round * 5, 'lines shipped before the crash');
        await d.kill();
        // The container goes on writing under its conmon while berthd is down.
        const spool = path.join(d.dataRoot, 'containers', id, 'container.log');
        const atKill = got().length;
        await waitFor(() => fs.readFileSync(spool, 'utf8').split('\n').length > atKill + 10, 'lines written while berthd is down');
        await d.start();
        assert.equal((await d.dockerOk(['wait', id])).trim(), '0');
        await waitFor(() => got().length >= n, `all ${n} lines at the receiver`, 15_000).catch((e: Error) => {
          throw new Error(`${e.message}: ${got().join(" ")}`);
        });
        assert.deepEqual(got(), Array.from({ length: n }, (_, i) => `line${i + 1}`), `round ${round}`);
        await d.dockerOk(['rm', id]);
      }
    } finally {
      tcp.close();
    }
  });
});
