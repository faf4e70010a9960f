// Disk usage and start-up clean-up: after a realistic session, `system df`'s four categories plus
// what `berth system df -v` lists as other add up to `du -sbx` of the data root (through the API,
// the docker CLI and berth), and every kind of leftover interrupted work leaves is gone after a
// restart (docs/architecture.md, "On disk").
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DataRootUsage } from '../src/types/berth.js';
import { busyboxTar, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';
import { haveRegistry, startRegistry, type TestRegistry } from './registry/registry.js';

/** What `du` says: apparent sizes, directories included, hard links once, not crossing mounts. */
function duSbx(dir: string): number {
  return Number(execFileSync('du', ['-sbx', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function dockerSum(u: DataRootUsage): number {
  return u.Docker.Images + u.Docker.Containers + u.Docker.Volumes + u.Docker.BuildCache;
}

function otherSum(u: DataRootUsage): number {
  return u.Other.reduce((a, p) => a + p.Size, 0);
}

/** go-units' HumanSize as the docker CLI prints it ("4.542MB", "102.4kB", "0B"): decimal units, 4 significant digits. */
function parseHuman(s: string): number {
  const m = /^([\d.]+)\s*(B|kB|MB|GB|TB)$/.exec(s.trim());
  assert.ok(m, `a size: ${s}`);
  return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[m[2] as 'B'];
}

describe('system df: every byte of the data root', { skip: haveRegistry() ? false : 'docker-registry is not installed' }, () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  const work = fs.mkdtempSync('/tmp/bt-df-');

  before(async () => {
    d = await startDaemon();
    reg = await startRegistry();
  });
  after(async () => {
    try {
      await stopAndCheckClean(d);
    } finally {
      await reg?.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('after pull, build with a cache mount, commit, save/load, rotated logs, volumes and networks, df plus the rest is du -sbx', async () => {
    // A layer with symbolic links (busybox's applets), pushed and pulled back: layer tar and unpacked layer.
    const ref = `${reg.host}/df/links:v1`;
    assert.equal((await d.api('POST', `/images/create?fromSrc=-&repo=${encodeURIComponent(`${reg.host}/df/links`)}&tag=v1`, busyboxTar())).status, 200);
    await d.dockerOk(['push', ref]);
    await d.dockerOk(['rmi', ref]);
    await d.dockerOk(['pull', ref]);
    // A container's writes on a volume and in its writable layer, committed.
    await d.dockerOk(['run', '--name', 'df-writer', '-v', 'df-vol:/data', 'busybox', 'sh', '-c', 'head -c 300000 /dev/urandom > /data/x; head -c 200000 /dev/urandom > /y; ln -s /y /y-link']);
    await d.dockerOk(['commit', 'df-writer', 'df-committed:v1']);
    // A build with a cache mount, saved and loaded back.
    fs.writeFileSync(path.join(work, 'Dockerfile'), 'FROM busybox\nRUN --mount=type=cache,target=/cache head -c 100000 /dev/urandom > /cache/c && echo hi > /hi\nCOPY f /f\n');
    fs.writeFileSync(path.join(work, 'f'), 'x'.repeat(5000));
    await d.dockerOk(['build', '-t', 'df-built:v1', work]);
    await d.dockerOk(['save', '-o', path.join(work, 'built.tar'), 'df-built:v1']);
    await d.dockerOk(['rmi', 'df-built:v1']);
    await d.dockerOk(['load', '-i', path.join(work, 'built.tar')]);
    // Rotated, compressed logs; a running container on a network of its own.
    const logger = (await d.dockerOk(['run', '-d', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', '--log-opt', 'compress=true', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo done; sleep 3600'])).trim();
    await d.dockerOk(['network', 'create', 'df-net']);
    const onNet = (await d.dockerOk(['run', '-d', '--network', 'df-net', 'busybox', 'sleep', '3600'])).trim();
    await waitFor(async () => (await d.dockerOk(['logs', '--tail', '1', logger])).includes('done'), 'the logger to finish', 30_000);
    await waitFor(() => fs.readdirSync(path.join(d.dataRoot, 'containers', logger)).some((n) => n.endsWith('.gz')), 'a compressed rotated log', 20_000);

    // Nothing moves now: the API's account is exact.
    let u: DataRootUsage | undefined;
    let du = 0;
    for (let i = 0; i < 3 && (!u || dockerSum(u) + otherSum(u) !== du); i++) {
      u = (await d.api('GET', '/berth/system/df')).body as DataRootUsage;
      du = duSbx(d.dataRoot);
    }
    const types = u!.Other.map((p) => p.Type);
    assert.equal(u!.Total, du, JSON.stringify(u));
    assert.equal(dockerSum(u!) + otherSum(u!), du, JSON.stringify(u));
    for (const t of ['Metadata', 'Container files', 'Container logs', 'Directories', 'Symbolic links in layers']) assert.ok(types.includes(t), `${t} in ${types}`);
    for (const t of ['Other', 'Not as Docker counts it', 'Partial downloads', 'Work in progress', 'Unreferenced blobs']) assert.ok(!types.includes(t), `no ${t}: ${JSON.stringify(u)}`);
    assert.ok(u!.Docker.Containers >= 200_000 && u!.Docker.Volumes >= 300_000 && u!.Docker.BuildCache >= 100_000, JSON.stringify(u!.Docker));

    // The Engine API's figures are the ones the account uses; the cache mount is BuildKit's kind of record.
    const df = (await d.api('GET', '/system/df')).body;
    assert.equal(df.LayersSize, u!.Docker.Images);
    assert.equal(df.BuildCache.length, 1);
    assert.equal(df.BuildCache[0].Type, 'exec.cachemount');
    assert.match(df.BuildCache[0].Description, /^cached mount \/cache from exec \/bin\/sh -c head/);
    assert.equal(df.BuilderSize, u!.Docker.BuildCache);
    // As dockerd (measured side by side: 2 MB of log, 100 kB written, SizeRw 100 kB on both): a log is not the writable layer.
    assert.equal(df.Containers.find((c: { Id: string }) => c.Id === logger).SizeRw ?? 0, 0);
    assert.ok(u!.Other.find((p) => p.Type === 'Container logs')!.Size > 2_000, JSON.stringify(u!.Other));

    // The docker CLI's four rows (rounded to 4 digits) plus the rest.
    const rows = (await d.dockerOk(['system', 'df', '--format', '{{json .}}'])).trim().split('\n').map((l) => JSON.parse(l) as { Type: string; Size: string });
    assert.deepEqual(rows.map((r) => r.Type), ['Images', 'Containers', 'Local Volumes', 'Build Cache']);
    const cli = rows.reduce((a, r) => a + parseHuman(r.Size), 0);
    assert.ok(Math.abs(cli - dockerSum(u!)) <= dockerSum(u!) * 0.0005 + 4 * 5, `docker CLI ${cli}, API ${dockerSum(u!)}`);
    assert.match(await d.dockerOk(['system', 'df', '-v']), /exec\.cachemount/);

    // berth system df -v: Docker's sections, then the rest and the data root's total.
    const out = await d.berthOk(['system', 'df', '-v']);
    assert.match(out, /Build cache usage: 100kB\n/);
    assert.match(out, /Other space usage \(not in Docker's categories\):/);
    for (const t of ['Metadata', 'Container logs', 'Directories']) assert.match(out, new RegExp(`^${t}\\s+\\d+\\s+\\S+\\s+no$`, 'm'));
    assert.match(out, new RegExp(`^Data root ${d.dataRoot}: \\S+ \\(`, 'm'));

    for (const id of [logger, onNet]) await d.dockerOk(['rm', '-f', id]);
    await d.dockerOk(['rm', 'df-writer']);
    await d.dockerOk(['network', 'rm', 'df-net']);
  });
});

describe('start-up removes what interrupted work left', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => stopAndCheckClean(d));

  /** Streams half of `body` to POST `urlPath` and leaves the request open (the daemon is killed meanwhile). */
  function halfUpload(urlPath: string, body: Buffer): http.ClientRequest {
    const req = http.request({ socketPath: d.sock, method: 'POST', path: urlPath, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(body.length) } });
    req.on('error', () => undefined);
    req.write(body.subarray(0, body.length >> 1));
    return req;
  }

  test('a load killed midway, partial downloads, build contexts, half-made caches, log temporaries, unknown container and volume directories', async () => {
    await d.dockerOk(['run', '--name', 'df-kept', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done']);
    const keptId = (await d.inspect('df-kept')).Id as string;
    const logsBefore = await d.dockerOk(['logs', 'df-kept']);
    await d.dockerOk(['volume', 'create', 'df-kept-vol']);
    // A load cut short by the daemon's death: its spool is in the ingest dir.
    await d.dockerOk(['save', '-o', path.join(d.root, 'bb.tar'), 'busybox']);
    const ingest = path.join(d.dataRoot, 'content', 'ingest');
    const req = halfUpload('/images/load?quiet=1', fs.readFileSync(path.join(d.root, 'bb.tar')));
    await waitFor(() => fs.readdirSync(ingest).some((n) => n !== 'partial'), 'the load spool', 15_000);
    await d.kill();
    req.destroy();

    const data = d.dataRoot;
    const dir = (...p: string[]): string => {
      fs.mkdirSync(path.join(data, ...p), { recursive: true });
      return path.join(data, ...p);
    };
    const file = (content: string, ...p: string[]): string => {
      dir(...p.slice(0, -1));
      fs.writeFileSync(path.join(data, ...p), content);
      return path.join(data, ...p);
    };
    const cdir = path.join('containers', keptId);
    const planted = [
      file('half a layer', 'content', 'ingest', 'partial', 'a'.repeat(64)), // a registry download
      file('{}', 'builder', 'contexts', 'ctx-0123', 'Dockerfile'), // a build's context
      file('x', 'builder', 'cache-mounts', `${'b'.repeat(64)}.new-123-456`, 'half'), // a cache being made
      file('{"log":"x"}', 'containers', 'c'.repeat(64), 'container.log'), // a create cut short
      file('half', cdir, 'container.log.1.gz.tmp'), // a gzip cut short
      file('copy', cdir, 'container.log.2.gz.123.abc.read'), // a read's temporary copy
      file('torn', cdir, '.hosts.0123456789ab.tmp'), // an atomic write cut short
      file('torn', '.engine-id.0123456789ab.tmp'),
      file('data', 'volumes', 'df-gone', '_data', 'f'), // a volume whose create or rm was cut short
    ];
    // The OCI bundle of a container whose create was cut short (in the exec root).
    const bundle = path.join(d.execRoot, 'bundles', 'c'.repeat(64));
    fs.mkdirSync(bundle, { recursive: true });
    fs.writeFileSync(path.join(bundle, 'config.json'), '{}');
    planted.push(bundle);
    await d.start();
    for (const p of planted) assert.equal(fs.existsSync(p), false, `${p} is still there`);
    assert.deepEqual(fs.readdirSync(ingest), ['partial']);
    assert.deepEqual(fs.readdirSync(path.join(ingest, 'partial')), []);
    assert.deepEqual(fs.readdirSync(path.join(data, 'builder', 'cache-mounts')), []);
    // What was not left over stays: the container, its log, its hosts file, the volume, the image.
    assert.equal(await d.dockerOk(['logs', 'df-kept']), logsBefore);
    assert.ok(fs.existsSync(path.join(data, cdir, 'hosts')));
    assert.equal((await d.api('GET', '/volumes/df-kept-vol')).status, 200);
    assert.equal((await d.api('GET', '/volumes/df-gone')).status, 404);
    assert.equal(await d.dockerOk(['run', '--rm', 'busybox', 'echo', 'ok']), 'ok\n');
    const u = (await d.api('GET', '/berth/system/df')).body as DataRootUsage;
    for (const t of ['Other', 'Partial downloads', 'Work in progress', 'Unreferenced blobs']) assert.ok(!u.Other.some((p) => p.Type === t), `no ${t}: ${JSON.stringify(u.Other)}`);
    assert.equal(dockerSum(u) + otherSum(u), duSbx(data));
    await d.dockerOk(['rm', 'df-kept']);
    await d.dockerOk(['volume', 'rm', 'df-kept-vol']);
  });
});
