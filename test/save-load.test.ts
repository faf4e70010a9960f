// docker save / docker load: Docker 25+'s archive format written byte-exactly, archives from
// dockerd 20.10, skopeo (docker-archive and oci-archive) and umoci loaded, Berth's archives read by
// those tools, round trips through both CLIs, and hostile archives refused without a trace.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { legacyLayerConfigs } from '../src/archive/image-archive/legacy-v1.js';
import { busyboxTar, lines, makeTar, REPO, run, startDaemon, stopAndCheckClean, waitFor, type TarEntry, type TestDaemon } from './harness.js';
import { startDockerd, which, type Dockerd } from './peers.js';

let d: TestDaemon;
let dockerd: Dockerd | undefined;
let dockerdSkip = '';
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync('/tmp/bsl-');
  d = await startDaemon();
  try {
    dockerd = await startDockerd({ busybox: true });
  } catch (e) {
    dockerdSkip = `dockerd could not start: ${(e as Error).message.split('\n')[0]}`;
  }
});

after(async () => {
  await dockerd?.stop();
  await stopAndCheckClean(d);
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- helpers ----------------------------------------------------------------------------------

const sha = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');
const hex = (digest: string): string => digest.replace(/^sha256:/, '');
const ARCH = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;

/** A ustar archive, names written verbatim (hostile ones included), with a fixed mtime by default so layers are reproducible. */
function tarOf(entries: TarEntry[]): Buffer {
  return makeTar(entries.map((e) => ({ mtime: 1_700_000_000, ...e })));
}

interface TarRecord {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: string;
  uname: string;
  magic: string;
  data: Buffer;
}

/** The entries of a plain ustar archive (what Berth and dockerd write), with raw header fields. */
function readTar(buf: Buffer): TarRecord[] {
  const out: TarRecord[] = [];
  let off = 0;
  const str = (b: Buffer): string => b.toString('utf8').replace(/\0.*$/s, '');
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = parseInt(str(h.subarray(124, 136)) || '0', 8);
    const prefix = str(h.subarray(345, 500));
    const name = (prefix ? `${prefix}/` : '') + str(h.subarray(0, 100));
    out.push({
      name,
      mode: parseInt(str(h.subarray(100, 108)), 8),
      uid: parseInt(str(h.subarray(108, 116)), 8),
      gid: parseInt(str(h.subarray(116, 124)), 8),
      size,
      mtime: parseInt(str(h.subarray(136, 148)), 8),
      type: String.fromCharCode(h[156]),
      linkname: str(h.subarray(157, 257)),
      uname: str(h.subarray(265, 297)),
      magic: h.subarray(257, 265).toString('latin1'),
      data: buf.subarray(off + 512, off + 512 + size),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function fileMap(buf: Buffer): Map<string, Buffer> {
  return new Map(readTar(buf).filter((r) => r.type === '0').map((r) => [r.name.replace(/^\.\//, ''), r.data]));
}

function imageConfig(layers: Buffer[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architecture: ARCH,
    os: 'linux',
    created: '2024-01-02T03:04:05.123456789Z',
    config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) },
    history: layers.map((_, i) => ({ created: '2024-01-02T03:04:05Z', created_by: `/bin/sh -c step ${i}` })),
    ...extra,
  };
}

interface HandImage {
  layers: Buffer[];
  /** Layer contents as stored in the archive (default: the layers, uncompressed). */
  stored?: Buffer[];
  config?: Record<string, unknown>;
  tags: string[];
}

/** A docker-archive in Docker 1.10–24's layout: <hex>.json configs and <dir>/layer.tar layers. */
function dockerArchive(images: HandImage[], extra: TarEntry[] = []): { tar: Buffer; ids: string[] } {
  const entries: TarEntry[] = [];
  const manifest: object[] = [];
  const ids: string[] = [];
  for (const img of images) {
    const config = Buffer.from(JSON.stringify(img.config ?? imageConfig(img.layers)));
    ids.push(sha(config));
    const layerPaths: string[] = [];
    img.layers.forEach((l, i) => {
      const p = `${hex(sha(l))}/layer.tar`;
      if (!entries.some((e) => e.name === p)) entries.push({ name: p, content: img.stored?.[i] ?? l });
      layerPaths.push(p);
    });
    entries.push({ name: `${hex(sha(config))}.json`, content: config });
    manifest.push({ Config: `${hex(sha(config))}.json`, RepoTags: img.tags, Layers: layerPaths });
  }
  entries.push({ name: 'manifest.json', content: JSON.stringify(manifest) }, ...extra);
  return { tar: tarOf(entries), ids };
}

const layerA = tarOf([{ name: 'etc', type: 'dir' }, { name: 'etc/a.txt', content: 'layer a\n' }]);
const layerB = tarOf([{ name: 'etc/b.txt', content: 'layer b\n' }, { name: 'etc/.wh.a.txt' }]);

/** The daemon's stores, to prove a failed load changed nothing. */
function storeState(t: TestDaemon): Record<string, unknown> {
  const ls = (p: string): string[] => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);
  const root = t.dataRoot;
  return {
    blobs: ls(path.join(root, 'content/blobs/sha256')),
    ingest: ls(path.join(root, 'content/ingest')),
    snapshots: ls(path.join(root, 'snapshots')),
    snapshotRecords: ls(path.join(root, 'metadata/snapshots')),
    images: ls(path.join(root, 'metadata/images')),
    references: fs.readFileSync(path.join(root, 'metadata/references.json'), 'utf8'),
  };
}

interface Message {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
}

async function apiLoad(t: TestDaemon, body: Buffer, quiet = true): Promise<{ status: number; messages: Message[] }> {
  const r = await t.api('POST', `/images/load?quiet=${quiet ? 1 : 0}`, body);
  const messages = r.text.split(/\r?\n/).filter(Boolean).map((l) => JSON.parse(l) as Message);
  return { status: r.status, messages };
}

function loadedLines(messages: Message[]): string[] {
  return messages.filter((m) => m.stream).map((m) => m.stream!);
}

async function inspect(t: { docker(a: string[]): Promise<{ code: number; stdout: string; stderr: string }> }, ref: string): Promise<any> {
  const r = await t.docker(['image', 'inspect', ref]);
  assert.equal(r.code, 0, `inspect ${ref}: ${r.stderr}`);
  return JSON.parse(r.stdout)[0];
}

async function apiSave(t: TestDaemon, query: string): Promise<Buffer> {
  const r = await t.api('GET', query);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'application/x-tar');
  return r.raw;
}

// ---- the legacy v1 JSON -----------------------------------------------------------------------

describe('legacy layer configs', () => {
  test('match what dockerd 20.10 wrote for the same image, byte for byte', () => {
    // From `docker save` of a committed two-layer image on dockerd 20.10.24.
    const config = JSON.parse(
      '{"architecture":"amd64","config":{"Hostname":"65e7a05db075","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["cat","/hello"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"container":"65e7a05db07555840b50e22cef63c73ea9e2f3158cdcbf06b17053888ebff15d","container_config":{"Hostname":"65e7a05db075","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["sh","-c","echo hi \\u003e /hello"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"created":"2026-11-23T21:13:08.798842568Z","docker_version":"20.10.24+dfsg1","history":[{"created":"2026-11-23T21:13:06.366370175Z","comment":"Imported from -"},{"created":"2026-11-23T21:13:08.798842568Z","created_by":"sh -c echo hi \\u003e /hello"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:dca3da9ea622ae0e2fdf407ac29ff0bf62b9a29fabd8bf877fb4c3f7e0c7c150","sha256:f33f84a24b6380d0088441c6509d7b3049c9865f6a4441f968fc1a1b0d83f748"]}}',
    );
    const diffIds: string[] = config.rootfs.diff_ids;
    const chain = [diffIds[0], sha(`${diffIds[0]} ${diffIds[1]}`)];
    const got = legacyLayerConfigs(config, chain);
    assert.deepEqual(
      got.map((g) => g.id),
      ['d4fcb7d0f5414e67d4e553ffabec3cd818a2e317a5492fda958826a81ebfc6dd', 'e13d963839f79ed10ecd0ff0e2b41da8fb7c1a6e7672989c2a7e317a86e32702'],
    );
    const empty = '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}';
    assert.equal(got[0].json.toString(), `{"id":"d4fcb7d0f5414e67d4e553ffabec3cd818a2e317a5492fda958826a81ebfc6dd","created":"1970-01-01T00:00:00Z","container_config":${empty},"os":"linux"}`);
    assert.equal(
      got[1].json.toString(),
      '{"id":"e13d963839f79ed10ecd0ff0e2b41da8fb7c1a6e7672989c2a7e317a86e32702","parent":"d4fcb7d0f5414e67d4e553ffabec3cd818a2e317a5492fda958826a81ebfc6dd","created":"2026-11-23T21:13:08.798842568Z","container":"65e7a05db07555840b50e22cef63c73ea9e2f3158cdcbf06b17053888ebff15d","container_config":{"Hostname":"65e7a05db075","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["sh","-c","echo hi \\u003e /hello"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"docker_version":"20.10.24+dfsg1","config":{"Hostname":"65e7a05db075","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["cat","/hello"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"architecture":"amd64","os":"linux"}',
    );
  });
});

// ---- save -------------------------------------------------------------------------------------

describe('save', () => {
  let twoLayer: string;

  before(async () => {
    const { tar, ids } = dockerArchive([{ layers: [layerA, layerB], tags: ['two/layers:1', 'two/layers:2'] }]);
    const r = await apiLoad(d, tar);
    assert.deepEqual(loadedLines(r.messages), ['Loaded image: two/layers:1\n', 'Loaded image: two/layers:2\n']);
    twoLayer = ids[0];
    await d.dockerOk(['tag', 'busybox', 'other/box:x']);
  });

  test("every image's layers are in the content store, the embedded busybox's too", async () => {
    for (const ref of ['busybox', 'two/layers:1']) {
      for (const diffId of (await inspect(d, ref)).RootFS.Layers as string[]) {
        const blob = path.join(d.dataRoot, 'content/blobs/sha256', hex(diffId));
        assert.ok(fs.existsSync(blob), `${ref}: layer blob ${diffId} missing`);
        assert.equal(sha(fs.readFileSync(blob)), diffId);
      }
    }
  });

  test("Docker 25+'s layout: OCI index and manifests plus manifest.json and repositories, as dockerd writes them", async () => {
    const buf = await apiSave(d, '/images/get?names=two/layers:1&names=busybox:latest');
    const recs = readTar(buf);
    const blobs = recs.filter((r) => r.name.startsWith('blobs/sha256/') && r.type === '0').map((r) => r.name);
    assert.deepEqual(
      recs.map((r) => r.name),
      ['blobs/', 'blobs/sha256/', ...[...blobs].sort(), 'index.json', 'manifest.json', 'oci-layout', 'repositories'],
    );
    // Go's tar headers: type bits in the mode, root-owned, no user names, PAX/ustar magic.
    for (const r of recs) {
      assert.equal(r.mode, r.type === '5' ? 0o40755 : 0o100644, r.name);
      assert.equal(r.uid, 0);
      assert.equal(r.gid, 0);
      assert.equal(r.uname, '');
      assert.equal(r.magic, 'ustar\u000000');
    }
    // Content addressed: every blob's name is its digest.
    const files = fileMap(buf);
    for (const b of blobs) assert.equal(hex(sha(files.get(b)!)), path.basename(b), b);

    assert.equal(files.get('oci-layout')!.toString(), '{"imageLayoutVersion": "1.0.0"}');
    const busybox = await inspect(d, 'busybox:latest');
    const two = await inspect(d, 'two/layers:1');
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    assert.ok(files.get('manifest.json')!.toString().endsWith(']\n'));
    assert.deepEqual(manifest, [
      {
        Config: `blobs/sha256/${hex(twoLayer)}`,
        RepoTags: ['two/layers:1'],
        Layers: two.RootFS.Layers.map((l: string) => `blobs/sha256/${hex(l)}`),
        LayerSources: Object.fromEntries(
          two.RootFS.Layers.map((l: string) => [l, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l, size: files.get(`blobs/sha256/${hex(l)}`)!.length }]),
        ),
      },
      {
        Config: `blobs/sha256/${hex(busybox.Id)}`,
        RepoTags: ['busybox:latest'],
        Layers: busybox.RootFS.Layers.map((l: string) => `blobs/sha256/${hex(l)}`),
        LayerSources: Object.fromEntries(
          busybox.RootFS.Layers.map((l: string) => [l, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l, size: files.get(`blobs/sha256/${hex(l)}`)!.length }]),
        ),
      },
    ]);
    assert.equal(
      files.get('repositories')!.toString(),
      `{"busybox":{"latest":"${hex(busybox.RootFS.Layers.at(-1))}"},"two/layers":{"1":"${hex(two.RootFS.Layers.at(-1))}"}}\n`,
    );
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(
      index.manifests.map((m: any) => m.annotations),
      [
        { 'io.containerd.image.name': 'docker.io/two/layers:1', 'org.opencontainers.image.ref.name': '1' },
        { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
      ],
    );
    const ociManifest = JSON.parse(files.get(`blobs/sha256/${hex(index.manifests[0].digest)}`)!.toString());
    assert.deepEqual(ociManifest, {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: twoLayer, size: files.get(`blobs/sha256/${hex(twoLayer)}`)!.length },
      layers: two.RootFS.Layers.map((l: string) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l, size: files.get(`blobs/sha256/${hex(l)}`)!.length })),
    });
    // The config is stored and saved byte for byte: its digest is the image id.
    assert.equal(sha(files.get(`blobs/sha256/${hex(twoLayer)}`)!), twoLayer);
    // mtimes as dockerd sets them: the image's creation time on its config and layers, the epoch on the rest.
    const created = Math.floor(Date.parse('2024-01-02T03:04:05Z') / 1000);
    const mtime = new Map(recs.map((r) => [r.name, r.mtime]));
    assert.equal(mtime.get(`blobs/sha256/${hex(twoLayer)}`), created);
    assert.equal(mtime.get(`blobs/sha256/${hex(two.RootFS.Layers[0])}`), created);
    assert.equal(mtime.get(`blobs/sha256/${hex(index.manifests[0].digest)}`), 0);
    assert.equal(mtime.get('blobs/sha256/'), 0);
    assert.equal(mtime.get('blobs/'), Math.floor(Date.parse(busybox.Created) / 1000));
    for (const f of ['index.json', 'manifest.json', 'oci-layout', 'repositories']) assert.equal(mtime.get(f), 0, f);
    // One legacy v1 JSON per layer; nothing else.
    const legacy = blobs.filter((b) => files.get(b)!.toString().startsWith('{"id":'));
    assert.equal(legacy.length, two.RootFS.Layers.length + busybox.RootFS.Layers.length);
    assert.equal(blobs.length, legacy.length + 2 /* configs */ + 2 /* manifests */ + two.RootFS.Layers.length + busybox.RootFS.Layers.length);
  });

  test('deterministic: the same images give the same bytes, through the API and both CLIs', async () => {
    const a = await apiSave(d, '/images/get?names=two/layers:1');
    const b = await apiSave(d, '/images/two%2Flayers:1/get');
    assert.ok(a.equals(b));
    const viaDocker = path.join(tmp, 'docker-save.tar');
    const viaBerth = path.join(tmp, 'berth-save.tar');
    await d.dockerOk(['save', '-o', viaDocker, 'two/layers:1']);
    await d.berthOk(['save', '--output', viaBerth, 'two/layers:1']);
    assert.ok(fs.readFileSync(viaDocker).equals(a));
    assert.ok(fs.readFileSync(viaBerth).equals(a));
    // To stdout, and `image save`.
    const out = path.join(tmp, 'stdout.tar');
    const r = await run('sh', ['-c', `"${process.execPath}" ${path.join(REPO, 'dist/berth.cjs')} -H ${d.host} image save two/layers:1 > ${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(out).equals(a));
  });

  test('names: a repository saves all its tags; an id saves the image untagged; tags are deduplicated', async () => {
    const files = fileMap(await apiSave(d, '/images/get?names=two/layers&names=two/layers:2'));
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    assert.deepEqual(manifest.map((m: any) => m.RepoTags), [['two/layers:1', 'two/layers:2']]);
    const byId = fileMap(await apiSave(d, `/images/get?names=${hex(twoLayer)}`));
    assert.equal(JSON.parse(byId.get('manifest.json')!.toString())[0].RepoTags, null);
    const index = JSON.parse(byId.get('index.json')!.toString());
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations, undefined);
    assert.equal(byId.has('repositories'), false);
    // No names: an archive with no images, as dockerd sends.
    const none = fileMap(await apiSave(d, '/images/get'));
    assert.equal(none.get('manifest.json')!.toString(), 'null\n');
    assert.equal(JSON.parse(none.get('index.json')!.toString()).manifests, null);
    const short = fileMap(await apiSave(d, `/images/get?names=${hex(twoLayer).slice(0, 12)}`));
    assert.equal(JSON.parse(short.get('manifest.json')!.toString())[0].Config, `blobs/sha256/${hex(twoLayer)}`);
  });

  test('errors: unknown images, unknown tags, bad names, bad output paths', async () => {
    let r = await d.api('GET', '/images/get?names=nosuch');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { message: 'No such image: nosuch' });
    r = await d.api('GET', '/images/get?names=busybox&names=busybox:nosuchtag');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { message: 'reference does not exist' });
    r = await d.api('GET', '/images/get?names=UPPER');
    assert.equal(r.status, 400);
    for (const cli of [d.docker.bind(d), d.berth.bind(d)]) {
      const missing = await cli(['save', '-o', path.join(tmp, 'never.tar'), 'nosuch:1']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /reference does not exist/);
      const badDir = await cli(['save', '-o', path.join(tmp, 'no/such/dir.tar'), 'busybox']);
      assert.deepEqual(badDir, { code: 1, stdout: '', stderr: `failed to save image: invalid output path: stat ${path.join(tmp, 'no/such')}: no such file or directory\n` });
      const notDir = await cli(['save', '-o', '/etc/passwd/x.tar', 'busybox']);
      assert.deepEqual(notDir, { code: 1, stdout: '', stderr: 'failed to save image: invalid output path: stat /etc/passwd: not a directory\n' });
      const isDir = await cli(['save', '-o', tmp, 'busybox']);
      assert.deepEqual(isDir, { code: 1, stdout: '', stderr: 'failed to save image: cannot write to a directory\n' });
    }
    assert.equal(fs.existsSync(path.join(tmp, 'never.tar')), false);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('.docker_temp')), []);
  });
});

// ---- load and round trips ---------------------------------------------------------------------

describe('load', () => {
  test('save → rmi → load keeps ids, tags, history and layers (docker CLI and berth CLI)', async () => {
    const base = busyboxTar([{ name: 'etc', type: 'dir' }, { name: 'etc/a.txt', content: 'layer a\n' }]);
    const { tar } = dockerArchive([{ layers: [base, layerB], tags: ['round/trip:1'] }]);
    await apiLoad(d, tar);
    await d.dockerOk(['tag', 'round/trip:1', 'round/trip:2']);
    const before1 = await inspect(d, 'round/trip:1');
    const history1 = await d.dockerOk(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}|{{.Size}}', 'round/trip:1']);
    for (const [saver, loader] of [
      ['docker', 'berth'],
      ['berth', 'docker'],
    ] as const) {
      const file = path.join(tmp, `rt-${saver}.tar`);
      const cli = (who: string) => (who === 'docker' ? d.dockerOk.bind(d) : d.berthOk.bind(d));
      await cli(saver)(['save', '-o', file, 'round/trip']);
      await d.dockerOk(['rmi', 'round/trip:1', 'round/trip:2']);
      assert.notEqual((await d.docker(['image', 'inspect', before1.Id])).code, 0);
      const out = await cli(loader)(['load', '-i', file]);
      assert.equal(out, 'Loaded image: round/trip:1\nLoaded image: round/trip:2\n');
      const after1 = await inspect(d, 'round/trip:1');
      assert.equal(after1.Id, before1.Id);
      assert.deepEqual(after1.RepoTags, ['round/trip:1', 'round/trip:2']);
      assert.deepEqual(after1.RootFS, before1.RootFS);
      assert.equal(after1.Created, before1.Created);
      assert.deepEqual(after1.Config, before1.Config);
      assert.equal(await d.dockerOk(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}|{{.Size}}', 'round/trip:1']), history1);
    }
    // The layers are unpacked, whiteouts and all.
    assert.equal(await d.dockerOk(['run', '--rm', 'round/trip:1', 'sh', '-c', 'cat /etc/b.txt; test -e /etc/a.txt || echo a is gone']), 'layer b\na is gone\n');
  });

  test('a stdin load, gzip-compressed archives and layers, and progress messages as Docker sends them', async () => {
    const layers = [busyboxTar(), tarOf([{ name: 'gz.txt', content: 'from a gzip layer\n' }])];
    const { tar, ids } = dockerArchive([{ layers, stored: layers.map((l) => gzipSync(l)), tags: ['gz/img:1'] }]);
    const state = storeState(d);
    const r = await apiLoad(d, gzipSync(tar), false);
    assert.equal(r.status, 200);
    const progress = r.messages.filter((m) => m.status === 'Loading layer');
    // The busybox layer's diff id may already be present as a snapshot (same bytes): only new layers report.
    assert.ok(progress.length >= 1);
    for (const p of progress) {
      assert.match(p.id!, /^[a-f0-9]{12}$/);
      assert.match(p.progress!, /^\[=*> *\] +[0-9.]+k?M?B\/[0-9.]+k?M?B$/);
    }
    const last = progress.at(-1)!;
    assert.equal(last.progressDetail!.current, last.progressDetail!.total);
    assert.deepEqual(loadedLines(r.messages), ['Loaded image: gz/img:1\n']);
    assert.equal((await inspect(d, 'gz/img:1')).Id, ids[0]);
    // Stored uncompressed under the diff id.
    for (const l of layers) assert.ok(fs.existsSync(path.join(d.dataRoot, 'content/blobs/sha256', hex(sha(l)))));
    assert.equal(await d.dockerOk(['run', '--rm', 'gz/img:1', 'cat', '/gz.txt']), 'from a gzip layer\n');
    assert.notDeepEqual(storeState(d), state);

    // Again, through stdin: nothing new to unpack, so no progress; the same image.
    const again = await d.docker(['load'], { input: tar });
    assert.deepEqual(again, { code: 0, stdout: 'Loaded image: gz/img:1\n', stderr: '' });
    const quietAgain = await apiLoad(d, tar, false);
    assert.deepEqual(quietAgain.messages.filter((m) => m.status), []);
    const berthStdin = await d.berth(['load', '-q'], { input: gzipSync(tar) });
    assert.deepEqual(berthStdin, { code: 0, stdout: 'Loaded image: gz/img:1\n', stderr: '' });
  });

  test('large layers unpacked while the archive spools: same files, whiteouts across layers, nothing left by a failed load', async () => {
    const big1 = randomBytes(1_500_000);
    const big2 = randomBytes(1_200_000);
    const lower = busyboxTar([{ name: 'data', type: 'dir' }, { name: 'data/one', content: big1 }, { name: 'data/gone.txt', content: 'lower\n' }]);
    const upper = tarOf([{ name: 'data/two', content: big2 }, { name: 'data/.wh.gone.txt' }]);
    const { tar } = dockerArchive([{ layers: [lower, upper], tags: ['early/unpack:1'] }]);
    const r = await apiLoad(d, tar, false);
    assert.equal(r.status, 200, JSON.stringify(r.messages));
    const progress = r.messages.filter((m) => m.status === 'Loading layer');
    assert.ok(progress.length >= 1);
    for (const p of progress.filter((m) => m.progressDetail!.current === m.progressDetail!.total)) assert.match(p.id!, /^[a-f0-9]{12}$/);
    const sums = await d.dockerOk(['run', '--rm', 'early/unpack:1', 'sh', '-c', 'md5sum /data/one /data/two | cut -c1-32; ls /data']);
    const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
    assert.equal(sums, `${md5(big1)}\n${md5(big2)}\none\ntwo\n`);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'snapshots')).filter((n) => n.startsWith('tmp-')), []);

    // A large plain tar that is no layer, then a layer that is not what the config says: the
    // load fails and leaves the stores as they were (nothing unpacked ahead survives).
    const fresh = tarOf([{ name: 'fresh', content: randomBytes(1_300_000) }]);
    const claimed = tarOf([{ name: 'claimed', content: randomBytes(1_100_000) }]);
    const config = Buffer.from(JSON.stringify(imageConfig([fresh, claimed])));
    const bad = tarOf([
      { name: 'stray.tar', content: tarOf([{ name: 'stray', content: randomBytes(1_200_000) }]) },
      { name: 'l1/layer.tar', content: fresh },
      { name: 'l2/layer.tar', content: tarOf([{ name: 'impostor', content: randomBytes(1_100_000) }]) },
      { name: 'c.json', content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['early/bad:1'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }]) },
    ]);
    const before = storeState(d);
    const failed = await apiLoad(d, bad);
    assert.match(JSON.stringify(failed.messages), /layer 2 \(l2\/layer.tar\) of image [a-f0-9]{12} does not match its diff id/);
    assert.deepEqual(storeState(d), before);
  });

  test('a large layer is kept as its files plus a tar-split: save gives its tar back byte for byte (GNU tar, entries replaced or whited out in the same layer)', async () => {
    // A GNU tar layer (long names, a hard link, a symlink, record padding after the end marker)
    // with entries appended: a file replaced, a directory replaced by a file, an earlier file whited out.
    const a = path.join(tmp, 'split-a');
    const b = path.join(tmp, 'split-b');
    const big = randomBytes(1_300_000);
    const long = `deep/${'n'.repeat(120)}/file.txt`;
    for (const [rel, content] of [['big.bin', big], [long, 'long name\n'], ['sub/inner.bin', randomBytes(300_000)], ['gone.txt', 'gone\n']] as const) {
      fs.mkdirSync(path.dirname(path.join(a, rel)), { recursive: true });
      fs.writeFileSync(path.join(a, rel), content);
    }
    fs.linkSync(path.join(a, 'big.bin'), path.join(a, 'link'));
    fs.symlinkSync('big.bin', path.join(a, 'sym'));
    fs.mkdirSync(b);
    const big2 = randomBytes(700_000);
    fs.writeFileSync(path.join(b, 'big.bin'), big2);
    fs.writeFileSync(path.join(b, 'sub'), 'now a file\n');
    fs.writeFileSync(path.join(b, '.wh.gone.txt'), '');
    const layerFile = path.join(tmp, 'split-layer.tar');
    for (const [flag, dir, names] of [['-cf', a, ['.']], ['-rf', b, ['./big.bin', './sub', './.wh.gone.txt']]] as const) {
      const r = await run('tar', ['--format=gnu', flag, layerFile, '-C', dir, ...names]);
      assert.equal(r.code, 0, r.stderr);
    }
    const layer = fs.readFileSync(layerFile);
    const diffId = sha(layer);
    const { tar } = dockerArchive([{ layers: [busyboxTar(), layer], tags: ['split/gnu:1'] }]);
    const loaded = await d.docker(['load'], { input: tar });
    assert.equal(loaded.code, 0, loaded.stderr);
    const md5 = (x: Buffer): string => createHash('md5').update(x).digest('hex');
    const seen = await d.dockerOk(['run', '--rm', 'split/gnu:1', 'sh', '-c', `md5sum /big.bin /link | cut -c1-32; cat /sub /${long}; readlink /sym; test -e /gone.txt || echo gone`]);
    assert.equal(seen, `${md5(big2)}\n${md5(big)}\nnow a file\nlong name\nbig.bin\ngone\n`);
    const blobs = path.join(d.dataRoot, 'content/blobs/sha256');
    assert.ok(!fs.existsSync(path.join(blobs, hex(diffId))), 'the layer tar is not stored');
    const other = ((await d.api('GET', '/berth/system/df')).body.Other as { Type: string }[]).map((p) => p.Type);
    assert.ok(other.includes('Tar-splits of loaded layers'), `df counts the tar-split: ${other}`);
    const savedLayer = async (ref: string): Promise<Buffer | undefined> =>
      readTar(await apiSave(d, `/images/get?names=${encodeURIComponent(ref)}`)).find((e) => e.name === `blobs/sha256/${hex(diffId)}`)?.data;
    assert.ok((await savedLayer('split/gnu:1'))?.equals(layer), 'save regenerates the layer byte for byte');

    // The same blob named by its digest over another parent: not unpacked from the archive again
    // but from the tar regenerated here, and the new layer keeps a tar-split of its own.
    const cfg = Buffer.from(JSON.stringify(imageConfig([layerA, layer])));
    const blob = (x: Buffer): string => `blobs/sha256/${hex(sha(x))}`;
    const second = tarOf([
      { name: blob(layerA), content: layerA },
      { name: blob(layer), content: layer },
      { name: blob(cfg), content: cfg },
      { name: 'manifest.json', content: JSON.stringify([{ Config: blob(cfg), RepoTags: ['split/gnu:2'], Layers: [blob(layerA), blob(layer)] }]) },
    ]);
    assert.equal((await apiLoad(d, second)).status, 200);
    await d.dockerOk(['rmi', 'split/gnu:1']);
    assert.ok((await savedLayer('split/gnu:2'))?.equals(layer), 'the second copy regenerates the layer byte for byte');
    assert.ok(!fs.existsSync(path.join(blobs, hex(diffId))));

    // A file changed behind Berth's back (same size): save refuses rather than ship other bytes.
    const upper = (await inspect(d, 'split/gnu:2')).GraphDriver.Data.UpperDir as string;
    fs.writeFileSync(path.join(upper, 'sub'), 'now a fil!\n');
    const bad = await d.docker(['save', '-o', path.join(tmp, 'split-bad.tar'), 'split/gnu:2']);
    assert.notEqual(bad.code, 0, 'save of a changed layer fails');
    await waitFor(() => /changed on disk/.test(d.log()), 'the daemon logs the changed layer', 10_000);
    await d.dockerOk(['rmi', 'split/gnu:2']);
  });

  test('tags in the archive replace existing ones, as Docker does', async () => {
    await d.dockerOk(['tag', 'busybox', 'taken/name:1']);
    const oldId = (await inspect(d, 'taken/name:1')).Id;
    const { tar, ids } = dockerArchive([{ layers: [layerA], tags: ['taken/name:1'] }]);
    const r = await d.docker(['load'], { input: tar });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `The image taken/name:1 already exists, renaming the old one with ID ${oldId} to empty string\nLoaded image: taken/name:1\n`);
    assert.equal((await inspect(d, 'taken/name:1')).Id, ids[0]);
    assert.ok((await inspect(d, oldId)).RepoTags.includes('busybox:latest'));
  });

  test('an untagged image loads as "Loaded image ID"', async () => {
    const { tar, ids } = dockerArchive([{ layers: [layerB], tags: [] }]);
    const r = await d.berth(['load'], { input: tar });
    assert.deepEqual(r, { code: 0, stdout: `Loaded image ID: ${ids[0]}\n`, stderr: '' });
    assert.deepEqual((await inspect(d, ids[0])).RepoTags, []);
  });

  test('an OCI layout named by io.containerd.image.name; an image without layers loads but, as in Docker, cannot be saved', async () => {
    const cfg = Buffer.from(JSON.stringify(imageConfig([])));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cfg), size: cfg.length }, layers: [] }));
    const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': 'docker.io/empty/img:1', 'org.opencontainers.image.ref.name': '1' } }] };
    const tar = tarOf([
      { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', content: JSON.stringify(index) },
      { name: 'blobs/sha256', type: 'dir' },
      { name: `blobs/sha256/${hex(sha(manifest))}`, content: manifest },
      { name: `blobs/sha256/${hex(sha(cfg))}`, content: cfg },
    ]);
    const r = await apiLoad(d, tar);
    assert.deepEqual(loadedLines(r.messages), ['Loaded image: empty/img:1\n']);
    assert.equal((await inspect(d, 'empty/img:1')).Id, sha(cfg));
    const saved = await d.api('GET', '/images/get?names=empty/img:1');
    assert.deepEqual([saved.status, saved.body], [501, { message: 'empty export - not implemented' }]);
  });

  test('load reads the file given with -i; a missing file is an error', async () => {
    for (const cli of [d.docker.bind(d), d.berth.bind(d)]) {
      const r = await cli(['load', '-i', path.join(tmp, 'nosuch.tar')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no such file or directory/);
    }
  });
});

// ---- hostile archives -------------------------------------------------------------------------

describe('hostile archives', () => {
  const sentinel = `berth-evil-${randomBytes(6).toString('hex')}`;
  const good = (): HandImage => ({ layers: [layerA], tags: ['hostile/img:1'] });
  const goodConfig = Buffer.from(JSON.stringify(imageConfig([layerA])));
  const manifestFor = (config: string, layers: string[], tags: unknown = ['hostile/img:1']): TarEntry => ({
    name: 'manifest.json',
    content: JSON.stringify([{ Config: config, RepoTags: tags, Layers: layers }]),
  });
  const goodEntries = (): TarEntry[] => [
    { name: 'l/layer.tar', content: layerA },
    { name: 'c.json', content: goodConfig },
  ];
  // A diff id whose layer is already present is not read at all (as in Docker), so the bad
  // layers below always claim diff ids of layers never stored.
  const freshLayer = (): Buffer => tarOf([{ name: 'fresh.txt', content: randomBytes(16).toString('hex') }]);
  const wrongLayer = tarOf([{ name: 'not-what-the-config-says', content: 'x' }]);
  const gzLayer = gzipSync(busyboxTar([{ name: 'big', content: randomBytes(300_000) }]));

  const cases: [string, () => Buffer, RegExp][] = [
    ['an entry with ..', () => tarOf([...goodEntries(), manifestFor('c.json', ['l/layer.tar']), { name: `../../../../../../../../tmp/${sentinel}`, content: 'x' }]), /entry ".*" points outside the archive/],
    ['an absolute entry', () => tarOf([{ name: `/tmp/${sentinel}`, content: 'x' }, ...goodEntries(), manifestFor('c.json', ['l/layer.tar'])]), /has an absolute path/],
    ['a symlink out of the archive (absolute)', () => tarOf([{ name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }]), /symlink "manifest.json" points outside the archive/],
    ['a symlink out of the archive (..)', () => tarOf([...goodEntries(), { name: 'x/manifest.json', type: 'symlink', linkname: '../../etc/passwd' }]), /points outside the archive/],
    ['a symlink loop', () => tarOf([{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, manifestFor('a', [])]), /too many levels of symbolic links/],
    ['a hard link to nothing', () => tarOf([{ name: 'manifest.json', type: 'link', linkname: 'elsewhere' }]), /hard link "manifest.json" refers to "elsewhere"/],
    ['a config path outside the archive', () => tarOf([...goodEntries(), manifestFor('../../etc/passwd', ['l/layer.tar'])]), /points outside the archive/],
    ['a layer path that is absolute', () => tarOf([...goodEntries(), manifestFor('c.json', ['/etc/passwd'])]), /absolute path/],
    ['a missing layer', () => tarOf([...goodEntries(), manifestFor('c.json', ['nope/layer.tar'])]), /layer 1 "nope\/layer.tar" is not in the archive/],
    ['a missing config', () => tarOf([manifestFor('nope.json', [])]), /image config "nope.json" is not in the archive/],
    ['a layer that is not its diff id', () => {
      const cfg = Buffer.from(JSON.stringify(imageConfig([freshLayer()])));
      return tarOf([{ name: 'l/layer.tar', content: wrongLayer }, { name: 'c.json', content: cfg }, manifestFor('c.json', ['l/layer.tar'])]);
    }, /layer 1 \(l\/layer.tar\) of image [0-9a-f]{12} does not match its diff id/],
    [
      'a gzip layer that is not its diff id (found only once unpacked)',
      () => {
        const cfg = Buffer.from(JSON.stringify(imageConfig([freshLayer()])));
        return tarOf([{ name: 'l/layer.tar', content: gzLayer }, { name: 'c.json', content: cfg }, manifestFor('c.json', ['l/layer.tar'])]);
      },
      /does not match its diff id/,
    ],
    [
      'a second image whose layer is wrong (the first one is taken back)',
      () => {
        const { tar } = dockerArchive([
          { layers: [freshLayer()], tags: ['hostile/first:1'] },
          { layers: [freshLayer()], stored: [gzLayer], tags: ['hostile/second:1'] },
        ]);
        return tar;
      },
      /layer 1 .* of image [0-9a-f]{12} does not match its diff id/,
    ],
    ['a layer that is not a tar', () => {
      const junk = randomBytes(4096);
      const cfg = Buffer.from(JSON.stringify(imageConfig([junk])));
      return tarOf([{ name: 'l/layer.tar', content: junk }, { name: 'c.json', content: cfg }, manifestFor('c.json', ['l/layer.tar'])]);
    }, /invalid archive: layer 1 .*: invalid tar archive/],
    ['a layer escaping its root', () => {
      const evil = tarOf([{ name: `../../../../../../tmp/${sentinel}`, content: 'x' }]);
      const cfg = Buffer.from(JSON.stringify(imageConfig([evil])));
      return tarOf([{ name: 'l/layer.tar', content: evil }, { name: 'c.json', content: cfg }, manifestFor('c.json', ['l/layer.tar'])]);
    }, /outside of/],
    ['a truncated archive', () => dockerArchive([good()]).tar.subarray(0, 1500), /truncated|unexpected end/],
    ['a corrupt header', () => {
      const t = Buffer.from(dockerArchive([good()]).tar);
      t[10] ^= 0xff;
      return t;
    }, /checksum/],
    ['random bytes', () => randomBytes(10_000), /invalid tar archive/],
    ['an empty body', () => Buffer.alloc(0), /the archive is empty/],
    ['a tar without manifests', () => tarOf([{ name: 'hello.txt', content: 'hi' }]), /neither manifest.json nor index.json/],
    ['an enormous manifest.json', () => tarOf([{ name: 'manifest.json', content: Buffer.alloc(17 * 1024 * 1024, 0x20) }]), /manifest "manifest.json" is too large/],
    ['manifest.json that is not JSON', () => tarOf([{ name: 'manifest.json', content: '[{"Config": ' }]), /manifest "manifest.json" is not valid JSON/],
    ['JSON nested a million levels deep', () => tarOf([{ name: 'manifest.json', content: '['.repeat(1e6) + ']'.repeat(1e6) }]), /nested more than 100 levels deep/],
    ['manifest.json that is not a list', () => tarOf([{ name: 'manifest.json', content: '{"Config":"c.json"}' }]), /manifest.json is not a list/],
    ['a config that is not JSON', () => tarOf([{ name: 'c.json', content: 'nope' }, manifestFor('c.json', [])]), /image config "c.json" is not valid JSON/],
    ['more layers in the manifest than in the config', () => tarOf([...goodEntries(), manifestFor('c.json', ['l/layer.tar', 'l/layer.tar'])]), /layers length mismatch/],
    ['an invalid tag', () => tarOf([...goodEntries(), manifestFor('c.json', ['l/layer.tar'], ['UPPER:1'])]), /invalid tag "UPPER:1"/],
    ['a windows image', () => {
      const cfg = Buffer.from(JSON.stringify(imageConfig([layerA], { os: 'windows' })));
      return tarOf([{ name: 'l/layer.tar', content: layerA }, { name: 'c.json', content: cfg }, manifestFor('c.json', ['l/layer.tar'])]);
    }, /cannot load windows image on linux/],
    ['an OCI manifest blob that is not its digest', () => {
      const cfg = goodConfig;
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cfg), size: cfg.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layerA), size: layerA.length }] }));
      const tampered = Buffer.from(manifest.toString().replace('"schemaVersion":2', '"schemaVersion":2 '));
      const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: tampered.length, annotations: { 'org.opencontainers.image.ref.name': 'hostile/oci:1' } }] };
      return tarOf([
        { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
        { name: 'index.json', content: JSON.stringify(index) },
        { name: `blobs/sha256/${hex(sha(manifest))}`, content: tampered },
        { name: `blobs/sha256/${hex(sha(cfg))}`, content: cfg },
        { name: `blobs/sha256/${hex(sha(layerA))}`, content: layerA },
      ]);
    }, /image manifest blobs\/sha256\/[0-9a-f]{64} does not match its digest/],
    ['an OCI layout with a missing layer blob', () => {
      const cfg = goodConfig;
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cfg), size: cfg.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layerA), size: layerA.length }] }));
      const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length }] };
      return tarOf([
        { name: 'index.json', content: JSON.stringify(index) },
        { name: `blobs/sha256/${hex(sha(manifest))}`, content: manifest },
        { name: `blobs/sha256/${hex(sha(cfg))}`, content: cfg },
      ]);
    }, /layer 1 sha256:[0-9a-f]{64} is missing/],
  ];

  // Bodies that are no archive at all are refused from their first bytes, before the stream starts.
  const upFront = new Set(['a corrupt header', 'random bytes', 'an empty body']);
  for (const [what, make, expected] of cases.filter(([w]) => upFront.has(w))) {
    test(`${what}: a 400 before streaming, stores untouched`, async () => {
      const before = storeState(d);
      const r = await d.api('POST', '/images/load?quiet=1', make());
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, expected);
      assert.deepEqual(storeState(d), before);
      assert.equal((await d.api('GET', '/_ping')).text, 'OK');
    });
  }

  for (const [what, make, expected] of cases.filter(([w]) => !upFront.has(w))) {
    test(`${what}: refused in-band, stores untouched`, async () => {
      const before = storeState(d);
      const r = await apiLoad(d, make());
      assert.equal(r.status, 200);
      const err = r.messages.find((m) => m.error);
      assert.ok(err, `no error for ${what}: ${JSON.stringify(r.messages)}`);
      assert.equal(err!.errorDetail!.message, err!.error);
      assert.match(err!.error!, expected);
      assert.deepEqual(loadedLines(r.messages), []);
      assert.deepEqual(storeState(d), before);
      assert.equal(fs.existsSync(`/tmp/${sentinel}`), false);
      // The daemon is still fine afterwards.
      assert.equal((await d.api('GET', '/_ping')).text, 'OK');
    });
  }

  test('both CLIs report a refused archive and exit 1', async () => {
    const bad = tarOf([{ name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }]);
    for (const cli of [d.docker.bind(d), d.berth.bind(d)]) {
      const r = await cli(['load'], { input: bad });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /invalid archive: symlink "manifest.json" points outside the archive/);
      assert.equal(r.stdout, '');
    }
  });
});

// ---- peers: dockerd, skopeo, umoci ------------------------------------------------------------

describe('dockerd 20.10', () => {
  let dockerArchivePath: string;

  before(async () => {
    if (!dockerd) return;
    await dockerd.dockerOk(['run', '--network', 'none', '--name', 'c1', 'busybox', 'sh', '-c', 'echo hi > /hello']);
    await dockerd.dockerOk(['commit', '-c', 'CMD ["cat", "/hello"]', 'c1', 'multi:v1']);
    await dockerd.dockerOk(['tag', 'multi:v1', 'multi:v2']);
    await dockerd.dockerOk(['rm', 'c1']);
    dockerArchivePath = path.join(tmp, 'dockerd.tar');
    await dockerd.dockerOk(['save', '-o', dockerArchivePath, 'multi', 'busybox:latest']);
  });

  test("dockerd's archive (manifest.json, <id>/layer.tar, symlinked layers) loads into Berth with the same ids", async (t) => {
    if (!dockerd) return t.skip(dockerdSkip);
    const files = fileMap(fs.readFileSync(dockerArchivePath));
    assert.ok(!files.has('index.json'), 'dockerd 20.10 writes the pre-25 layout');
    const dockerBusybox = await inspect(dockerd, 'busybox:latest');
    const berthBusybox = await inspect(d, 'busybox:latest');
    const r = await d.docker(['load', '-i', dockerArchivePath]);
    assert.equal(r.code, 0, r.stderr);
    // dockerd writes its images in map order: compare the lines, keeping the rename before its load.
    const out = lines(r.stdout);
    assert.deepEqual([...out].sort(), [
      'Loaded image: busybox:latest',
      'Loaded image: multi:v1',
      'Loaded image: multi:v2',
      `The image busybox:latest already exists, renaming the old one with ID ${berthBusybox.Id} to empty string`,
    ]);
    assert.equal(out[out.indexOf('Loaded image: busybox:latest') - 1], `The image busybox:latest already exists, renaming the old one with ID ${berthBusybox.Id} to empty string`);
    for (const ref of ['multi:v1', 'multi:v2', 'busybox:latest']) {
      const a = await inspect(dockerd, ref);
      const b = await inspect(d, ref);
      assert.equal(b.Id, a.Id, ref);
      assert.deepEqual(b.RootFS, a.RootFS, ref);
      assert.equal(b.Created, a.Created);
      assert.deepEqual(b.Config.Cmd, a.Config.Cmd);
    }
    const fmt = ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}'];
    assert.equal(await d.dockerOk([...fmt, 'multi:v1']), await dockerd.dockerOk([...fmt, 'multi:v1']));
    assert.equal(await d.dockerOk(['run', '--rm', 'multi:v1']), 'hi\n');
    // Put Berth's own busybox back under its name.
    await d.dockerOk(['tag', berthBusybox.Id, 'busybox:latest']);
    assert.notEqual(dockerBusybox.Id, berthBusybox.Id);
  });

  test("dockerd's legacy per-layer JSON is what Berth writes as legacy blobs", async (t) => {
    if (!dockerd) return t.skip(dockerdSkip);
    const dockerFiles = fileMap(fs.readFileSync(dockerArchivePath));
    const berthFiles = fileMap(await apiSave(d, '/images/get?names=multi:v1'));
    const legacyFromDocker = [...dockerFiles].filter(([n]) => /^[0-9a-f]{64}\/json$/.test(n)).map(([, b]) => b.toString());
    const legacyFromBerth = [...berthFiles].filter(([n, b]) => n.startsWith('blobs/') && b.toString().startsWith('{"id":')).map(([, b]) => b.toString());
    const multiIds = new Set(legacyFromBerth.map((j) => JSON.parse(j).id));
    assert.equal(multiIds.size, 2);
    for (const j of legacyFromBerth) assert.ok(legacyFromDocker.includes(j), `Berth's legacy JSON not in dockerd's archive: ${j}`);
  });

  test("Berth's archive loads into dockerd 20.10 with the same ids, tags and files", async (t) => {
    if (!dockerd) return t.skip(dockerdSkip);
    const { tar } = dockerArchive([{ layers: [busyboxTar(), tarOf([{ name: 'from-berth', content: 'made in berth\n' }])], tags: ['berth/made:1'] }]);
    await apiLoad(d, tar);
    await d.dockerOk(['tag', 'multi:v1', 'berth/multi:1']);
    const file = path.join(tmp, 'to-dockerd.tar');
    await d.berthOk(['save', '-o', file, 'berth/made:1', 'berth/multi:1']);
    const r = await dockerd.docker(['load', '-i', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Loaded image: berth/made:1\nLoaded image: berth/multi:1\n');
    for (const ref of ['berth/made:1', 'berth/multi:1']) {
      const a = await inspect(d, ref);
      const b = await inspect(dockerd, ref);
      assert.equal(b.Id, a.Id, ref);
      assert.deepEqual(b.RootFS, a.RootFS, ref);
    }
    assert.equal(await dockerd.dockerOk(['run', '--rm', '--network', 'none', 'berth/made:1', 'cat', '/from-berth']), 'made in berth\n');
    assert.equal(await dockerd.dockerOk(['run', '--rm', '--network', 'none', 'berth/multi:1']), 'hi\n');
  });
});

describe('skopeo', () => {
  const skopeo = which('skopeo');
  let source: { file: string; id: string; layers: string[] };

  before(async () => {
    if (!skopeo) return;
    const { tar, ids } = dockerArchive([{ layers: [busyboxTar(), tarOf([{ name: 'hello', content: 'hello skopeo\n' }])], tags: ['sk/src:1'] }]);
    await apiLoad(d, tar);
    const file = path.join(tmp, 'skopeo-src.tar');
    await d.berthOk(['save', '-o', file, 'sk/src:1']);
    source = { file, id: ids[0], layers: (await inspect(d, 'sk/src:1')).RootFS.Layers };
  });

  test("skopeo reads Berth's archive as a docker-archive", async (t) => {
    if (!skopeo) return t.skip('skopeo is not installed');
    const r = await run(skopeo, ['inspect', `docker-archive:${source.file}`]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.deepEqual(info.Layers, source.layers);
    assert.equal(info.Architecture, ARCH);
    const cfg = await run(skopeo, ['inspect', '--config', '--raw', `docker-archive:${source.file}`]);
    assert.equal(sha(cfg.stdout), source.id);
  });

  test('skopeo docker-archive → Berth: same image id', async (t) => {
    if (!skopeo) return t.skip('skopeo is not installed');
    const out = path.join(tmp, 'skopeo-docker.tar');
    const c = await run(skopeo, ['copy', '-q', `docker-archive:${source.file}`, `docker-archive:${out}:sk/dockerarchive:2`]);
    assert.equal(c.code, 0, c.stderr);
    const r = await d.docker(['load', '-i', out]);
    assert.deepEqual(r, { code: 0, stdout: 'Loaded image: sk/dockerarchive:2\n', stderr: '' });
    assert.equal((await inspect(d, 'sk/dockerarchive:2')).Id, source.id);
    assert.equal(await d.dockerOk(['run', '--rm', 'sk/dockerarchive:2', 'cat', '/hello']), 'hello skopeo\n');
  });

  test('skopeo oci-archive (OCI layout only, gzip layers) → Berth: named from index.json, same layers', async (t) => {
    if (!skopeo) return t.skip('skopeo is not installed');
    const out = path.join(tmp, 'skopeo-oci.tar');
    const c = await run(skopeo, ['copy', '-q', `docker-archive:${source.file}`, `oci-archive:${out}:sk/ociarchive:3`]);
    assert.equal(c.code, 0, c.stderr);
    const files = fileMap(fs.readFileSync(out));
    assert.ok(!files.has('manifest.json'));
    const r = await d.berth(['load', '-i', out]);
    assert.deepEqual(r, { code: 0, stdout: 'Loaded image: sk/ociarchive:3\n', stderr: '' });
    const loaded = await inspect(d, 'sk/ociarchive:3');
    assert.deepEqual(loaded.RootFS.Layers, source.layers);
    assert.equal(await d.dockerOk(['run', '--rm', 'sk/ociarchive:3', 'cat', '/hello']), 'hello skopeo\n');
  });

  test("skopeo reads Berth's archive as an oci-archive; umoci unpacks the copy and Berth's layout", async (t) => {
    if (!skopeo) return t.skip('skopeo is not installed');
    const umoci = which('umoci');
    if (!umoci) return t.skip('umoci is not installed');
    const layout = path.join(tmp, 'oci-copy');
    const c = await run(skopeo, ['copy', '-q', `oci-archive:${source.file}:1`, `oci:${layout}:copied`]);
    assert.equal(c.code, 0, c.stderr);
    const bundle = path.join(tmp, 'bundle-copy');
    const u = await run(umoci, ['unpack', '--image', `${layout}:copied`, bundle]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(fs.readFileSync(path.join(bundle, 'rootfs/hello'), 'utf8'), 'hello skopeo\n');
    // umoci straight on Berth's archive, unpacked as a layout (its ref.name is the tag).
    const extracted = path.join(tmp, 'berth-layout');
    fs.mkdirSync(extracted);
    assert.equal((await run('tar', ['-C', extracted, '-xf', source.file])).code, 0);
    const bundle2 = path.join(tmp, 'bundle-berth');
    const u2 = await run(umoci, ['unpack', '--image', `${extracted}:1`, bundle2]);
    assert.equal(u2.code, 0, u2.stderr);
    assert.equal(fs.readFileSync(path.join(bundle2, 'rootfs/hello'), 'utf8'), 'hello skopeo\n');
  });
});

describe('umoci', () => {
  const umoci = which('umoci');

  test("an OCI layout made by umoci (./-prefixed entries, gzip layers, tag-only ref.name) loads untagged", async (t) => {
    if (!umoci) return t.skip('umoci is not installed');
    const layout = path.join(tmp, 'umoci-layout');
    const src = path.join(tmp, 'umoci-src');
    fs.mkdirSync(path.join(src, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(src, 'bin/busybox'));
    fs.chmodSync(path.join(src, 'bin/busybox'), 0o755);
    fs.symlinkSync('busybox', path.join(src, 'bin/sh'));
    fs.symlinkSync('busybox', path.join(src, 'bin/cat'));
    fs.writeFileSync(path.join(tmp, 'umoci-hello'), 'hello umoci\n');
    for (const args of [
      ['init', '--layout', layout],
      ['new', '--image', `${layout}:latest`],
      ['insert', '--image', `${layout}:latest`, path.join(src, 'bin'), '/bin'],
      ['insert', '--image', `${layout}:latest`, path.join(tmp, 'umoci-hello'), '/hello'],
      ['config', '--image', `${layout}:latest`, '--config.cmd', 'cat', '--config.cmd', '/hello'],
    ]) {
      const r = await run(umoci, args);
      assert.equal(r.code, 0, `umoci ${args.join(' ')}: ${r.stderr}`);
    }
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', hex(index.manifests[0].digest)), 'utf8'));
    const configId: string = manifest.config.digest;
    const archive = path.join(tmp, 'umoci.tar');
    assert.equal((await run('tar', ['-C', layout, '-cf', archive, '.'])).code, 0);
    const r = await d.docker(['load', '-i', archive]);
    assert.deepEqual(r, { code: 0, stdout: `Loaded image ID: ${configId}\n`, stderr: '' });
    assert.equal((await inspect(d, configId)).RootFS.Layers.length, 2);
    assert.equal(await d.dockerOk(['run', '--rm', configId]), 'hello umoci\n');
  });
});

describe('events', () => {
  test('save and load are image events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const { tar, ids } = dockerArchive([{ layers: [layerA], tags: ['ev/img:1'] }]);
    await apiLoad(d, tar);
    await apiSave(d, '/images/get?names=ev/img:1');
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await d.api('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['image'] }))}`);
    const events = lines(r.text).map((l) => JSON.parse(l));
    const actions = events.filter((e) => e.id === ids[0] || e.Actor?.ID === ids[0]).map((e) => e.Action);
    assert.ok(actions.includes('load'), JSON.stringify(actions));
    assert.ok(actions.includes('tag'));
    assert.ok(actions.includes('save'));
  });
});
