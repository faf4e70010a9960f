// Engine API fidelity: the same containers made on a real dockerd and on berthd through the same
// docker CLI command lines (and the sparse bodies docker-py and dockerode send), then every key of
// dockerd's answers (inspect, image inspect, info, version, system df, stats, lists, exec inspect)
// that Berth's lack, and every null-vs-[]-vs-{} difference, fails the test unless explained below.
// dockerd here is 20.10 (API 1.41), so Berth is asked at /v1.41 for the same shapes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiRequest, run, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';
import { peersMissing, startDockerd, type Dockerd } from './peers.js';
import { shapeDiff, unexplained, type Allowed } from './shape.js';

const missing = peersMissing(['dockerd', 'docker']);

/** Differences Berth keeps on purpose, each with its reason. */
const ALLOWED: Allowed[] = [
  { path: /^\$info\.Runtimes\.(io\.containerd\.|runc$)/, why: "Berth lists the runtime it runs (crun here) and daemon.json's runtimes; dockerd lists runc and containerd's shim names" },
  { path: /^\$(df|images)\[?.*\.(Labels|RepoDigests)$/, why: 'dockerd 25+ answers {} and [] for an image without labels or digests; 20.10 sent null' },
  // The default bridge network lands with the networks work; until a container has an interface
  // there is nothing to report.
  { path: /\.NetworkSettings\.Networks\.\w+\.(IPAMConfig|Links|Aliases|DriverOpts)$/, why: 'network endpoints: the networks work' },
];

interface Pair {
  dockerd: Dockerd;
  berth: TestDaemon;
}

async function dockerdApi(d: Dockerd, p: string): Promise<any> {
  const r = await apiRequest(d.sock, 'GET', p);
  assert.equal(r.status, 200, `dockerd GET ${p}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Runs the same docker CLI line against both daemons; returns the two container ids. */
async function both(p: Pair, args: string[]): Promise<[string, string]> {
  const a = (await p.dockerd.dockerOk(args)).trim().split('\n').pop()!;
  const b = (await p.berth.dockerOk(args)).trim().split('\n').pop()!;
  return [a, b];
}

function check(what: string, ref: unknown, got: unknown, extra: Allowed[] = []): void {
  const bad = unexplained(shapeDiff(ref, got, `$${what}`), [...ALLOWED, ...extra]);
  assert.deepEqual(bad, [], `${what}: dockerd's answer has what Berth's lacks`);
}

describe('Engine API shapes against dockerd', { skip: missing ? `peers unavailable: ${missing}` : false }, () => {
  const p = {} as Pair;

  before(async () => {
    p.berth = await startDaemon();
    p.dockerd = await startDockerd();
    // The same image on both sides (same id and config): berth's busybox, saved and loaded.
    const save = await run('sh', ['-c', `docker -H ${p.berth.host} save busybox | docker -H ${p.dockerd.host} load`], { timeoutMs: 60_000 });
    assert.equal(save.code, 0, save.stderr);
  });

  after(async () => {
    await p.dockerd?.stop();
    await stopAndCheckClean(p.berth);
  });

  async function compareContainer(name: string, ids: [string, string], extra: Allowed[] = []): Promise<[any, any]> {
    const ref = await dockerdApi(p.dockerd, `/v1.41/containers/${ids[0]}/json`);
    // A dockerd started with --bridge=none marks every container NetworkDisabled.
    if (ref.Config.NetworkDisabled === true) extra = [...extra, { path: /\.Config\.NetworkDisabled$/, why: 'dockerd without a bridge' }];
    const got = (await p.berth.api('GET', `/v1.41/containers/${ids[1]}/json`)).body;
    check(`${name}`, ref, got, extra);
    // At Berth's own version too: only what 1.42+ dropped may be missing.
    const now = (await p.berth.api('GET', `/containers/${ids[1]}/json`)).body;
    check(`${name}@latest`, ref, now, [
      { path: /\.HostConfig\.KernelMemory(TCP)?$/, why: 'dropped from answers in API 1.42' },
      { path: /\.NetworkSettings\.(HairpinMode|LinkLocalIPv6\w+|Secondary\w+)$/, why: 'deprecated in API 1.44, not sent since' },
      ...extra,
    ]);
    return [ref, got];
  }

  test('inspect of a running, a created-with-everything and an exited container', async () => {
    const running = await both(p, ['run', '-d', 'busybox', 'sleep', '300']);
    const [ref, got] = await compareContainer('running', running);
    // Defaults dockerd fills at create, value for value.
    for (const k of ['LogConfig', 'IpcMode', 'CgroupnsMode', 'ShmSize', 'MemorySwappiness', 'PidsLimit', 'RestartPolicy', 'ConsoleSize']) {
      assert.deepEqual(got.HostConfig[k], ref.HostConfig[k], `HostConfig.${k}`);
    }
    assert.equal(got.HostConfig.Runtime, 'crun');
    assert.deepEqual(got.Config.Env, ref.Config.Env, 'Config.Env shows only what the image and client set (PATH is the runtime env)');
    assert.equal(got.Config.Volumes, null);
    assert.ok(!('ExposedPorts' in got.Config), 'empty ExposedPorts is omitted');
    // The process still gets Docker's PATH.
    assert.match(await p.berth.dockerOk(['exec', running[1], 'sh', '-c', 'echo $PATH']), /^\/usr\/local\/sbin:/);

    const full = await both(p, [
      'create', '-e', 'A=1', '-l', 'x=y', '-t', '-i', '--restart', 'on-failure:3', '-m', '64m', '--cpus', '0.5', '--pids-limit', '50',
      '--ulimit', 'nofile=100:200', '--cap-add', 'NET_ADMIN', '--tmpfs', '/run', '-w', '/tmp', '-u', '1000', '--hostname', 'hh',
      '--stop-signal', 'SIGINT', '--init', '--read-only', '--security-opt', 'no-new-privileges', '--add-host', 'foo:1.2.3.4',
      '--shm-size', '128m', '--log-opt', 'max-size=1m', 'busybox', 'sh',
    ]);
    const [fr, fg] = await compareContainer('full', full);
    for (const k of ['LogConfig', 'MemorySwap', 'ShmSize', 'PidsLimit', 'Ulimits', 'RestartPolicy', 'Tmpfs']) assert.deepEqual(fg.HostConfig[k], fr.HostConfig[k], `HostConfig.${k}`);

    const exited = await both(p, ['run', '-d', 'busybox', 'sh', '-c', 'exit 3']);
    for (const [daemon, id] of [[p.dockerd, exited[0]], [p.berth, exited[1]]] as const) await daemon.dockerOk(['wait', id]);
    await compareContainer('exited', exited);
  });

  test('a sparse create body (as docker-py and dockerode send) reads back with every field', async () => {
    for (const body of [{ Image: 'busybox', Cmd: ['true'] }, { Image: 'busybox', Cmd: ['true'], HostConfig: {} }]) {
      const a = await run('curl', ['-s', '--unix-socket', p.dockerd.sock, '-H', 'Content-Type: application/json', '-d', JSON.stringify(body), 'http://d/v1.41/containers/create']);
      const b = await p.berth.api('POST', '/v1.41/containers/create', body);
      assert.equal(b.status, 201, b.text);
      const [ref, got] = await compareContainer('sparse', [JSON.parse(a.stdout).Id, b.body.Id]);
      assert.deepEqual(got.HostConfig.LogConfig, { Type: 'json-file', Config: {} });
      assert.deepEqual(got.HostConfig.MaskedPaths?.length > 0, ref.HostConfig.MaskedPaths.length > 0);
    }
  });

  test('image inspect, history and the image list', async () => {
    check('image', await dockerdApi(p.dockerd, '/v1.41/images/busybox/json'), (await p.berth.api('GET', '/v1.41/images/busybox/json')).body);
    const now = (await p.berth.api('GET', '/images/busybox/json')).body;
    assert.ok(!('ContainerConfig' in now), 'ContainerConfig is gone from API 1.45 on');
    check('history', await dockerdApi(p.dockerd, '/v1.41/images/busybox/history'), (await p.berth.api('GET', '/v1.41/images/busybox/history')).body);
    check('images', await dockerdApi(p.dockerd, '/v1.41/images/json'), (await p.berth.api('GET', '/v1.41/images/json')).body);
  });

  test('info, version, system df and the container list', async () => {
    check('info', await dockerdApi(p.dockerd, '/v1.41/info'), (await p.berth.api('GET', '/v1.41/info')).body);
    const version = (await p.berth.api('GET', '/v1.41/version')).body;
    check('version', await dockerdApi(p.dockerd, '/v1.41/version'), version);
    assert.ok(version.Components.some((c: { Name: string }) => c.Name === 'crun'));
    check('df', await dockerdApi(p.dockerd, '/v1.41/system/df'), (await p.berth.api('GET', '/v1.41/system/df')).body);
    check('ps', await dockerdApi(p.dockerd, '/v1.41/containers/json?all=1&size=1'), (await p.berth.api('GET', '/v1.41/containers/json?all=1&size=1')).body);
  });

  test('one stats sample of a running container', async () => {
    const ids = await both(p, ['run', '-d', 'busybox', 'sleep', '300']);
    const ref = await dockerdApi(p.dockerd, `/v1.41/containers/${ids[0]}/stats?stream=false`);
    const got = (await p.berth.api('GET', `/v1.41/containers/${ids[1]}/stats?stream=false`)).body;
    // `networks` is there when the container has an interface besides loopback.
    const ifaces = (await p.berth.dockerOk(['exec', ids[1], 'cat', '/proc/net/dev'])).split('\n').slice(2).filter((l) => l.includes(':') && !/^\s*lo:/.test(l));
    check('stats', ref, got, ifaces.length ? [] : [{ path: /^\$stats\.networks$/, why: 'no interface but loopback' }]);
    assert.ok(Array.isArray(got.blkio_stats.io_service_bytes_recursive) || got.blkio_stats.io_service_bytes_recursive === null);
    assert.equal(got.num_procs, 0);
  });

  test('exec inspect', async () => {
    const ids = await both(p, ['run', '-d', 'busybox', 'sleep', '300']);
    const body = { Cmd: ['true'], AttachStdout: true };
    const a = await run('curl', ['-s', '--unix-socket', p.dockerd.sock, '-H', 'Content-Type: application/json', '-d', JSON.stringify(body), `http://d/v1.41/containers/${ids[0]}/exec`]);
    const b = await p.berth.api('POST', `/v1.41/containers/${ids[1]}/exec`, body);
    check('exec', await dockerdApi(p.dockerd, `/v1.41/exec/${JSON.parse(a.stdout).Id}/json`), (await p.berth.api('GET', `/v1.41/exec/${b.body.Id}/json`)).body);
  });
});
