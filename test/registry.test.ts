// Registries end to end: real docker-registry instances (plain, htpasswd, TLS, token auth) on
// 127.0.0.1, driven through the real Docker CLI and the Engine API against berthd, with skopeo
// on the other side, and a misbehaving proxy / fake registry for the failure paths.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, lines, run, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';
import { makeServerPki, makeSigningCert, type TestPki } from './registry/certs.js';
import { startProxy, type Proxy } from './registry/proxy.js';
import { buildImage, buildIndex, pushImage, pushManifest, sha256, type BuiltImage } from './registry/raw.js';
import { haveRegistry, startRegistry, type TestRegistry } from './registry/registry.js';
import { startTokenServer, type TokenServer } from './registry/token-server.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)';

/** The JSON lines of a progress stream. */
function messages(text: string): any[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/** Snapshot directories of layers unpacked ahead of their commit (a pull unpacks while it downloads). */
function stagedLayers(d: TestDaemon): string[] {
  return fs.readdirSync(path.join(d.dataRoot, 'snapshots')).filter((n) => n.startsWith('tmp-'));
}

function partialFiles(d: TestDaemon): string[] {
  try {
    return fs.readdirSync(path.join(d.dataRoot, 'content', 'ingest', 'partial'));
  } catch {
    return [];
  }
}

async function imageId(d: TestDaemon, ref: string): Promise<string> {
  return (await d.dockerOk(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
}

describe('registry: plain http on loopback', { skip }, () => {
  let reg: TestRegistry;
  let pusher: TestDaemon;
  let puller: TestDaemon;
  before(async () => {
    reg = await startRegistry();
    pusher = await startDaemon();
    puller = await startDaemon({ noDefaultImage: true });
  });
  after(async () => {
    await reg?.stop();
    await stopAndCheckClean(pusher);
    await stopAndCheckClean(puller);
  });

  test('docker push; skopeo sees the manifest; a re-push finds every layer', async () => {
    const name = `${reg.host}/team/bb:v1`;
    await pusher.dockerOk(['tag', 'busybox', name]);
    const out = await pusher.dockerOk(['push', name]);
    assert.match(out, new RegExp(`The push refers to repository \\[${reg.host}/team/bb\\]`));
    assert.match(out, /[0-9a-f]{12}: Pushed/);
    const m = /v1: digest: (sha256:[a-f0-9]{64}) size: (\d+)/.exec(out);
    assert.ok(m, out);
    const sk = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`]);
    assert.equal(sk.code, 0, sk.stderr);
    const info = JSON.parse(sk.stdout);
    assert.equal(info.Digest, m[1]);
    assert.equal(info.Architecture, 'amd64');
    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]);
    const manifest = JSON.parse(raw.stdout);
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(manifest.config.digest, await imageId(pusher, name));
    assert.equal(manifest.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const again = await pusher.dockerOk(['push', name]);
    assert.match(again, /Layer already exists/);
    assert.doesNotMatch(again, /Pushed/);
    assert.match(again, new RegExp(`v1: digest: ${m[1]} size: ${m[2]}`), 'a re-push is byte-identical');
    // The API stream ends with the aux record Docker sends.
    const api = await pusher.api('POST', `/images/${reg.host}/team/bb/push?tag=v1`, undefined, { 'X-Registry-Auth': 'e30=' });
    const msgs = messages(api.text);
    assert.deepEqual(msgs.at(-1), { progressDetail: {}, aux: { Tag: 'v1', Digest: m[1], Size: Number(m[2]) } });
  });

  test('docker pull by tag: Docker progress lines, RepoDigests, up to date the second time', async () => {
    const name = `${reg.host}/team/bb:v1`;
    const r = await puller.docker(['pull', name]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^v1: Pulling from team\/bb$/m);
    assert.match(out, /^[0-9a-f]{12}: Pulling fs layer$/m);
    assert.match(out, /^[0-9a-f]{12}: Verifying Checksum$/m);
    assert.match(out, /^[0-9a-f]{12}: Download complete$/m);
    assert.match(out, /^[0-9a-f]{12}: Pull complete$/m);
    assert.match(out, /^Digest: sha256:[a-f0-9]{64}$/m);
    assert.match(out, new RegExp(`^Status: Downloaded newer image for ${reg.host}/team/bb:v1$`, 'm'));
    const id = await imageId(puller, name);
    assert.equal(id, await imageId(pusher, name), 'the same config, the same image id');
    const digest = /^Digest: (sha256:[a-f0-9]{64})$/m.exec(out)![1];
    const digests = JSON.parse(await puller.dockerOk(['image', 'inspect', '-f', '{{json .RepoDigests}}', name]));
    assert.deepEqual(digests, [`${reg.host}/team/bb@${digest}`]);
    const second = await puller.dockerOk(['pull', name]);
    assert.match(second, new RegExp(`Status: Image is up to date for ${reg.host}/team/bb:v1`));
    assert.deepEqual(partialFiles(puller), [], 'no download files left behind');
    // By digest: the identical image.
    const byDigest = await puller.dockerOk(['pull', `${reg.host}/team/bb@${digest}`]);
    assert.match(byDigest, /Status: Image is up to date for/);
    assert.equal(await imageId(puller, `${reg.host}/team/bb@${digest}`), id);
    const ran = await puller.dockerOk(['run', '--rm', name, 'echo', 'pulled and ran']);
    assert.equal(ran.trim(), 'pulled and ran');
  });

  test('docker run of a missing image pulls it first', async () => {
    await pusher.dockerOk(['tag', 'busybox', `${reg.host}/team/bb:runme`]);
    await pusher.dockerOk(['push', `${reg.host}/team/bb:runme`]);
    const r = await puller.docker(['run', '--rm', `${reg.host}/team/bb:runme`, 'echo', 'hello from the registry']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Unable to find image .* locally/);
    assert.match(r.stdout, /hello from the registry/);
  });

  test('missing tags and repositories: Docker messages and 404s; bad input is a 400', async () => {
    const r = await puller.docker(['pull', `${reg.host}/team/bb:nope`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`manifest for ${reg.host}/team/bb:nope not found: manifest unknown`));
    const api = await puller.api('POST', `/images/create?fromImage=${reg.host}/team/bb&tag=nope`);
    assert.equal(api.status, 404);
    assert.match(api.body.message, /not found/);
    const norepo = await puller.api('POST', `/images/create?fromImage=${reg.host}/no/such&tag=latest`);
    assert.equal(norepo.status, 404, norepo.text);
    assert.equal((await puller.api('POST', '/images/create?fromImage=Bad/Name&tag=x')).status, 400);
    assert.equal((await puller.api('POST', `/images/create?fromImage=${reg.host}/team/bb&tag=v1&platform=not/a/real/platform`)).status, 400);
    assert.equal((await puller.api('POST', `/images/create?fromImage=${reg.host}/team/bb&tag=v1`, undefined, { 'X-Registry-Auth': '!!!' })).status, 400);
    const push = await pusher.api('POST', `/images/${reg.host}/not/here/push?tag=v1`);
    assert.equal(push.status, 404);
    assert.equal(push.body.message, `An image does not exist locally with the tag: ${reg.host}/not/here`);
    const unreachable = await puller.docker(['pull', '127.0.0.1:1/x:y']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /ECONNREFUSED|connection refused/);
  });

  test('skopeo copy into another repository; Berth pulls the same image id', async () => {
    const r = await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/team/bb:v1`, `docker://${reg.host}/copied/bb:c1`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    await puller.dockerOk(['pull', `${reg.host}/copied/bb:c1`]);
    assert.equal(await imageId(puller, `${reg.host}/copied/bb:c1`), await imageId(pusher, `${reg.host}/team/bb:v1`));
  });

  test('push to a sibling repository mounts the layer; push -a pushes every tag', async () => {
    await pusher.dockerOk(['tag', 'busybox', `${reg.host}/other/bb:m1`]);
    await pusher.dockerOk(['tag', 'busybox', `${reg.host}/other/bb:m2`]);
    const out = await pusher.dockerOk(['push', `${reg.host}/other/bb:m1`]);
    assert.match(out, /[0-9a-f]{12}: Mounted from team\/bb/);
    const all = await pusher.dockerOk(['push', '--all-tags', `${reg.host}/other/bb`]);
    assert.match(all, /m1: digest: sha256:/);
    assert.match(all, /m2: digest: sha256:/);
    const tags = await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${reg.host}/other/bb`]);
    assert.deepEqual(JSON.parse(tags.stdout).Tags.sort(), ['m1', 'm2']);
  });

  test('pull -a pulls every tag of a repository', async () => {
    const r = await puller.docker(['pull', '-a', `${reg.host}/other/bb`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /m1: Pulling from other\/bb/);
    assert.match(r.stdout, /m2: Pulling from other\/bb/);
    const tags = lines(await puller.dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}']))
      .filter((t) => t.startsWith(`${reg.host}/other/bb:`))
      .sort();
    assert.deepEqual(tags, [`${reg.host}/other/bb:m1`, `${reg.host}/other/bb:m2`]);
  });
});

describe('registry: chunked uploads and mirrors', { skip }, () => {
  let reg: TestRegistry;
  let proxy: Proxy;
  let d: TestDaemon;
  let mirrored: TestDaemon;
  before(async () => {
    reg = await startRegistry();
    proxy = await startProxy(reg.port);
    d = await startDaemon({ args: ['--registry-upload-chunk-size', String(256 * 1024), '--max-concurrent-uploads', '1'] });
    mirrored = await startDaemon({ noDefaultImage: true, args: ['--registry-mirror', `http://${reg.host}`] });
  });
  after(async () => {
    await proxy?.close();
    await reg?.stop();
    await stopAndCheckClean(d);
    await stopAndCheckClean(mirrored);
  });

  test('a blob larger than the chunk size goes up in PATCH chunks', async () => {
    const name = `${proxy.host}/chunked/bb:v1`;
    await d.dockerOk(['tag', 'busybox', name]);
    const out = await d.dockerOk(['push', name]);
    assert.match(out, /Pushed/);
    const patches = proxy.log.filter((l) => l.method === 'PATCH');
    assert.ok(patches.length >= 4, `PATCH requests: ${patches.length}`);
    const sk = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/chunked/bb:v1`]);
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(JSON.parse(sk.stdout).Layers.length, 1);
  });

  test("a pushed layer (gzip members compressed in parallel) decompresses in Go's gzip to the diff id", async () => {
    const name = `${reg.host}/members/bb:v1`;
    await d.dockerOk(['tag', 'busybox', name]);
    await d.dockerOk(['push', name]);
    const diffId = (await d.dockerOk(['image', 'inspect', '-f', '{{index .RootFS.Layers 0}}', 'busybox'])).trim();
    const dir = fs.mkdtempSync(path.join(d.root, 'skopeo-'));
    const r = await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-decompress', `docker://${name}`, `dir:${dir}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const layer = fs.readFileSync(path.join(dir, manifest.layers[0].digest.slice('sha256:'.length)));
    assert.ok(layer.length > 1 << 20, 'the layer spans more than one gzip member');
    assert.equal(sha256(layer), diffId);
  });

  test('docker.io names are pulled from --registry-mirror', async () => {
    const img = buildImage({ layers: [[{ name: 'm', content: 'mirror' }]] });
    await pushImage(reg.url, 'library/mirrored', 'v1', img);
    const r = await mirrored.docker(['pull', 'mirrored:v1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /v1: Pulling from library\/mirrored/);
    assert.match(r.stdout, /Status: Downloaded newer image for mirrored:v1/);
    assert.equal(await imageId(mirrored, 'mirrored:v1'), img.configDigest);
    assert.deepEqual(JSON.parse(await mirrored.dockerOk(['image', 'inspect', '-f', '{{json .RepoDigests}}', 'mirrored:v1'])), [`mirrored@${img.manifestDigest}`]);
  });
});

describe('registry: layers, platforms and formats', { skip }, () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  const base = busyboxTar();
  const layers = [
    [{ name: 'bin', type: 'dir' as const }],
    [{ name: 'etc', type: 'dir' as const }, { name: 'etc/a', content: 'one' }, { name: 'etc/b', content: 'bee' }],
    [{ name: 'etc', type: 'dir' as const }, { name: 'etc/a', content: 'two' }, { name: 'etc/.wh.b', content: '' }],
    [{ name: 'etc', type: 'dir' as const }, { name: 'etc/c', content: 'see' }],
  ];
  let multi: BuiltImage;
  before(async () => {
    reg = await startRegistry();
    d = await startDaemon({ noDefaultImage: true });
    // The base layer is the busybox rootfs, added as a raw tar so the image can run.
    multi = buildImage({ layers: layers, oci: true });
    const baseBlob = base;
    const gz = (await import('node:zlib')).gzipSync(baseBlob);
    multi.layers[0] = { blob: gz, digest: sha256(gz), diffId: sha256(baseBlob), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
    const config = JSON.parse(multi.config.toString());
    config.rootfs.diff_ids = multi.layers.map((l) => l.diffId);
    multi.config = Buffer.from(JSON.stringify(config));
    multi.configDigest = sha256(multi.config);
    const manifest = JSON.parse(multi.manifest.toString());
    manifest.config.digest = multi.configDigest;
    manifest.config.size = multi.config.length;
    manifest.layers = multi.layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest }));
    multi.manifest = Buffer.from(JSON.stringify(manifest));
    multi.manifestDigest = sha256(multi.manifest);
    await pushImage(reg.url, 'oci/layers', 'v1', multi);
  });
  after(async () => {
    await reg?.stop();
    await stopAndCheckClean(d);
  });

  test('an OCI image of several layers unpacks in order (overrides, whiteouts), downloads wait their turn', async () => {
    const api = await d.api('POST', `/images/create?fromImage=${reg.host}/oci/layers&tag=v1`);
    assert.equal(api.status, 200);
    const msgs = messages(api.text);
    assert.equal(msgs.filter((m) => m.status === 'Pulling fs layer').length, 4);
    assert.ok(msgs.some((m) => m.status === 'Waiting'), 'the fourth download waits for one of the three slots');
    const ids = multi.layers.map((l) => l.digest.slice(7, 19));
    const completes = msgs.filter((m) => m.status === 'Pull complete').map((m) => m.id);
    assert.deepEqual(completes, ids, 'unpacked bottom to top');
    assert.equal(await imageId(d, `${reg.host}/oci/layers:v1`), multi.configDigest);
    const out = await d.dockerOk(['run', '--rm', `${reg.host}/oci/layers:v1`, 'sh', '-c', 'cat /etc/a; echo; cat /etc/b 2>/dev/null || echo gone; cat /etc/c']);
    assert.deepEqual(lines(out), ['two', 'gone', 'see']);
  });

  test('a second image on the same base: shared layers "Already exists"', async () => {
    const second = buildImage({ layers: [[{ name: 'x', content: 'x' }]], oci: true });
    // Reuse the first three layers of `multi` under a new top layer.
    const config = JSON.parse(multi.config.toString());
    config.rootfs.diff_ids = [...multi.layers.slice(0, 3).map((l) => l.diffId), second.layers[0].diffId];
    const cfg = Buffer.from(JSON.stringify(config));
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: cfg.length, digest: sha256(cfg) },
      layers: [...multi.layers.slice(0, 3), second.layers[0]].map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
    };
    await pushImage(reg.url, 'oci/second', 'v1', { ...second, config: cfg, configDigest: sha256(cfg), layers: [...multi.layers.slice(0, 3), second.layers[0]], manifest: Buffer.from(JSON.stringify(manifest)), manifestDigest: '', mediaType: manifest.mediaType });
    const out = await d.dockerOk(['pull', `${reg.host}/oci/second:v1`]);
    assert.equal((out.match(/: Already exists/g) ?? []).length, 3, out);
    assert.equal((out.match(/: Pull complete/g) ?? []).length, 1, out);
  });

  test('a multi-platform index resolves to the host or --platform; a missing platform is a clear error', async () => {
    const amd = buildImage({ layers: [[{ name: 'arch', content: 'amd64' }]], architecture: 'amd64' });
    const arm = buildImage({ layers: [[{ name: 'arch', content: 'arm64' }]], architecture: 'arm64', variant: 'v8' });
    await pushImage(reg.url, 'multi/app', undefined, amd);
    await pushImage(reg.url, 'multi/app', undefined, arm);
    const index = buildIndex([
      { img: amd, platform: { architecture: 'amd64', os: 'linux' } },
      { img: arm, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ]);
    await pushManifest(reg.url, 'multi/app', 'v1', index.bytes, index.mediaType);
    const name = `${reg.host}/multi/app:v1`;
    await d.dockerOk(['pull', name]);
    assert.equal(await imageId(d, name), amd.configDigest);
    assert.deepEqual(JSON.parse(await d.dockerOk(['image', 'inspect', '-f', '{{json .RepoDigests}}', name])), [`${reg.host}/multi/app@${index.digest}`]);
    const arm64 = await d.docker(['pull', '--platform', 'linux/arm64', name]);
    assert.equal(arm64.code, 0, arm64.stderr);
    assert.equal(await imageId(d, name), arm.configDigest);
    assert.equal((await d.dockerOk(['image', 'inspect', '-f', '{{.Architecture}}', name])).trim(), 'arm64');
    const s390 = await d.docker(['pull', '--platform', 'linux/s390x', name]);
    assert.equal(s390.code, 1);
    assert.match(s390.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
    // By the index digest: the host's image.
    await d.dockerOk(['pull', `${reg.host}/multi/app@${index.digest}`]);
    assert.equal(await imageId(d, `${reg.host}/multi/app@${index.digest}`), amd.configDigest);
    const dist = await d.api('GET', `/distribution/${reg.host}/multi/app:v1/json`);
    assert.equal(dist.status, 200);
    assert.equal(dist.body.Descriptor.digest, index.digest);
    assert.equal(dist.body.Descriptor.mediaType, index.mediaType);
    assert.deepEqual(dist.body.Platforms.map((p: any) => p.architecture).sort(), ['amd64', 'arm64']);
    const single = await d.api('GET', `/distribution/${reg.host}/oci/layers:v1/json`);
    assert.deepEqual(single.body.Platforms, [{ architecture: 'amd64', os: 'linux' }]);
    assert.equal((await d.api('GET', `/distribution/${reg.host}/multi/app:nope/json`)).status, 404);
  });
});

describe('registry: hostile and broken registries', { skip }, () => {
  let reg: TestRegistry;
  let proxy: Proxy;
  let d: TestDaemon;
  let big: BuiltImage;
  before(async () => {
    reg = await startRegistry();
    proxy = await startProxy(reg.port);
    d = await startDaemon({ noDefaultImage: true, args: ['--registry-timeout', '3', '--registry-idle-timeout', '3'] });
    big = buildImage({ layers: [[{ name: 'bin', type: 'dir' }, { name: 'bin/busybox', content: fs.readFileSync('/bin/busybox'), mode: 0o755 }]] });
    await pushImage(reg.url, 'h/big', 'v1', big);
  });
  after(async () => {
    await proxy?.close();
    await reg?.stop();
    await stopAndCheckClean(d);
  });

  const pullApi = (ref: string, tag: string): Promise<import('./harness.js').ApiResult> => d.api('POST', `/images/create?fromImage=${proxy.host}/${ref}&tag=${tag}`);
  const lastError = (text: string): string | undefined => messages(text).find((m) => m.error)?.error;

  test('a blob cut mid-stream fails the pull; the next pull resumes it with a Range request', async () => {
    const layer = big.layers[0];
    proxy.blobMode = { kind: 'cut', after: 200_000, only: layer.digest };
    const r = await pullApi('h/big', 'v1');
    assert.equal(r.status, 200);
    assert.ok(lastError(r.text), r.text);
    assert.equal((await d.api('GET', `/images/${proxy.host}/h/big:v1/json`)).status, 404, 'no image from a failed pull');
    assert.deepEqual(partialFiles(d), [layer.digest.slice(7)]);
    assert.deepEqual(stagedLayers(d), [], 'layers unpacked during the failed pull are removed before it reports');
    const kept = fs.statSync(path.join(d.dataRoot, 'content', 'ingest', 'partial', layer.digest.slice(7))).size;
    assert.ok(kept > 0 && kept <= 200_000, `kept ${kept} bytes`);
    // system df counts it (reclaimable) while it waits.
    const other = (await d.api('GET', '/berth/system/df')).body.Other as { Type: string; Size: number; Reclaimable: boolean }[];
    assert.deepEqual(other.find((p) => p.Type === 'Partial downloads'), { Type: 'Partial downloads', Count: 1, Size: kept, Reclaimable: true });
    proxy.blobMode = { kind: 'pass' };
    proxy.log.length = 0;
    const again = await pullApi('h/big', 'v1');
    assert.equal(lastError(again.text), undefined, again.text);
    assert.ok(proxy.log.some((l) => l.path.includes(layer.digest) && l.range === `bytes=${kept}-`), JSON.stringify(proxy.log));
    assert.equal(await imageId(d, `${proxy.host}/h/big:v1`), big.configDigest);
    assert.deepEqual(partialFiles(d), []);
  });

  test('a partial download is discarded at a daemon restart, as dockerd does; the next pull fetches the blob whole', async () => {
    const img = buildImage({ layers: [[{ name: 'r', content: randomBytes(400_000) }]] });
    await pushImage(reg.url, 'h/restart', 'v1', img);
    const layer = img.layers[0];
    proxy.blobMode = { kind: 'cut', after: 150_000, only: layer.digest };
    assert.ok(lastError((await pullApi('h/restart', 'v1')).text));
    assert.deepEqual(partialFiles(d), [layer.digest.slice(7)]);
    await d.terminate();
    await d.start();
    assert.deepEqual(partialFiles(d), []);
    proxy.blobMode = { kind: 'pass' };
    proxy.log.length = 0;
    const again = await pullApi('h/restart', 'v1');
    assert.equal(lastError(again.text), undefined, again.text);
    assert.ok(proxy.log.some((l) => l.path.includes(layer.digest) && !l.range), JSON.stringify(proxy.log));
    assert.equal(await imageId(d, `${proxy.host}/h/restart:v1`), img.configDigest);
  });

  test('two pulls of the same image at once fetch each blob once and both succeed', async () => {
    const img = buildImage({ layers: [[{ name: 'a', content: Buffer.alloc(500_000, 1) }], [{ name: 'b', content: Buffer.alloc(500_000, 2) }]] });
    await pushImage(reg.url, 'h/twice', 'v1', img);
    proxy.log.length = 0;
    const [a, b] = await Promise.all([pullApi('h/twice', 'v1'), pullApi('h/twice', 'v1')]);
    assert.equal(lastError(a.text), undefined, a.text);
    assert.equal(lastError(b.text), undefined, b.text);
    for (const l of img.layers) assert.equal(proxy.log.filter((e) => e.method === 'GET' && e.path.includes(l.digest)).length, 1, `${l.digest} fetched once`);
    assert.equal(await imageId(d, `${proxy.host}/h/twice:v1`), img.configDigest);
    assert.deepEqual(partialFiles(d), []);
  });

  test('a corrupted blob fails verification, stores nothing, and a clean pull then succeeds', async () => {
    const img = buildImage({ layers: [[{ name: 'f', content: Buffer.alloc(300_000, 7) }]] });
    await pushImage(reg.url, 'h/corrupt', 'v1', img);
    proxy.blobMode = { kind: 'corrupt', at: 100, only: img.layers[0].digest };
    const r = await pullApi('h/corrupt', 'v1');
    assert.match(lastError(r.text) ?? '', new RegExp(`filesystem layer verification failed for digest ${img.layers[0].digest}`));
    assert.deepEqual(partialFiles(d), [], 'bad bytes are not kept');
    assert.deepEqual(stagedLayers(d), [], 'what was unpacked from the bad bytes is removed');
    assert.equal((await d.api('GET', `/images/${proxy.host}/h/corrupt:v1/json`)).status, 404);
    proxy.blobMode = { kind: 'pass' };
    const ok = await pullApi('h/corrupt', 'v1');
    assert.equal(lastError(ok.text), undefined, ok.text);
  });

  test('a registry that hangs times out', async () => {
    const img = buildImage({ layers: [[{ name: 'hang', content: 'h' }]] });
    await pushImage(reg.url, 'h/hang', 'v1', img);
    proxy.blobMode = { kind: 'hang' };
    const started = Date.now();
    const r = await pullApi('h/hang', 'v1');
    assert.match(lastError(r.text) ?? '', /timeout/);
    assert.ok(Date.now() - started < 20_000);
    proxy.blobMode = { kind: 'pass' };
  });

  /** Serves `body` for manifest requests of repository `repo`. */
  function fakeManifest(repo: string, answer: (res: import('node:http').ServerResponse) => void): void {
    proxy.override = (req, res) => {
      if (!(req.url ?? '').startsWith(`/v2/${repo}/manifests/`)) return false;
      answer(res);
      return true;
    };
  }

  const bad: [string, (res: import('node:http').ServerResponse) => void, RegExp][] = [
    [
      'schema 1',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
        res.end(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'v1', fsLayers: [], history: [] }));
      },
      /schema 1 support has been removed/,
    ],
    [
      'malformed JSON',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
        res.end('{"schemaVersion": 2, "config": ');
      },
      /invalid manifest/,
    ],
    [
      'a wrong media type',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>hello</html>');
      },
      /invalid manifest|unsupported manifest/,
    ],
    [
      'an oversized manifest',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json', 'Content-Length': String(5 * 1024 * 1024) });
        res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      },
      /too large/,
    ],
    [
      'a truncated manifest',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json', 'Content-Length': '1000' });
        res.write('{"schemaVersion":2');
        setTimeout(() => res.socket?.destroy(), 50);
      },
      /short read|aborted|socket|closed|reset/i,
    ],
    [
      'a descriptor with a bad digest',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
        res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 2, digest: 'sha256:../../etc/passwd' }, layers: [] }));
      },
      /invalid digest/,
    ],
    [
      'a redirect loop',
      (res) => {
        res.writeHead(302, { Location: '/v2/h/evil/manifests/v1' });
        res.end();
      },
      /redirects/,
    ],
  ];
  for (const [what, answer, expected] of bad) {
    test(`a manifest with ${what} is refused clearly and creates nothing`, async () => {
      fakeManifest('h/evil', answer);
      try {
        const before = (await d.api('GET', '/images/json')).body.length;
        const r = await pullApi('h/evil', 'v1');
        const msg = r.status === 200 ? lastError(r.text) : r.body?.message;
        assert.match(msg ?? '', expected, `${r.status} ${r.text.slice(0, 500)}`);
        assert.equal((await d.api('GET', '/images/json')).body.length, before);
        assert.equal((await d.api('GET', '/_ping')).status, 200, 'the daemon is alive');
      } finally {
        proxy.override = undefined;
      }
    });
  }

  test('a config blob that does not match its digest is refused', async () => {
    const img = buildImage({ layers: [[{ name: 'c', content: 'c' }]] });
    await pushImage(reg.url, 'h/cfg', 'v1', img);
    proxy.override = (req, res) => {
      if (req.url !== `/v2/h/cfg/blobs/${img.configDigest}`) return false;
      const forged = Buffer.from(img.config.toString().replace('amd64', 'arm64'));
      res.writeHead(200, { 'Content-Length': String(forged.length) });
      res.end(forged);
      return true;
    };
    try {
      const r = await pullApi('h/cfg', 'v1');
      assert.match(lastError(r.text) ?? r.text, /verification failed/);
    } finally {
      proxy.override = undefined;
    }
  });
});

describe('registry: basic auth (htpasswd) and docker login', { skip }, () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let other: TestDaemon;
  before(async () => {
    reg = await startRegistry({ htpasswd: { user: 'alice', password: 's3cret' } });
    d = await startDaemon();
    other = await startDaemon({ noDefaultImage: true });
  });
  after(async () => {
    await reg?.stop();
    await stopAndCheckClean(d);
    await stopAndCheckClean(other);
  });

  test('bad credentials: docker login fails with 401 and stores nothing', async () => {
    const r = await d.docker(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'wrong\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /401 Unauthorized/);
    const api = await d.api('POST', '/auth', { username: 'alice', password: 'nope', serveraddress: reg.host });
    assert.equal(api.status, 401);
    assert.equal(api.body.message, `login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`);
    const cfg = path.join(d.dockerConfig, 'config.json');
    if (fs.existsSync(cfg)) assert.equal(JSON.parse(fs.readFileSync(cfg, 'utf8')).auths?.[reg.host], undefined);
  });

  test('login, push, pull with credentials; anonymous pulls are refused', async () => {
    const login = await d.docker(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 's3cret\n' });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    const cfg = JSON.parse(fs.readFileSync(path.join(d.dockerConfig, 'config.json'), 'utf8'));
    assert.equal(cfg.auths[reg.host].auth, Buffer.from('alice:s3cret').toString('base64'));
    const api = await d.api('POST', '/auth', { username: 'alice', password: 's3cret', serveraddress: `http://${reg.host}` });
    assert.deepEqual(api.body, { Status: 'Login Succeeded', IdentityToken: '' });
    await d.dockerOk(['tag', 'busybox', `${reg.host}/private/bb:v1`]);
    const push = await d.docker(['push', `${reg.host}/private/bb:v1`]);
    assert.equal(push.code, 0, push.stderr);
    const anon = await other.docker(['pull', `${reg.host}/private/bb:v1`]);
    assert.equal(anon.code, 1);
    assert.match(anon.stderr, /no basic auth credentials/);
    const auth = Buffer.from(JSON.stringify({ username: 'alice', password: 's3cret', serveraddress: reg.host })).toString('base64url');
    const pulled = await other.api('POST', `/images/create?fromImage=${reg.host}/private/bb&tag=v1`, undefined, { 'X-Registry-Auth': auth });
    assert.equal(messages(pulled.text).find((m) => m.error), undefined, pulled.text);
    assert.equal(await imageId(other, `${reg.host}/private/bb:v1`), await imageId(d, 'busybox'));
    const logout = await d.dockerOk(['logout', reg.host]);
    assert.match(logout, /Removing login credentials/);
    const after = await d.docker(['push', `${reg.host}/private/bb:v1`]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /no basic auth credentials/);
  });
});

describe('registry: TLS (custom CA, client certificates, insecure registries)', { skip }, () => {
  let reg: TestRegistry;
  let mtls: TestRegistry;
  let d: TestDaemon;
  let certsDir: string;
  let pkiDir: string;
  let pki: TestPki;
  let skopeoCerts: string;
  /** The same registry by a name that is not loopback (0.0.0.0 still reaches it): a secure registry. */
  const secure = (r: TestRegistry): string => `0.0.0.0:${r.port}`;
  before(async () => {
    pkiDir = fs.mkdtempSync('/tmp/btpki-');
    pki = await makeServerPki(pkiDir);
    reg = await startRegistry({ tls: { cert: pki.serverCert, key: pki.serverKey } });
    mtls = await startRegistry({ tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert } });
    certsDir = path.join(pkiDir, 'certs.d');
    fs.mkdirSync(certsDir);
    // skopeo's --cert-dir, holding just the CA (it refuses a key without its certificate, as Docker does)
    skopeoCerts = path.join(pkiDir, 'skopeo');
    fs.mkdirSync(skopeoCerts);
    fs.copyFileSync(pki.caCert, path.join(skopeoCerts, 'ca.crt'));
    d = await startDaemon({ args: ['--registry-certs-dir', certsDir] });
  });
  after(async () => {
    await reg?.stop();
    await mtls?.stop();
    await stopAndCheckClean(d);
    fs.rmSync(pkiDir, { recursive: true, force: true });
  });

  test('a loopback registry is insecure: its certificate is not verified, as with dockerd', async () => {
    const name = `${reg.host}/insecure/bb:v1`;
    await d.dockerOk(['tag', 'busybox', name]);
    const r = await d.docker(['push', name]);
    assert.equal(r.code, 0, r.stderr);
    const sk = await run('skopeo', ['inspect', '--cert-dir', skopeoCerts, `docker://${name}`]);
    assert.equal(sk.code, 0, sk.stderr);
  });

  test('a secure registry with an unknown CA is refused; with ca.crt in certs.d/<host:port>/ push and pull work', async () => {
    const name = `${secure(reg)}/tls/bb:v1`;
    await d.dockerOk(['tag', 'busybox', name]);
    const refused = await d.docker(['push', name]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /certificate/i);
    fs.mkdirSync(path.join(certsDir, secure(reg)));
    fs.copyFileSync(pki.caCert, path.join(certsDir, secure(reg), 'ca.crt'));
    const ok = await d.docker(['push', name]);
    assert.equal(ok.code, 0, ok.stderr);
    const sk = await run('skopeo', ['inspect', '--cert-dir', skopeoCerts, `docker://${reg.host}/tls/bb:v1`]);
    assert.equal(sk.code, 0, sk.stderr);
    await d.dockerOk(['rmi', name]);
    await d.dockerOk(['pull', name]);
  });

  test('client certificates: client.cert + client.key in certs.d; a key without its certificate is a clear error', async () => {
    const host = secure(mtls);
    const dir = path.join(certsDir, host);
    fs.mkdirSync(dir);
    fs.copyFileSync(pki.caCert, path.join(dir, 'ca.crt'));
    const name = `${host}/mtls/bb:v1`;
    await d.dockerOk(['tag', 'busybox', name]);
    const noCert = await d.docker(['push', name]);
    assert.equal(noCert.code, 1, 'the registry requires a client certificate');
    fs.copyFileSync(pki.clientKey, path.join(dir, 'client.key'));
    const halfPair = await d.docker(['push', name]);
    assert.equal(halfPair.code, 1);
    assert.match(halfPair.stderr, /missing client certificate client\.cert for key client\.key/);
    fs.copyFileSync(pki.clientCert, path.join(dir, 'client.cert'));
    const ok = await d.docker(['push', name]);
    assert.equal(ok.code, 0, ok.stderr);
    await d.dockerOk(['rmi', name]);
    await d.dockerOk(['pull', name]);
  });
});

describe('registry: bearer tokens from a token server', { skip }, () => {
  let reg: TestRegistry;
  let tokens: TokenServer;
  let d: TestDaemon;
  let other: TestDaemon;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync('/tmp/bttok-');
    const signing = await makeSigningCert(dir);
    tokens = await startTokenServer({ cert: signing.cert, key: signing.key, issuer: 'berth-test-issuer', service: 'berth-test-registry', users: { bob: 'hunter2' } });
    reg = await startRegistry({ token: { realm: tokens.url, service: 'berth-test-registry', issuer: 'berth-test-issuer', rootCertBundle: signing.cert } });
    d = await startDaemon();
    other = await startDaemon({ noDefaultImage: true });
  });
  after(async () => {
    await reg?.stop();
    await tokens?.close();
    await stopAndCheckClean(d);
    await stopAndCheckClean(other);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('login checks the password at the token server', async () => {
    const bad = await d.docker(['login', '-u', 'bob', '--password-stdin', reg.host], { input: 'wrong\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unauthorized/);
    const ok = await d.docker(['login', '-u', 'bob', '--password-stdin', reg.host], { input: 'hunter2\n' });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('push and pull with scoped tokens, cached until they expire; mounts need pull on the source', async () => {
    await d.dockerOk(['tag', 'busybox', `${reg.host}/tok/app:v1`]);
    const push = await d.docker(['push', `${reg.host}/tok/app:v1`]);
    assert.equal(push.code, 0, push.stderr);
    assert.ok(tokens.requests.some((r) => r.user === 'bob' && r.scopes.includes('repository:tok/app:pull,push')), JSON.stringify(tokens.requests));
    await d.dockerOk(['tag', 'busybox', `${reg.host}/tok/copy:v1`]);
    const mounted = await d.dockerOk(['push', `${reg.host}/tok/copy:v1`]);
    assert.match(mounted, /Mounted from tok\/app/);
    const count = tokens.requests.length;
    await d.dockerOk(['push', `${reg.host}/tok/app:v1`]);
    assert.equal(tokens.requests.length, count, 'the cached token is reused');
    const anon = await other.docker(['pull', `${reg.host}/tok/app:v1`]);
    assert.equal(anon.code, 1);
    assert.match(anon.stderr, /unauthorized|denied/);
    const auth = Buffer.from(JSON.stringify({ username: 'bob', password: 'hunter2', serveraddress: reg.host })).toString('base64url');
    const pulled = await other.api('POST', `/images/create?fromImage=${reg.host}/tok/app&tag=v1`, undefined, { 'X-Registry-Auth': auth });
    assert.equal(messages(pulled.text).find((m) => m.error), undefined, pulled.text);
    assert.equal(await imageId(other, `${reg.host}/tok/app:v1`), await imageId(d, 'busybox'));
  });
});
