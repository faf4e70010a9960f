// berthd SIGKILLed again and again while containers run and clients create, start, commit, pull
// and remove: no container lost, no log line lost, no image or layer corrupt, no monitor, mount or
// namespace left of work the kills cut short, and every request answered (never a 5xx) or refused
// by a closed connection. The kill moments vary from run to run; the assertions do not.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, mountsUnder, pidsMentioning, sleep, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';
import { haveRegistry, startRegistry, type TestRegistry } from './registry/registry.js';

const KILLS = 20;
const COUNTERS = 50;
/** Each counter prints 0, 1, 2, … one line a second: a gap in its log is a lost line. */
const COUNTER = 'i=0; while :; do echo $i; i=$((i+1)); sleep 1; done';
const IMAGES = 3;
/** A request that takes longer than this is a hang, not an answer. */
const REQUEST_TIMEOUT_MS = 90_000;

interface Answer {
  status: number;
  text: string;
}

/** Connection-level outcomes of a daemon being killed or not yet listening: a clean refusal. */
const REFUSALS = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE']);

class Clients {
  readonly failures: string[] = [];
  answered = 0;
  refused = 0;
  constructor(private readonly d: TestDaemon) {}

  /** One request; undefined when refused (daemon down or killed mid-request), a failure on a 5xx or a hang. */
  request(method: string, url: string, body?: unknown): Promise<Answer | undefined> {
    return new Promise((resolve) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string> = payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {};
      const req = http.request({ socketPath: this.d.sock, method, path: url, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => undefined);
        res.on('close', () => {
          clearTimeout(timer);
          if (!res.complete) {
            this.refused++;
            resolve(undefined);
            return;
          }
          const a = { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() };
          this.answered++;
          if (a.status >= 500) this.failures.push(`${method} ${url}: ${a.status} ${a.text}`);
          resolve(a);
        });
      });
      const timer = setTimeout(() => {
        this.failures.push(`${method} ${url}: no answer in ${REQUEST_TIMEOUT_MS} ms`);
        req.destroy();
      }, REQUEST_TIMEOUT_MS);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code && REFUSALS.has(err.code)) this.refused++;
        else if (err.message === 'socket hang up') this.refused++;
        else if (!this.failures.some((f) => f.includes('no answer'))) this.failures.push(`${method} ${url}: ${err.message}`);
        resolve(undefined);
      });
      req.end(payload);
    });
  }
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('berthd killed 20 times under load', { skip: haveRegistry() ? false : 'docker-registry is not installed' }, () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  const counters: string[] = [];
  const images: string[] = [];

  before(async () => {
    reg = await startRegistry();
    d = await startDaemon();
    // Images only the registry has (after their local copies are removed): pulls that unpack.
    for (let i = 0; i < IMAGES; i++) {
      const ref = `${reg.host}/crash/img${i}:v1`;
      const noise = Buffer.alloc(512 * 1024, i + 1);
      const tar = busyboxTar([{ name: `marker${i}`, content: Buffer.concat([Buffer.from(`image ${i}\n`), noise]) }]);
      const r = await d.api('POST', `/images/create?fromSrc=-&repo=${encodeURIComponent(`${reg.host}/crash/img${i}`)}&tag=v1`, tar);
      assert.equal(r.status, 200, r.text);
      await d.dockerOk(['push', ref]);
      await d.dockerOk(['rmi', ref]);
      images.push(ref);
    }
    for (let i = 0; i < COUNTERS; i++) {
      counters.push(await d.create({ Cmd: ['sh', '-c', COUNTER], HostConfig: { NetworkMode: i % 5 === 0 ? 'bridge' : 'none' } }, `counter${i}`));
    }
    for (const id of counters) assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  });
  after(async () => {
    await stopAndCheckClean(d);
    await reg?.stop();
  });

  test('nothing lost, nothing corrupt, nothing left behind', { timeout: 600_000 }, async () => {
    const clients = new Clients(d);
    /** Worker containers whose create was answered 201 and whose removal was refused with a 409. */
    const live = new Map<string, string>();
    const lost: string[] = [];
    /** Images committed (answered 201) and not removed since. */
    const committed = new Set<string>();
    let stop = false;

    // create → start → commit → rm -f, by name (a create cut short may still have made it).
    const lifecycle = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}-${i}`;
        const created = await clients.request('POST', `/containers/create?name=${name}`, {
          Image: 'busybox',
          Cmd: ['sh', '-c', `echo ${name} > /made-by; sleep 600`],
          HostConfig: { NetworkMode: i % 2 ? 'bridge' : 'none' },
        });
        if (created?.status === 201) live.set(name, JSON.parse(created.text).Id);
        await clients.request('POST', `/containers/${name}/start`);
        const commit = await clients.request('POST', `/commit?container=${name}&repo=crash-commit&tag=${name}`);
        if (commit?.status === 201) committed.add(`crash-commit:${name}`);
        const rm = await clients.request('DELETE', `/containers/${name}?force=1`);
        // A 404 for a container whose create was answered 201 means it was lost; a removal cut
        // short may or may not have happened.
        if (rm?.status === 404 && created?.status === 201) lost.push(name);
        if (rm?.status !== 409) live.delete(name);
        if (!created) await sleep(50); // the daemon is down: do not spin
      }
    };
    // rmi → pull, round the images.
    const puller = async (): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const ref = images[i % images.length]!;
        await clients.request('DELETE', `/images/${encodeURIComponent(ref)}?force=1`);
        const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
        const pull = await clients.request('POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=${tag}`);
        if (pull?.status === 200 && pull.text.includes('errorDetail')) clients.failures.push(`pull ${ref}: ${pull.text}`);
        if (!pull) await sleep(50);
      }
    };
    const workers = [lifecycle(0), lifecycle(1), puller()];

    for (let k = 0; k < KILLS; k++) {
      // Kill at a different point of the workers' loops each time.
      await sleep(400 + ((k * 337) % 1100));
      await d.kill();
      await d.start();
    }
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(clients.failures, [], 'every request answered without a 5xx, or refused');
    assert.ok(clients.answered > KILLS * 5, `only ${clients.answered} requests answered`);

    // After the last restart: every monitor, rootfs mount and namespace belongs to a running container.
    const all = (await d.api('GET', '/containers/json?all=1')).body as { Id: string; Names: string[]; State: string }[];
    const running = new Map<string, any>();
    for (const c of all.filter((c) => c.State === 'running' || c.State === 'paused')) running.set(c.Id, await d.inspect(c.Id));
    const monitors = new Set([...running.values()].map((c) => c.Id as string));
    for (const pid of pidsMentioning(d.execRoot, 'conmon')) {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const id = cmd[cmd.indexOf('-c') + 1];
      assert.ok(id && monitors.has(id), `conmon ${pid} (${id}) monitors no running container`);
    }
    const merged = new Set([...running.values()].map((c) => c.GraphDriver.Data.MergedDir as string));
    for (const mp of mountsUnder(d.dataRoot)) assert.ok(merged.has(mp), `stale mount ${mp}`);
    const sandboxes = new Set([...running.values()].map((c) => path.basename(c.NetworkSettings.SandboxKey ?? '')));
    for (const ns of fs.readdirSync(path.join(d.execRoot, 'netns'))) {
      assert.ok(ns.startsWith('keeper-') || sandboxes.has(ns), `stale network namespace ${ns}`);
    }

    // No container lost: every counter runs, every worker container answered 201 and not removed exists.
    for (const id of counters) assert.equal(running.has(id), true, `counter ${id} is not running`);
    assert.deepEqual(lost, [], 'containers answered 201 and then unknown');
    const names = new Set(all.map((c) => c.Names[0]!.slice(1)));
    for (const name of live.keys()) assert.ok(names.has(name), `container ${name} was lost`);
    for (const name of names) assert.ok(/^(counter\d+|w\d+-\d+)$/.test(name), `unexpected container ${name}`);

    // No log line lost: each counter's log counts up without a gap.
    for (const id of counters) {
      const out = (await d.dockerOk(['logs', id])).trim().split('\n').map(Number);
      assert.ok(out.length >= 10, `counter ${id} logged only ${out.length} lines`);
      out.forEach((n, i) => assert.equal(n, i, `counter ${id}: line ${i} is ${n}`));
    }

    // No blob corrupt: every blob's bytes hash to its name; every image's layers are there.
    const blobs = path.join(d.dataRoot, 'content', 'blobs', 'sha256');
    for (const hex of fs.readdirSync(blobs)) assert.equal(sha256File(path.join(blobs, hex)), hex, `blob ${hex} is corrupt`);
    const list = (await d.api('GET', '/images/json?all=1')).body as { Id: string; RepoTags: string[] }[];
    for (const img of list) {
      const info = (await d.api('GET', `/images/${img.Id}/json`)).body;
      const dirs = [info.GraphDriver.Data.UpperDir, ...(info.GraphDriver.Data.LowerDir ?? '').split(':')].filter(Boolean) as string[];
      for (const dir of dirs) assert.ok(fs.existsSync(dir), `${img.RepoTags} lacks its layer ${dir}`);
    }
    for (const ref of committed) assert.ok(list.some((i) => i.RepoTags.includes(`${ref}`)), `committed image ${ref} was lost`);
    // No start-up found an image without its layer (it would drop it and say so: crash-points.test.ts).
    assert.doesNotMatch(d.log(), /does not exist; removing the image/, 'a start-up found an image record naming a removed layer');
    // The images a pull or a commit made under fire run: their files are whole.
    const pulled = images.find((ref) => list.some((i) => i.RepoTags.includes(ref)));
    if (pulled) assert.match(await d.dockerOk(['run', '--rm', pulled, 'sh', '-c', 'head -1 /marker*']), /^image \d\n$/);
    const one = [...committed][0];
    if (one) assert.equal(await d.dockerOk(['run', '--rm', one, 'sh', '-c', 'test -x /bin/busybox && echo whole']), 'whole\n');
  });
});
