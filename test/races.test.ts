// Timing-sensitive paths, run many times: a race that loses data one run in four hides in a single
// run. Each loop collects the iterations that went wrong (with what came back) and fails with the
// list, so a failure names its iteration. Driven through the real docker CLI and through berth.
//   - exec -i, attach and start -a -i with piped stdin: small, 1 MiB and empty input
//   - kill (SIGKILL) then inspect: the exit is recorded when kill answers (dockerd does the same)
//   - stop, restart and rm -f racing a start: every answer is one Docker gives, the state settles
//   - concurrent execs on one container
//   - the stdin of a hijacked exec sent in pieces (body after the headers, stdin and FIN with the request)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BERTH_BIN, demux, run, startDaemon, stopAndCheckClean, type RunResult, type TestDaemon } from './harness.js';

let d: TestDaemon;
let ctr: string;

before(async () => {
  d = await startDaemon();
  ctr = (await d.dockerOk(['run', '-d', 'busybox', 'sleep', '3600'])).trim();
});
after(() => stopAndCheckClean(d));

/** Runs `body` n times (a few at once when `parallel` > 1); fails listing every iteration that went wrong. */
async function loop(n: number, body: (i: number) => Promise<string | undefined>, parallel = 1): Promise<void> {
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const why = await body(i).catch((e: Error) => `threw ${e.message}`);
      if (why) failures.push(`iteration ${i}: ${why}`);
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  if (Date.now() - t0 > 20_000) console.log(`# ${n} iterations took ${Date.now() - t0} ms`);
  assert.deepEqual(failures, [], `${failures.length} of ${n} iterations failed`);
}

const show = (r: RunResult): string => `exit ${r.code}, stdout ${JSON.stringify(r.stdout.slice(0, 80))} (${r.stdout.length} bytes), stderr ${JSON.stringify(r.stderr.slice(0, 300))}`;
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
/** `input` echoed back whole, and the command exited 0. */
const echoed = (r: RunResult, input: string): string | undefined => (r.code === 0 && r.stdout.length === input.length && sha(r.stdout) === sha(input) ? undefined : show(r));

const MIB = randomBytes(512 * 1024).toString('hex'); // 1 MiB of ASCII
const INPUTS: [string, string, number][] = [
  ['small', 'hello\n', 50],
  ['1 MiB', MIB, 5],
  ['empty', '', 20],
];

describe('piped stdin reaches the process whole', () => {
  for (const [label, input, n] of INPUTS) {
    test(`docker exec -i (${label}), ${n} times`, () => loop(n, async () => echoed(await d.docker(['exec', '-i', ctr, 'cat'], { input }), input)));
  }
  test('docker exec -i sh -c "read x; echo $x", 30 times', () =>
    loop(30, async () => echoed(await d.docker(['exec', '-i', ctr, 'sh', '-c', 'read x; echo $x'], { input: 'line\n' }), 'line\n')));
  for (const [label, input, n] of INPUTS) {
    test(`berth exec -i (${label}), ${Math.ceil(n / 3)} times`, () => loop(Math.ceil(n / 3), async () => echoed(await d.berth(['exec', '-i', ctr, 'cat'], { input }), input)));
  }

  // A reader slower than the output: the CLI must not exit with output still queued for the pipe
  // (berth exited with all but the first 64 KiB unwritten, every time, until it waited for stdout).
  for (const cli of ['docker', 'berth'] as const) {
    test(`${cli} exec -i into a slow reader keeps every byte, 5 times`, () =>
      loop(5, async () => {
        const bin = cli === 'docker' ? `docker -H ${d.host}` : `${JSON.stringify(process.execPath)} ${JSON.stringify(BERTH_BIN)} -H ${d.host}`;
        const r = await run('sh', ['-c', `${bin} exec -i ${ctr} cat | (sleep 0.3; wc -c)`], { input: MIB });
        return r.code === 0 && r.stdout.trim() === String(MIB.length) ? undefined : show(r);
      }));
  }

  /** A fresh `cat` container with stdin open once (as `docker create -i`), for start -a -i and attach. */
  const createCat = async (cli: 'docker' | 'berth'): Promise<string> => (cli === 'docker' ? await d.dockerOk(['create', '-i', 'busybox', 'cat']) : await d.berthOk(['create', '-i', 'busybox', 'cat'])).trim();
  const rm = (id: string): Promise<unknown> => d.api('DELETE', `/containers/${id}?force=1`);

  for (const cli of ['docker', 'berth'] as const) {
    const runCli = (args: string[], opts: { input: string }): Promise<RunResult> => (cli === 'docker' ? d.docker(args, opts) : d.berth(args, opts));
    for (const [label, input, n] of INPUTS) {
      const times = Math.max(3, Math.ceil(n / (cli === 'docker' ? 4 : 8)));
      test(`${cli} start -a -i (${label}), ${times} times`, () =>
        loop(times, async () => {
          const id = await createCat(cli);
          try {
            return echoed(await runCli(['start', '-a', '-i', id], { input }), input);
          } finally {
            await rm(id);
          }
        }));
      test(`${cli} attach (${label}), ${times} times`, () =>
        loop(times, async () => {
          const id = await createCat(cli);
          try {
            await d.dockerOk(['start', id]);
            const r = await runCli(['attach', id], { input });
            if (r.code !== 0) return show(r);
            return echoed(r, input);
          } finally {
            await rm(id);
          }
        }));
    }
  }
});

describe('hijacked exec stdin sent in pieces', () => {
  /** POST /exec/{id}/start with Upgrade over a raw socket; `send` decides when each piece goes out. */
  function rawExecStart(execId: string, plan: 'body-later' | 'stdin-with-request'): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(d.sock);
      const body = JSON.stringify({ Detach: false, Tty: false });
      const head = `POST /v1.47/exec/${execId}/start HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n`;
      let got = Buffer.alloc(0);
      let upgraded = false;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no end of stream after 10 s; got ${JSON.stringify(got.toString())}`));
      }, 10_000);
      s.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (!upgraded && got.includes('\r\n\r\n')) {
          upgraded = true;
          got = got.subarray(got.indexOf('\r\n\r\n') + 4);
          if (plan === 'body-later') s.end('hello\n');
        }
      });
      s.on('end', () => {
        clearTimeout(timer);
        resolve(got);
      });
      s.on('error', reject);
      if (plan === 'body-later') {
        s.write(head);
        setTimeout(() => s.write(body), 30);
      } else {
        s.end(head + body + 'hello\n');
      }
    });
  }

  for (const plan of ['body-later', 'stdin-with-request'] as const) {
    test(`${plan}: the process reads stdin and EOF, 20 times`, () =>
      loop(20, async () => {
        const ex = await d.api('POST', `/containers/${ctr}/exec`, { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
        const out = demux(await rawExecStart(ex.body.Id, plan));
        const code = (await d.api('GET', `/exec/${ex.body.Id}/json`)).body.ExitCode;
        return out.stdout === 'hello\n' && code === 0 ? undefined : `stdout ${JSON.stringify(out.stdout)}, exit ${code}`;
      }));
  }
});

describe('kill, stop, restart and rm -f leave a settled state', () => {
  const runSleeper = async (): Promise<string> => {
    const id = await d.create({ Cmd: ['sleep', '3600'] });
    const r = await d.api('POST', `/containers/${id}/start`);
    assert.equal(r.status, 204, r.text);
    return id;
  };
  const exitedWith = (s: any, code: number): string | undefined =>
    !s.Running && s.Status === 'exited' && s.ExitCode === code && !s.FinishedAt.startsWith('0001') && s.Pid === 0 ? undefined : `state ${JSON.stringify(s)}`;

  test('kill (SIGKILL) then inspect: exited 137 with FinishedAt, 50 times (API and docker CLI)', () =>
    loop(50, async (i) => {
      const id = await runSleeper();
      try {
        if (i % 2) {
          const r = await d.docker(['kill', id]);
          if (r.code !== 0) return `docker kill: ${show(r)}`;
        } else {
          const r = await d.api('POST', `/containers/${id}/kill`);
          if (r.status !== 204) return `kill answered ${r.status} ${r.text}`;
        }
        return exitedWith((await d.inspect(id)).State, 137);
      } finally {
        await d.api('DELETE', `/containers/${id}?force=1`);
      }
    }));

  test('kill with another signal answers at once; the exit follows', async () => {
    // pid 1 ignores a signal it has no handler for: trap it
    const id = await d.create({ Cmd: ['sh', '-c', 'trap "exit 7" TERM; echo trapped; while true; do sleep 0.05; done'] });
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    await d.waitForOutput(id, 'trapped');
    const r = await d.api('POST', `/containers/${id}/kill?signal=SIGTERM`);
    assert.equal(r.status, 204, r.text);
    const w = await d.api('POST', `/containers/${id}/wait`);
    assert.equal(w.body.StatusCode, 7);
    await d.api('DELETE', `/containers/${id}`);
  });

  test('stop -t 0 and restart -t 0 then inspect, 12 times each', async () => {
    await loop(12, async () => {
      const id = await runSleeper();
      try {
        const r = await d.api('POST', `/containers/${id}/stop?t=0`);
        if (r.status !== 204) return `stop answered ${r.status} ${r.text}`;
        return exitedWith((await d.inspect(id)).State, 137);
      } finally {
        await d.api('DELETE', `/containers/${id}?force=1`);
      }
    });
    await loop(12, async () => {
      const id = await runSleeper();
      try {
        const pid = (await d.inspect(id)).State.Pid;
        const r = await d.api('POST', `/containers/${id}/restart?t=0`);
        if (r.status !== 204) return `restart answered ${r.status} ${r.text}`;
        const s = (await d.inspect(id)).State;
        return s.Running && s.Pid > 0 && s.Pid !== pid && s.ExitCode === 0 ? undefined : `state after restart ${JSON.stringify(s)}`;
      } finally {
        await d.api('DELETE', `/containers/${id}?force=1`);
      }
    });
  });

  test('rm -f then inspect: gone, 12 times', () =>
    loop(12, async () => {
      const id = await runSleeper();
      const r = await d.api('DELETE', `/containers/${id}?force=1`);
      if (r.status !== 204) return `rm -f answered ${r.status} ${r.text}`;
      const i = await d.api('GET', `/containers/${id}/json`);
      return i.status === 404 ? undefined : `inspect after rm -f: ${i.status}`;
    }));

  /** A start racing `op`: both answers must be ones Docker gives, then `settled` checks the state. */
  const race = (op: string, okStatuses: number[], settled: (id: string) => Promise<string | undefined>) =>
    test(`${op} racing a start, 12 times`, () =>
      loop(12, async () => {
        const id = await d.create({ Cmd: ['sleep', '3600'] });
        try {
          const [start, other] = await Promise.all([
            d.api('POST', `/containers/${id}/start`),
            d.api(op === 'rm -f' ? 'DELETE' : 'POST', op === 'rm -f' ? `/containers/${id}?force=1` : `/containers/${id}/${op}?t=0`),
          ]);
          // start: done, or already started by a restart, or the container was removed first
          if (![204, 304, 404, 409].includes(start.status)) return `start answered ${start.status} ${start.text}`;
          if (!okStatuses.includes(other.status)) return `${op} answered ${other.status} ${other.text}`;
          return await settled(id);
        } finally {
          await d.api('DELETE', `/containers/${id}?force=1`);
        }
      }));

  race('stop', [204, 304], async (id) => {
    const s = (await d.inspect(id)).State;
    // either order is fine, but the state must be one of the two ends, with a live pid when running
    if (s.Running) return s.Pid > 0 ? undefined : `running without a pid: ${JSON.stringify(s)}`;
    return ['exited', 'created'].includes(s.Status) && s.Pid === 0 ? undefined : `state ${JSON.stringify(s)}`;
  });
  race('restart', [204], async (id) => {
    const s = (await d.inspect(id)).State;
    return s.Running && s.Pid > 0 ? undefined : `not running after restart: ${JSON.stringify(s)}`;
  });
  race('rm -f', [204], async (id) => {
    const i = await d.api('GET', `/containers/${id}/json`);
    return i.status === 404 ? undefined : `still there after rm -f: ${i.status} ${JSON.stringify(i.body?.State)}`;
  });
});

describe('concurrent execs on one container', () => {
  test('8 at once, 3 rounds, through the docker CLI: each gets its own output and exit code', () =>
    loop(
      24,
      async (i) => {
        const r = await d.docker(['exec', ctr, 'sh', '-c', `echo out-${i}; echo err-${i} >&2; exit ${i % 7}`]);
        return r.stdout === `out-${i}\n` && r.stderr === `err-${i}\n` && r.code === i % 7 ? undefined : show(r);
      },
      8,
    ));
  test('8 at once through the API with piped stdin (exec -i)', () =>
    loop(
      24,
      async (i) => {
        const input = `in-${i}-${'x'.repeat(i * 1000)}\n`;
        return echoed(await d.docker(['exec', '-i', ctr, 'cat'], { input }), input);
      },
      8,
    ));
});
