// The Engine API spoken directly over the daemon's socket: versions, lifecycle, Docker's error
// statuses and bodies, wait conditions, events, list filters, images (import/tag/rmi/prune), df.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, demux, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

let d: TestDaemon;
const q = (o: unknown): string => encodeURIComponent(JSON.stringify(o));

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

/** Creates and starts `cmd`, waits for its exit; returns the id. */
async function runToExit(cmd: string[], extra: Record<string, unknown> = {}, name?: string): Promise<string> {
  const id = await d.create({ Cmd: cmd, ...extra }, name);
  const w = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.text);
  assert.equal((await w).status, 200);
  return id;
}

async function importImage(repoTag: string | undefined, extra: { name: string; content: string }[] = [], params = ''): Promise<string> {
  const [repo, tag] = repoTag ? repoTag.split(':') : [undefined, undefined];
  const qs = `fromSrc=-${repo ? `&repo=${repo}` : ''}${tag ? `&tag=${tag}` : ''}${params}`;
  const r = await d.api('POST', `/images/create?${qs}`, busyboxTar(extra.map((e) => ({ name: e.name, content: e.content }))));
  assert.equal(r.status, 200, r.text);
  const last = JSON.parse(r.text.trim().split('\n').pop()!);
  assert.equal(last.error, undefined, r.text);
  assert.match(last.status, /^sha256:[0-9a-f]{64}$/);
  return last.status;
}

function snapshotDirs(): Set<string> {
  return new Set(fs.readdirSync(path.join(d.dataRoot, 'snapshots')));
}

describe('system', () => {
  test('GET and HEAD /_ping carry API-Version', async () => {
    const g = await d.api('GET', '/_ping');
    assert.equal(g.status, 200);
    assert.equal(g.text, 'OK');
    assert.equal(g.headers['api-version'], '1.47');
    const h = await d.api('HEAD', '/_ping');
    assert.equal(h.status, 200);
    assert.equal(h.text, '');
    assert.equal(h.headers['api-version'], '1.47');
  });

  test('/version', async () => {
    const r = await d.api('GET', '/version');
    assert.equal(r.status, 200);
    assert.equal(r.body.ApiVersion, '1.47');
    assert.equal(r.body.MinAPIVersion, '1.24');
    assert.equal(r.body.Os, 'linux');
    assert.equal(typeof r.body.Version, 'string');
  });

  test('version prefixes: 1.41..1.47 work, 1.99 and 1.12 are 400', async () => {
    for (let minor = 41; minor <= 47; minor++) {
      const r = await d.api('GET', `/v1.${minor}/version`);
      assert.equal(r.status, 200, `v1.${minor}: ${r.text}`);
      assert.equal(r.body.ApiVersion, '1.47');
    }
    const tooNew = await d.api('GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match(tooNew.body.message, /1\.99 is too new/);
    const tooOld = await d.api('GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(tooOld.body.message, /1\.12 is too old/);
  });

  test('/info counts containers', async () => {
    const before = (await d.api('GET', '/info')).body;
    const id = await d.create({ Cmd: ['true'] });
    const r = await d.api('GET', '/info');
    assert.equal(r.status, 200);
    assert.equal(r.body.OSType, 'linux');
    assert.equal(r.body.Driver, 'overlay2');
    assert.equal(r.body.Containers, before.Containers + 1);
    assert.equal(r.body.ContainersStopped, before.ContainersStopped + 1);
    assert.ok(r.body.Images >= 1);
    assert.equal(r.body.DockerRootDir, d.dataRoot);
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
  });

  test('/system/df', async () => {
    const id = await d.create({ Cmd: ['true'] });
    const r = await d.api('GET', '/system/df');
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.body.Images));
    const bb = r.body.Images.find((i: any) => (i.RepoTags ?? []).includes('busybox:latest'));
    assert.ok(bb, JSON.stringify(r.body.Images));
    assert.ok(bb.Size > 500_000, `busybox size ${bb.Size}`);
    assert.ok(bb.Containers >= 1);
    assert.ok(r.body.Containers.some((c: any) => c.Id === id));
    assert.ok(r.body.LayersSize >= bb.Size);
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
  });
});

describe('containers', () => {
  test('create, start, wait, logs, inspect, rm', async () => {
    const c = await d.api('POST', '/containers/create?name=life', { Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], Labels: { a: 'b' } });
    assert.equal(c.status, 201, c.text);
    assert.match(c.body.Id, /^[0-9a-f]{64}$/);
    assert.deepEqual(c.body.Warnings, []);
    const id = c.body.Id;
    let i = await d.inspect(id);
    assert.equal(i.State.Status, 'created');
    assert.equal(i.Name, '/life');
    const w = d.api('POST', `/containers/${id}/wait`);
    // not-running on a created container returns at once with 0 - start after to take next-exit.
    assert.deepEqual((await w).body, { StatusCode: 0, Error: null });
    const w2 = d.api('POST', `/containers/life/wait?condition=next-exit`);
    assert.equal((await d.api('POST', `/containers/life/start`)).status, 204);
    const wr = await w2;
    assert.equal(wr.status, 200);
    assert.equal(wr.body.StatusCode, 3);
    const logs = await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
    assert.equal(logs.status, 200);
    assert.deepEqual(demux(logs.raw), { stdout: 'out\n', stderr: 'err\n' });
    const onlyErr = await d.api('GET', `/containers/${id}/logs?stderr=1`);
    assert.deepEqual(demux(onlyErr.raw), { stdout: '', stderr: 'err\n' });
    i = await d.inspect(id);
    assert.equal(i.State.Status, 'exited');
    assert.equal(i.State.Running, false);
    assert.equal(i.State.ExitCode, 3);
    assert.equal(i.State.Pid, 0);
    assert.notEqual(i.State.FinishedAt, '0001-01-01T00:00:00Z');
    assert.deepEqual(i.Config.Labels, { a: 'b' });
    assert.deepEqual(i.Config.Cmd, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
    const gone = await d.api('GET', `/containers/${id}/json`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.message, `No such container: ${id}`);
  });

  test('wait condition=removed returns after rm', async () => {
    const id = await runToExit(['sh', '-c', 'exit 6']);
    let done = false;
    const w = d.api('POST', `/containers/${id}/wait?condition=removed`).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(done, false, 'wait removed returned before removal');
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
    const r = await w;
    assert.equal(r.body.StatusCode, 6);
  });

  test('wait condition=not-running on a running container waits for its exit', async () => {
    const id = await d.create({ Cmd: ['sh', '-c', 'read x; exit 9'], OpenStdin: true });
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const w = d.api('POST', `/containers/${id}/wait?condition=not-running`);
    assert.equal((await d.api('POST', `/containers/${id}/kill?signal=TERM`)).status, 204);
    // TERM to pid 1 without a handler is ignored; KILL it.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await d.api('POST', `/containers/${id}/kill`)).status, 204);
    assert.equal((await w).body.StatusCode, 137);
    const bad = await d.api('POST', `/containers/${id}/wait?condition=bogus`);
    assert.equal(bad.status, 400);
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
  });

  test('concurrent starts and stops on one container stay consistent', async () => {
    const id = await d.create({ Cmd: ['sleep', '1000'], StopTimeout: 1 });
    const starts = await Promise.all(Array.from({ length: 6 }, () => d.api('POST', `/containers/${id}/start`)));
    assert.deepEqual(starts.map((s) => s.status).sort(), [204, 304, 304, 304, 304, 304]);
    let i = await d.inspect(id);
    assert.equal(i.State.Running, true);
    assert.ok(i.State.Pid > 0);
    const stops = await Promise.all(Array.from({ length: 6 }, () => d.api('POST', `/containers/${id}/stop?t=1`)));
    for (const s of stops) assert.ok(s.status === 204 || s.status === 304, `stop status ${s.status} ${s.text}`);
    assert.ok(stops.some((s) => s.status === 204));
    i = await d.inspect(id);
    assert.equal(i.State.Status, 'exited');
    assert.equal(i.State.Running, false);
    assert.equal(i.State.Pid, 0);
    // Mixed starts and stops: the end state matches what inspect and the runtime say.
    const mixed = await Promise.all([
      d.api('POST', `/containers/${id}/start`),
      d.api('POST', `/containers/${id}/stop?t=1`),
      d.api('POST', `/containers/${id}/start`),
      d.api('POST', `/containers/${id}/stop?t=1`),
    ]);
    for (const s of mixed) assert.ok([204, 304].includes(s.status), `status ${s.status} ${s.text}`);
    i = await d.inspect(id);
    if (i.State.Running) {
      assert.ok(fs.existsSync(`/proc/${i.State.Pid}`));
      assert.equal((await d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
    }
    i = await d.inspect(id);
    assert.equal(i.State.Running, false);
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
  });

  test('exec create, start, inspect exit code', async () => {
    const id = await d.create({ Cmd: ['sleep', '1000'] });
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const e = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'echo hi; exit 4'], AttachStdout: true, AttachStderr: true });
    assert.equal(e.status, 201, e.text);
    const s = await d.api('POST', `/exec/${e.body.Id}/start`, { Detach: false, Tty: false });
    assert.equal(s.status, 200);
    assert.equal(demux(s.raw).stdout, 'hi\n');
    const ei = await d.api('GET', `/exec/${e.body.Id}/json`);
    assert.equal(ei.body.ExitCode, 4);
    assert.equal(ei.body.Running, false);
    assert.equal((await d.api('DELETE', `/containers/${id}?force=1`)).status, 204);
  });
});

describe('error paths', () => {
  let stopped: string;
  let running: string;

  before(async () => {
    stopped = await runToExit(['true'], {}, 'err-stopped');
    running = await d.create({ Cmd: ['sleep', '1000'] }, 'err-running');
    assert.equal((await d.api('POST', `/containers/${running}/start`)).status, 204);
  });

  after(async () => {
    await d.api('DELETE', `/containers/${running}?force=1`);
    await d.api('DELETE', `/containers/${stopped}?force=1`);
  });

  const expectError = async (method: string, p: string, status: number, message: RegExp | string, body?: unknown): Promise<void> => {
    const r = await d.api(method, p, body);
    assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text}`);
    if (status === 304) return;
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(typeof r.body.message, 'string', r.text);
    if (typeof message === 'string') assert.equal(r.body.message, message);
    else assert.match(r.body.message, message);
  };

  // The messages are dockerd's for the same requests (differential.test.ts compares them live).
  test('unknown container is 404 "No such container: x" on every container route', async () => {
    for (const [m, p, body] of [
      ['GET', '/containers/x/json'],
      ['POST', '/containers/x/start'],
      ['POST', '/containers/x/stop'],
      ['POST', '/containers/x/restart'],
      ['POST', '/containers/x/pause'],
      ['POST', '/containers/x/unpause'],
      ['POST', '/containers/x/rename?name=y'],
      ['POST', '/containers/x/attach?stream=1&stdout=1'],
      ['GET', '/containers/x/top'],
      ['GET', '/containers/x/changes'],
      ['GET', '/containers/x/stats?stream=0'],
      ['GET', '/containers/x/export'],
      ['POST', '/containers/x/resize?h=1&w=1'],
      ['POST', '/containers/x/exec', { Cmd: ['true'] }],
      ['POST', '/containers/x/update', {}],
      ['DELETE', '/containers/x'],
      ['POST', '/containers/x/wait'],
      ['GET', '/containers/x/logs?stdout=1'],
      ['GET', '/containers/x/archive?path=/'],
    ] as [string, string, unknown?][]) {
      await expectError(m, p, 404, 'No such container: x', body);
    }
    await expectError('POST', '/containers/x/kill', 404, 'Cannot kill container: x: No such container: x');
  });

  test('bad query values are 400 with the parameter named', async () => {
    await expectError('POST', `/containers/${running}/stop?t=abc`, 400, /\bt\b.*abc|abc.*\bt\b/);
    await expectError('GET', `/containers/${running}/logs?stdout=1&since=abc`, 400, /abc/);
    await expectError('GET', '/containers/json?limit=abc', 400, /limit/);
    await expectError('GET', '/containers/json?filters=notjson', 400, /filter/);
    await expectError('GET', `/containers/json?filters=${encodeURIComponent('{"nope":["x"]}')}`, 400, "invalid filter 'nope'");
    await expectError('POST', `/containers/${running}/wait?condition=never`, 400, 'invalid condition: "never"');
  });

  test('tail=x is not an error (dockerd reads it as all lines)', async () => {
    const r = await d.api('GET', `/containers/${stopped}/logs?stdout=1&tail=x`);
    assert.equal(r.status, 200, r.text);
  });

  test('an ambiguous id prefix is 400 "Multiple IDs found with provided prefix"', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push(await d.create({ Cmd: ['true'] }));
    try {
      const all = (await d.api('GET', '/containers/json?all=1')).body.map((c: { Id: string }) => c.Id) as string[];
      const prefix = all.map((id) => id[0]!).find((c, i, a) => a.indexOf(c) !== i)!;
      await expectError('GET', `/containers/${prefix}/json`, 400, `Multiple IDs found with provided prefix: ${prefix}`);
    } finally {
      for (const id of ids) await d.api('DELETE', `/containers/${id}`);
    }
  });

  test('unknown image is 404', async () => {
    await expectError('POST', '/containers/create', 404, /No such image: nosuchimage(:latest)?/, { Image: 'nosuchimage' });
    await expectError('GET', '/images/nosuchimage/json', 404, /No such image: nosuchimage/);
    await expectError('DELETE', '/images/nosuchimage', 404, /No such image: nosuchimage/);
  });

  test('malformed JSON is 400', async () => {
    await expectError('POST', '/containers/create', 400, /./, '{"Image": "busybox",');
  });

  test('invalid name is 400, conflict is 409', async () => {
    await expectError('POST', '/containers/create?name=' + encodeURIComponent('bad name!'), 400, /Invalid container name/, { Image: 'busybox' });
    await expectError('POST', '/containers/create?name=err-running', 409, /Conflict\. The container name "\/err-running" is already in use/, { Image: 'busybox', Cmd: ['true'] });
  });

  test('start twice 304, stop stopped 304, kill stopped 409, rm running 409, unpause running 409', async () => {
    await expectError('POST', `/containers/${running}/start`, 304, '');
    await expectError('POST', `/containers/${stopped}/stop`, 304, '');
    await expectError('POST', `/containers/${stopped}/kill`, 409, /is not running/);
    await expectError('DELETE', `/containers/${running}`, 409, /container is running/);
    await expectError('POST', `/containers/${running}/unpause`, 409, /is not paused/);
    assert.equal((await d.inspect(running)).State.Running, true);
  });

  test('bad signal is 400', async () => {
    await expectError('POST', `/containers/${running}/kill?signal=SIGBOGUS`, 400, 'invalid signal: SIGBOGUS');
    assert.equal((await d.inspect(running)).State.Running, true);
  });

  test('bad references are 400', async () => {
    await expectError('POST', '/containers/create', 400, /invalid reference format: repository name (\(library\/UPPER\) )?must be lowercase/, { Image: 'UPPER' });
    await expectError('POST', '/images/busybox/tag?repo=UPPER', 400, /invalid reference format/);
    await expectError('POST', '/images/busybox/tag?repo=' + encodeURIComponent('../evil'), 400, /invalid reference format/);
    await expectError('POST', '/images/create?fromSrc=-&repo=' + encodeURIComponent('a/../b'), 400, /invalid reference format/);
  });

  test('exec in a stopped container 409, unknown exec 404', async () => {
    await expectError('POST', `/containers/${stopped}/exec`, 409, /is not running/, { Cmd: ['true'] });
    await expectError('POST', '/exec/nosuchexec/start', 404, /No such exec instance: nosuchexec/, {});
    await expectError('GET', '/exec/nosuchexec/json', 404, /No such exec instance: nosuchexec/);
  });

  test('unknown route and wrong method are both 404 "page not found", as dockerd answers (differential.test.ts)', async () => {
    for (const [method, p] of [['GET', '/nope'], ['PUT', '/containers/json'], ['DELETE', '/_ping'], ['GET', '/containers/create']]) {
      const r = await d.api(method!, p!);
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.deepEqual(r.body, { message: 'page not found' }, `${method} ${p}`);
    }
    const r = await d.api('GET', '/v9.99/version');
    assert.equal(r.status, 400);
    assert.match(r.body.message, /9\.99 is too new/);
  });
});

describe('events', () => {
  test('since/until replay create/start/die/destroy; filters narrow', async () => {
    const t0 = Date.now() / 1000;
    const id = await runToExit(['true'], { Labels: { ev: 'yes' } });
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
    const t1 = Date.now() / 1000 + 0.01;
    const since = `since=${t0.toFixed(3)}&until=${t1.toFixed(3)}`;
    const all = await d.api('GET', `/events?${since}&filters=${q({ container: [id] })}`);
    assert.equal(all.status, 200);
    const evs = all.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      evs.map((e) => e.Action),
      ['create', 'start', 'die', 'destroy'],
    );
    for (const e of evs) {
      assert.equal(e.Type, 'container');
      assert.equal(e.Actor.ID, id);
      assert.equal(e.Actor.Attributes.ev, 'yes');
      assert.ok(e.timeNano >= Math.floor(t0 * 1e9) - 1e6);
    }
    assert.equal(evs[2].Actor.Attributes.exitCode, '0');
    const die = await d.api('GET', `/events?${since}&filters=${q({ container: [id], event: ['die'] })}`);
    assert.deepEqual(
      die.text.trim().split('\n').map((l) => JSON.parse(l).Action),
      ['die'],
    );
    const byLabel = await d.api('GET', `/events?${since}&filters=${q({ label: ['ev=yes'], event: ['create'] })}`);
    assert.equal(byLabel.text.trim().split('\n').length, 1);
    const none = await d.api('GET', `/events?${since}&filters=${q({ label: ['ev=no'] })}`);
    assert.equal(none.text, '');
    const bad = await d.api('GET', `/events?filters=${q({ bogus: ['x'] })}`);
    assert.equal(bad.status, 400);
  });

  test('live stream delivers events as they happen', async () => {
    const { res, abort } = await d.stream(`/events?filters=${q({ type: ['container'], label: ['live=1'] })}`);
    assert.equal(res.statusCode, 200);
    const seen: string[] = [];
    let buf = '';
    const got = new Promise<void>((resolve) => {
      res.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          seen.push(JSON.parse(buf.slice(0, nl)).Action);
          buf = buf.slice(nl + 1);
          if (seen.includes('destroy')) resolve();
        }
      });
    });
    const id = await runToExit(['true'], { Labels: { live: '1' } });
    await d.api('DELETE', `/containers/${id}`);
    await Promise.race([got, new Promise((_r, rej) => setTimeout(() => rej(new Error(`events seen: ${seen}`)), 5000))]);
    abort();
    assert.deepEqual(seen, ['create', 'start', 'die', 'destroy']);
  });
});

describe('container list filters', () => {
  const ids: Record<string, string> = {};
  before(async () => {
    ids.a = await runToExit(['sh', '-c', 'exit 1'], { Labels: { tier: 'a' } }, 'flt-a');
    ids.b = await runToExit(['true'], { Labels: { tier: 'b' } }, 'flt-b');
    ids.r = await d.create({ Cmd: ['sleep', '1000'], Labels: { tier: 'r' } }, 'flt-run');
    await d.api('POST', `/containers/${ids.r}/start`);
    ids.c = await d.create({ Cmd: ['true'] }, 'flt-created');
  });
  after(async () => {
    for (const id of Object.values(ids)) await d.api('DELETE', `/containers/${id}?force=1`);
  });

  const names = async (qs: string): Promise<string[]> => {
    const r = await d.api('GET', `/containers/json?${qs}`);
    assert.equal(r.status, 200, r.text);
    return r.body
      .map((c: any) => c.Names[0])
      .filter((n: string) => n.startsWith('/flt-'))
      .sort();
  };

  test('default lists running only; all=1 lists everything', async () => {
    assert.deepEqual(await names(''), ['/flt-run']);
    assert.deepEqual(await names('all=1'), ['/flt-a', '/flt-b', '/flt-created', '/flt-run']);
  });
  test('status', async () => {
    assert.deepEqual(await names(`all=1&filters=${q({ status: ['exited'] })}`), ['/flt-a', '/flt-b']);
    assert.deepEqual(await names(`all=1&filters=${q({ status: ['created'] })}`), ['/flt-created']);
    assert.deepEqual(await names(`all=1&filters=${q({ status: ['running'] })}`), ['/flt-run']);
    assert.equal((await d.api('GET', `/containers/json?filters=${q({ status: ['bogus'] })}`)).status, 400);
  });
  test('name, id, label, ancestor, exited', async () => {
    assert.deepEqual(await names(`all=1&filters=${q({ name: ['flt-b'] })}`), ['/flt-b']);
    assert.deepEqual(await names(`all=1&filters=${q({ id: [ids.a.slice(0, 12)] })}`), ['/flt-a']);
    assert.deepEqual(await names(`all=1&filters=${q({ label: ['tier'] })}`), ['/flt-a', '/flt-b', '/flt-run']);
    assert.deepEqual(await names(`all=1&filters=${q({ label: ['tier=b'] })}`), ['/flt-b']);
    assert.deepEqual(await names(`all=1&filters=${q({ ancestor: ['busybox'] })}`), ['/flt-a', '/flt-b', '/flt-created', '/flt-run']);
    assert.deepEqual(await names(`all=1&filters=${q({ ancestor: ['nosuch'] })}`), []);
    assert.deepEqual(await names(`all=1&filters=${q({ exited: ['1'] })}`), ['/flt-a']);
    assert.deepEqual(await names(`all=1&filters=${q({ exited: ['0'] })}`), ['/flt-b']);
  });
  test('limit returns the newest', async () => {
    const r = await d.api('GET', '/containers/json?all=1&limit=2');
    assert.equal(r.body.length, 2);
    assert.deepEqual(
      r.body.map((c: any) => c.Names[0]),
      ['/flt-created', '/flt-run'],
    );
    const row = r.body[1];
    assert.equal(row.Id, ids.r);
    assert.equal(row.Image, 'busybox');
    assert.equal(row.State, 'running');
    assert.match(row.Status, /^Up /);
    assert.equal(row.Command, 'sleep 1000');
  });
});

describe('images', () => {
  test('import from a tar body, inspect, run', async () => {
    const id = await importImage('imp/one:v1', [{ name: 'hello.txt', content: 'imported\n' }], '&message=hi&changes=' + encodeURIComponent('CMD ["cat","/hello.txt"]') + '&changes=' + encodeURIComponent('ENV FOO=bar'));
    const i = await d.api('GET', '/images/imp/one:v1/json');
    assert.equal(i.status, 200);
    assert.equal(i.body.Id, id);
    assert.deepEqual(i.body.RepoTags, ['imp/one:v1']);
    assert.deepEqual(i.body.Config.Cmd, ['cat', '/hello.txt']);
    assert.ok(i.body.Config.Env.includes('FOO=bar'));
    assert.equal(i.body.RootFS.Layers.length, 1);
    assert.equal(i.body.Comment, 'hi');
    const c = await runToExit([], { Image: 'imp/one:v1', Cmd: undefined });
    const logs = await d.api('GET', `/containers/${c}/logs?stdout=1`);
    assert.equal(demux(logs.raw).stdout, 'imported\n');
    await d.api('DELETE', `/containers/${c}`);
    assert.equal((await d.api('DELETE', '/images/imp/one:v1')).status, 200);
  });

  test('/images/json reports Containers as -1 (not calculated), as Docker does', async () => {
    const r = await d.api('GET', `/images/json?filters=${q({ reference: ['busybox'] })}`);
    assert.equal(r.body[0].Containers, -1);
  });

  test('import of a corrupt tar reports the error', async () => {
    const r = await d.api('POST', '/images/create?fromSrc=-&repo=broken', Buffer.from('this is not a tar archive at all'.repeat(40)));
    assert.ok(r.status >= 400 || /error/.test(r.text), r.text);
    assert.equal((await d.api('GET', '/images/broken/json')).status, 404);
  });

  test('tag, untag vs delete, 409 when used unless force', async () => {
    const id = await importImage('tagme:1', [{ name: 'u', content: 'tagme' }]);
    assert.equal((await d.api('POST', '/images/tagme:1/tag?repo=tagme&tag=2')).status, 201);
    assert.equal((await d.api('POST', `/images/${id.slice(7, 19)}/tag?repo=other/name`)).status, 201);
    let i = await d.api('GET', `/images/${id}/json`);
    assert.deepEqual(i.body.RepoTags.slice().sort(), ['other/name:latest', 'tagme:1', 'tagme:2']);
    // Removing one of several tags only untags.
    let r = await d.api('DELETE', '/images/tagme:2');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, [{ Untagged: 'tagme:2' }]);
    i = await d.api('GET', `/images/${id}/json`);
    assert.deepEqual(i.body.RepoTags.slice().sort(), ['other/name:latest', 'tagme:1']);
    // An image a container uses: Docker's conflict messages, in Docker's order.
    const c = await d.create({ Image: 'tagme:1', Cmd: ['sleep', '1000'] });
    const short = id.slice(7, 19);
    r = await d.api('DELETE', `/images/${id}`);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.message, `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
    r = await d.api('DELETE', '/images/other/name');
    assert.deepEqual(r.body, [{ Untagged: 'other/name:latest' }]);
    r = await d.api('DELETE', `/images/${short}`);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.message, `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${c.slice(0, 12)}`);
    r = await d.api('DELETE', '/images/tagme:1');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.message, `conflict: unable to remove repository reference "tagme:1" (must force) - container ${c.slice(0, 12)} is using its referenced image ${short}`);
    const st = await d.api('POST', `/containers/${c}/start`);
    assert.equal(st.status, 204, st.text);
    r = await d.api('DELETE', `/images/${short}?force=1`);
    assert.equal(r.status, 409, r.text);
    assert.match(r.body.message, new RegExp(`^conflict: unable to delete ${short} \\(cannot be forced\\) - image is being used by running container ${c.slice(0, 12)}$`));
    assert.equal((await d.api('POST', `/containers/${c}/kill`)).status, 204);
    await d.api('POST', `/containers/${c}/wait`);
    // Forced, a stopped container doesn't keep the image (Docker: untagged and deleted; the
    // container keeps its layers and still starts).
    r = await d.api('DELETE', '/images/tagme:1?force=1');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, [{ Untagged: 'tagme:1' }, { Deleted: id }]);
    assert.equal((await d.api('GET', `/images/${id}/json`)).status, 404);
    assert.equal((await d.api('POST', `/containers/${c}/start`)).status, 204);
    assert.equal((await d.api('POST', `/containers/${c}/kill`)).status, 204);
    await d.api('POST', `/containers/${c}/wait`);
    assert.equal((await d.api('DELETE', `/containers/${c}`)).status, 204);
  });

  test('rmi -f of the last name of an image a running container uses only untags it', async () => {
    const id = await importImage('busyrun:1', [{ name: 'r', content: 'run' }]);
    const c = await d.create({ Image: 'busyrun:1', Cmd: ['sleep', '1000'] });
    assert.equal((await d.api('POST', `/containers/${c}/start`)).status, 204);
    try {
      let r = await d.api('DELETE', '/images/busyrun:1?force=1');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, [{ Untagged: 'busyrun:1' }]);
      assert.equal((await d.api('GET', `/images/${id}/json`)).status, 200);
      r = await d.api('DELETE', `/images/${id}?force=1`);
      assert.equal(r.status, 409, r.text);
      assert.match(r.body.message, /\(cannot be forced\) - image is being used by running container/);
    } finally {
      await d.api('DELETE', `/containers/${c}?force=1`);
    }
    const r = await d.api('DELETE', `/images/${id}`);
    assert.deepEqual(r.body, [{ Deleted: id }]);
  });

  test('unreferenced layers are removed from disk', async () => {
    const s0 = snapshotDirs();
    const id = await importImage('layers:1', [{ name: 'unique', content: `layer-${Date.now()}` }]);
    const added = [...snapshotDirs()].filter((x) => !s0.has(x));
    assert.equal(added.length, 1, `new snapshot dirs: ${added}`);
    const layerDir = path.join(d.dataRoot, 'snapshots', added[0]);
    assert.ok(fs.existsSync(path.join(layerDir, 'fs', 'unique')));
    // A container on it adds its own snapshot, removed with the container.
    const c = await d.create({ Image: 'layers:1', Cmd: ['true'] });
    const cdirs = [...snapshotDirs()].filter((x) => !s0.has(x) && x !== added[0]);
    assert.equal(cdirs.length, 1);
    assert.equal((await d.api('DELETE', `/containers/${c}`)).status, 204);
    assert.equal(fs.existsSync(path.join(d.dataRoot, 'snapshots', cdirs[0])), false);
    // A second tag keeps the layer; removing the last reference deletes it.
    await d.api('POST', '/images/layers:1/tag?repo=layers&tag=2');
    await d.api('DELETE', '/images/layers:1');
    assert.ok(fs.existsSync(layerDir));
    const r = await d.api('DELETE', '/images/layers:2');
    assert.ok(r.body.some((x: any) => x.Deleted === id), r.text);
    assert.equal(fs.existsSync(layerDir), false, 'layer dir still on disk');
  });

  test('/images/json filters', async () => {
    const old = await importImage('flt/old:1', [{ name: 'o', content: 'old' }]);
    const mid = await importImage('flt/mid:1', [{ name: 'm', content: 'mid' }], '&changes=' + encodeURIComponent('LABEL color=blue'));
    const dangling = await importImage(undefined, [{ name: 'dg', content: 'dangling' }]);
    const list = async (f: unknown): Promise<string[]> => {
      const r = await d.api('GET', `/images/json?filters=${q(f)}`);
      assert.equal(r.status, 200, r.text);
      return r.body.map((i: any) => i.Id).sort();
    };
    assert.deepEqual(await list({ dangling: ['true'] }), [dangling]);
    assert.ok(!(await list({ dangling: ['false'] })).includes(dangling));
    assert.deepEqual(await list({ reference: ['flt/*'] }), [old, mid].sort());
    assert.deepEqual(await list({ reference: ['flt/old'] }), [old]);
    assert.deepEqual(await list({ label: ['color=blue'] }), [mid]);
    assert.deepEqual(await list({ label: ['color'] }), [mid]);
    const since = await list({ since: ['flt/old:1'] });
    assert.ok(since.includes(mid) && since.includes(dangling) && !since.includes(old), JSON.stringify(since));
    const bef = await list({ before: ['flt/mid:1'] });
    assert.ok(bef.includes(old) && !bef.includes(mid) && !bef.includes(dangling), JSON.stringify(bef));
    const row = (await d.api('GET', `/images/json?filters=${q({ reference: ['flt/old:1'] })}`)).body[0];
    assert.deepEqual(row.RepoTags, ['flt/old:1']);
    assert.ok(row.Size > 500_000);
    assert.equal((await d.api('GET', `/images/json?filters=${q({ nope: ['x'] })}`)).status, 400);

    // prune: dangling only by default.
    const p = await d.api('POST', '/images/prune');
    assert.equal(p.status, 200);
    assert.deepEqual(
      p.body.ImagesDeleted.filter((x: any) => x.Deleted).map((x: any) => x.Deleted),
      [dangling],
    );
    assert.ok(p.body.SpaceReclaimed > 500_000);
    assert.equal((await d.api('GET', `/images/${dangling}/json`)).status, 404);
    // dangling=false prunes every unused image, keeping used ones.
    const c = await d.create({ Image: 'flt/old:1', Cmd: ['true'] });
    const p2 = await d.api('POST', `/images/prune?filters=${q({ dangling: ['false'], label: ['color=blue'] })}`);
    assert.deepEqual(
      p2.body.ImagesDeleted.filter((x: any) => x.Deleted).map((x: any) => x.Deleted),
      [mid],
    );
    const p3 = await d.api('POST', `/images/prune?filters=${q({ dangling: ['false'] })}`);
    assert.ok(!(p3.body.ImagesDeleted ?? []).some((x: any) => x.Deleted === old), 'pruned an image in use');
    assert.equal((await d.api('GET', '/images/busybox/json')).status, 404, 'busybox unused: pruned by dangling=false');
    await d.api('DELETE', `/containers/${c}`);
    await d.api('DELETE', `/images/flt/old:1`);
  });
});
