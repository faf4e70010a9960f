// Volumes and mounts: the /volumes API, named and anonymous volumes, copy-up, binds, tmpfs,
// --volumes-from, removal rules, data that outlives containers and daemon restarts; through
// the API, the real docker CLI and berth.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiRequest, busyboxTar, lines, mountsUnder, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';
import { peersMissing, startDockerd, type Dockerd } from './peers.js';

let d: TestDaemon;
/** An image whose VOLUME /data holds files with their own owners and modes. */
const IMAGE = 'volimg:latest';

before(async () => {
  d = await startDaemon();
  await d.dockerOk([
    'run', '--name', 'mkimg', 'busybox', 'sh', '-c',
    'mkdir -p /data/sub && echo hello > /data/file && chown 1000:1001 /data/file && chmod 640 /data/file && ' +
      'ln -s file /data/link && chown 33:34 /data && chmod 750 /data && chmod 700 /data/sub',
  ]);
  await d.dockerOk(['commit', '--change', 'VOLUME /data', 'mkimg', IMAGE]);
  await d.dockerOk(['rm', 'mkimg']);
});

after(() => stopAndCheckClean(d));

const volumeNames = async (): Promise<string[]> => lines(await d.dockerOk(['volume', 'ls', '-q'])).sort();
const mounts = async (c: string): Promise<any[]> =>
  JSON.parse(await d.dockerOk(['inspect', '-f', '{{json .Mounts}}', c])).sort((a: any, b: any) => (a.Destination < b.Destination ? -1 : 1));

describe('the /volumes API', () => {
  test('create, inspect, list with filters, remove; Docker shapes and messages', async () => {
    const made = await d.api('POST', '/volumes/create', { Name: 'api-v1', Labels: { team: 'a', tier: 'db' }, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
    assert.equal(made.status, 201, made.text);
    assert.deepEqual(Object.keys(made.body), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.deepEqual(made.body.Options, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
    assert.equal(made.body.Mountpoint, path.join(d.dataRoot, 'volumes', 'api-v1', '_data'));
    assert.match(made.body.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(fs.statSync(made.body.Mountpoint).isDirectory());
    // The same name again answers the existing volume, as Docker does.
    assert.deepEqual((await d.api('POST', '/volumes/create', { Name: 'api-v1' })).body, made.body);
    const anon = await d.api('POST', '/volumes/create', {});
    assert.equal(anon.status, 201);
    assert.match(anon.body.Name, /^[0-9a-f]{64}$/);
    assert.equal(anon.body.Labels, null);
    assert.equal(anon.body.Options, null);

    const list = async (filters: object): Promise<string[]> => {
      const r = await d.api('GET', `/volumes?filters=${encodeURIComponent(JSON.stringify(filters))}`);
      assert.equal(r.status, 200, r.text);
      return r.body.Volumes.map((v: any) => v.Name).sort();
    };
    assert.deepEqual(await list({ name: { 'api-v': true } }), ['api-v1']);
    assert.deepEqual(await list({ label: { 'team=a': true } }), ['api-v1']);
    assert.deepEqual(await list({ label: { tier: true, 'team=b': true } }), []);
    assert.deepEqual(await list({ driver: { local: true }, name: { [anon.body.Name]: true } }), [anon.body.Name]);
    assert.ok((await list({ dangling: { true: true } })).includes('api-v1'));
    assert.deepEqual((await d.api('GET', '/volumes?filters={"bogus":{"x":true}}')).body, { message: "invalid filter 'bogus'" });
    assert.deepEqual((await d.api('GET', '/volumes?filters={"dangling":{"maybe":true}}')).body, { message: "Invalid filter 'dangling=[maybe]'" });

    assert.deepEqual((await d.api('GET', '/volumes/nope')).body, { message: 'get nope: no such volume' });
    assert.equal((await d.api('GET', '/volumes/nope')).status, 404);
    assert.equal((await d.api('DELETE', '/volumes/nope')).status, 404);
    assert.equal((await d.api('DELETE', '/volumes/nope?force=1')).status, 204);
    assert.equal((await d.api('DELETE', `/volumes/${anon.body.Name}`)).status, 204);
    assert.equal((await d.api('DELETE', '/volumes/api-v1')).status, 204);
    assert.ok(!fs.existsSync(made.body.Mountpoint));
  });

  test("bad names, options and drivers: Docker's status and message, nothing created", async () => {
    const before = await volumeNames();
    const bad: [object, number, string][] = [
      [{ Name: '../x' }, 400, 'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Name: 'a/b' }, 400, 'create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Name: '.hidden' }, 400, 'create .hidden: ".hidden" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Name: 'x' }, 400, 'create x: volume name is too short, names should be at least two alphanumeric characters'],
      [{ Name: 'xx', DriverOpts: { foo: 'bar' } }, 400, 'create xx: invalid option: "foo"'],
      [{ Name: 'yy', DriverOpts: { type: 'tmpfs' } }, 400, 'create yy: missing required option: "device"'],
      [{ Name: 'y3', DriverOpts: { device: '/tmp' } }, 400, 'create y3: missing required option: "type"'],
      [{ Name: 'y5', DriverOpts: { size: '10m' } }, 400, 'create y5: quota size requested but no quota support'],
      [{ Name: 'zz', Driver: 'nope' }, 404, 'create zz: error looking up volume plugin nope: plugin "nope" not found'],
    ];
    for (const [body, status, message] of bad) {
      const r = await d.api('POST', '/volumes/create', body);
      assert.deepEqual([r.status, r.body], [status, { message }], JSON.stringify(body));
    }
    assert.deepEqual(await volumeNames(), before);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'volumes')).sort(), before);
  });
});

describe('volumes on containers', () => {
  test('data written through a volume outlives both containers and a daemon restart (docker CLI and berth)', async () => {
    await d.dockerOk(['run', '--name', 'writer', '-v', 'shared-data:/store', 'busybox', 'sh', '-c', 'echo written-by-writer > /store/note']);
    assert.equal(await d.berthOk(['run', '--name', 'reader', '-v', 'shared-data:/in:ro', 'busybox', 'cat', '/in/note']), 'written-by-writer\n');
    const ro = await d.docker(['run', '--rm', '-v', 'shared-data:/in:ro', 'busybox', 'touch', '/in/x']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    await d.dockerOk(['rm', 'writer']);
    await d.berthOk(['rm', '-v', 'reader']); // -v removes anonymous volumes only
    await d.dockerOk(['container', 'prune', '-f']);
    await d.terminate();
    await d.start();
    assert.ok((await volumeNames()).includes('shared-data'));
    assert.equal(await d.dockerOk(['run', '--rm', '-v', 'shared-data:/x', 'busybox', 'cat', '/x/note']), 'written-by-writer\n');
    await d.berthOk(['volume', 'rm', 'shared-data']);
  });

  test('copy-up: an empty volume is filled from the image with owners and modes, unless nocopy; a full one is left alone', async () => {
    const ls = 'stat -c "%n %u:%g %a" /data /data/file /data/sub; readlink /data/link; cat /data/file';
    const expected = '/data 33:34 750\n/data/file 1000:1001 640\n/data/sub 0:0 700\nfile\nhello\n';
    assert.equal(await d.dockerOk(['run', '--rm', '-v', 'cu-named:/data', IMAGE, 'sh', '-c', ls]), expected);
    // Anonymous: the image's VOLUME, with and without --rm
    assert.equal(await d.berthOk(['run', '--rm', IMAGE, 'sh', '-c', ls]), expected);
    // The volume keeps what a container changed; the image's content is not copied in again.
    await d.dockerOk(['run', '--rm', '-v', 'cu-named:/data', IMAGE, 'sh', '-c', 'rm /data/file && echo mine > /data/own']);
    assert.equal(await d.dockerOk(['run', '--rm', '-v', 'cu-named:/data', IMAGE, 'ls', '/data']), 'link\nown\nsub\n');
    assert.equal(await d.dockerOk(['run', '--rm', '-v', 'cu-nocopy:/data:nocopy', IMAGE, 'ls', '-A', '/data']), '');
    assert.equal(await d.dockerOk(['run', '--rm', '--mount', 'type=volume,src=cu-nocopy2,dst=/data,volume-nocopy', IMAGE, 'ls', '-A', '/data']), '');
    // A path the image does not have: an empty volume, created in the container
    assert.equal(await d.dockerOk(['run', '--rm', '-v', 'cu-new:/new/deep', IMAGE, 'ls', '-A', '/new/deep']), '');
    await d.dockerOk(['volume', 'rm', 'cu-named', 'cu-nocopy', 'cu-nocopy2', 'cu-new']);
  });

  test('anonymous volumes: kept by rm, removed by rm -v and run --rm; named ones never by either; --volumes-from shares them', async () => {
    const start = await volumeNames();
    const id = (await d.dockerOk(['create', '--name', 'anon1', '-v', '/scratch', '-v', 'named-kept:/named', IMAGE, 'sh', '-c', 'echo from-anon1 > /scratch/f'])).trim();
    const ms = await mounts(id);
    const anon = ms.filter((m) => m.Name !== 'named-kept').map((m) => m.Name);
    assert.equal(anon.length, 2); // /data from the image, /scratch from -v
    await d.dockerOk(['start', '-a', 'anon1']);
    // --volumes-from: the same volumes at the same places, read-only with :ro
    assert.equal(await d.dockerOk(['run', '--rm', '--volumes-from', 'anon1:ro', 'busybox', 'sh', '-c', 'cat /scratch/f; cat /data/file; touch /named/x 2>/dev/null || echo ro']), 'from-anon1\nhello\nro\n');
    const vf = (await d.dockerOk(['create', '--volumes-from', 'anon1', 'busybox'])).trim();
    assert.deepEqual((await mounts(vf)).map((m) => [m.Name, m.Destination, m.RW]), ms.map((m) => [m.Name, m.Destination, m.RW]));
    // In use by vf: rm -v of anon1 leaves the shared anonymous volumes in place.
    await d.dockerOk(['rm', '-v', 'anon1']);
    assert.deepEqual(await volumeNames(), [...start, ...anon, 'named-kept'].sort());
    const inUse = await d.api('DELETE', `/volumes/${anon[0]}`);
    assert.deepEqual([inUse.status, inUse.body.message], [409, `remove ${anon[0]}: volume is in use - [${vf}]`]);
    assert.equal((await d.api('DELETE', `/volumes/${anon[0]}?force=1`)).status, 409);
    await d.dockerOk(['rm', '-v', vf]);
    assert.deepEqual(await volumeNames(), [...start, 'named-kept'].sort());
    // Plain rm keeps anonymous volumes; prune removes them (anonymous only, unless --all)
    const kept = (await d.dockerOk(['run', '--name', 'anon2', IMAGE, 'true'])).trim();
    assert.equal(kept, '');
    const anon2 = (await mounts('anon2')).map((m) => m.Name);
    await d.dockerOk(['rm', 'anon2']);
    assert.ok((await volumeNames()).includes(anon2[0]));
    const pruned = await d.berthOk(['volume', 'prune', '-f']);
    assert.ok(pruned.startsWith('Deleted Volumes:\n') && lines(pruned).includes(anon2[0]), pruned);
    assert.ok((await volumeNames()).includes('named-kept'));
    await d.dockerOk(['volume', 'create', '--label', 'keep', 'labelled-kept']);
    await d.dockerOk(['volume', 'prune', '-f', '--all', '--filter', 'label!=keep']);
    const left = await volumeNames();
    assert.ok(!left.includes('named-kept') && left.includes('labelled-kept'), left.join());
    await d.dockerOk(['volume', 'rm', 'labelled-kept']);
  });

  test('binds, --mount and tmpfs; inspect Mounts in Docker\'s shape', async () => {
    const host = path.join(d.root, 'bind-src');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'hello'), 'from-host\n');
    const missing = path.join(d.root, 'made', 'by', 'v');
    const c = (await d.dockerOk([
      'create', '--name', 'mnt1',
      '-v', `${host}:/h:ro,Z`, '-v', `${missing}:/made`, '-v', `${host}:/hs:rshared`,
      '-v', 'mnt-named:/n', '-v', 'mnt-named:/nro:ro',
      '--mount', `type=bind,src=${host},dst=/mb,readonly`, '--mount', 'type=tmpfs,dst=/mt,tmpfs-size=1m', '--mount', 'type=volume,dst=/manon',
      '--tmpfs', '/t:size=2m', 'busybox',
      'sh', '-c', 'cat /h/hello; grep -E " /(mt|t) " /proc/mounts | cut -d" " -f2,4; echo x > /n/f && cat /nro/f',
    ])).trim();
    const ms = await mounts(c);
    const vol = (n: string): string => path.join(d.dataRoot, 'volumes', n, '_data');
    const manon = ms.find((m) => m.Destination === '/manon');
    assert.deepEqual(ms, [
      { Type: 'bind', Source: host, Destination: '/h', Mode: 'ro,Z', RW: false, Propagation: 'rprivate' },
      { Type: 'bind', Source: host, Destination: '/hs', Mode: 'rshared', RW: true, Propagation: 'rshared' },
      { Type: 'bind', Source: missing, Destination: '/made', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'volume', Name: manon.Name, Source: vol(manon.Name), Destination: '/manon', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'bind', Source: host, Destination: '/mb', Mode: '', RW: false, Propagation: 'rprivate' },
      { Type: 'tmpfs', Source: '', Destination: '/mt', Mode: '', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'mnt-named', Source: vol('mnt-named'), Destination: '/n', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'mnt-named', Source: vol('mnt-named'), Destination: '/nro', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' },
    ]);
    assert.ok(!fs.existsSync(missing), 'a -v source is created at start, not at create');
    assert.equal(await d.dockerOk(['ps', '-aq', '--no-trunc', '--filter', 'volume=mnt-named']), `${c}\n`);
    assert.equal(await d.dockerOk(['ps', '-aq', '--no-trunc', '--filter', 'volume=/mb']), `${c}\n`);
    const out = await d.dockerOk(['start', '-a', c]);
    assert.equal(out, 'from-host\n/mt rw,nosuid,nodev,noexec,relatime,size=1024k\n/t rw,nosuid,nodev,noexec,relatime,size=2048k\nx\n');
    assert.ok(fs.statSync(missing).isDirectory());
    // commit, export and diff leave volume content out
    const diff = await d.dockerOk(['diff', c]);
    assert.doesNotMatch(diff, /\/n\/f/);
    const exported = await d.api('GET', `/containers/${c}/export`);
    assert.equal(exported.status, 200);
    assert.ok(!exported.raw.includes(Buffer.from('n/f\0')));
    await d.dockerOk(['commit', c, 'mnt1-img']);
    assert.equal((await d.docker(['run', '--rm', 'mnt1-img', 'ls', '/n/f'])).code, 1);
    await d.dockerOk(['rm', '-v', c]);
    await d.dockerOk(['rmi', 'mnt1-img']);
    await d.dockerOk(['volume', 'rm', 'mnt-named']);
  });

  test('a volume with driver options is mounted while used and unmounted after; events and system df', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await d.berthOk(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m,uid=1000', '--label', 'k=v', 'tmpvol']);
    const mp = path.join(d.dataRoot, 'volumes', 'tmpvol', '_data');
    const id = (await d.dockerOk(['run', '-d', '-v', 'tmpvol:/t', 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts; stat -c %u /t; sleep 30'])).trim();
    assert.ok(mountsUnder(path.join(d.dataRoot, 'volumes')).includes(mp));
    const df = await d.api('GET', '/system/df');
    const v = df.body.Volumes.find((x: any) => x.Name === 'tmpvol');
    assert.deepEqual(v.UsageData, { RefCount: 1, Size: 0 });
    assert.equal((await d.api('DELETE', '/volumes/tmpvol')).status, 409);
    await d.dockerOk(['rm', '-f', id]);
    assert.ok(!mountsUnder(path.join(d.dataRoot, 'volumes')).includes(mp));
    const events = await d.dockerOk(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}}']);
    assert.deepEqual(lines(events).filter((l) => l.includes('tmpvol')), ['create tmpvol', 'mount tmpvol', 'unmount tmpvol']);
    assert.equal(await d.berthOk(['volume', 'ls', '--format', '{{.Name}} {{.Labels}} {{.Label "k"}}', '-f', 'label=k']), 'tmpvol k=v v\n');
    await d.berthOk(['volume', 'rm', 'tmpvol']);
  });

  test("bad mounts: Docker's status and message, nothing created", async () => {
    const containers = await d.dockerOk(['ps', '-aq']);
    const vols = await volumeNames();
    const cases: [object, number, string][] = [
      [{ Binds: ['rel/p:/x'] }, 400, 'create rel/p: "rel/p" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Binds: ['../x:/x'] }, 400, 'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Binds: ['/tmp:/'] }, 400, `invalid volume specification: '/tmp:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`],
      [{ Binds: ['/tmp:/proc'] }, 400, `invalid volume specification: '/tmp:/proc': invalid mount config for type "bind": "/proc" cannot be mounted because it is not of type proc`],
      [{ Binds: ['okvol:/x', 'x:/y'] }, 400, 'create x: volume name is too short, names should be at least two alphanumeric characters'],
      [{ Binds: ['/tmp:/x:bogus'] }, 400, 'invalid mode: bogus'],
      [{ Binds: ['/tmp:/x', 'dupvol:/x'] }, 400, 'Duplicate mount point: /x'],
      [{ Mounts: [{ Type: 'bind', Source: 'rel', Target: '/t' }] }, 400, `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`],
      [{ Mounts: [{ Type: 'bind', Source: '/no/such/dir', Target: '/t' }] }, 400, 'invalid mount config for type "bind": bind source path does not exist: /no/such/dir'],
      [{ Mounts: [{ Type: 'volume', Source: '../x', Target: '/t' }] }, 400, 'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: -1 } }] }, 400, 'invalid mount config for type "tmpfs": invalid tmpfs size'],
      [{ Tmpfs: { '/t': 'ro,size=bogus' } }, 400, 'invalid tmpfs option "size=bogus": invalid size'],
      [{ Tmpfs: { '/t': 'foo=bar' } }, 400, 'invalid tmpfs option "foo"'],
      [{ VolumesFrom: ['no-such-container'] }, 400, 'No such container: no-such-container'],
    ];
    for (const [hc, status, message] of cases) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: hc });
      assert.deepEqual([r.status, r.body], [status, { message }], JSON.stringify(hc));
    }
    const cli = await d.docker(['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=bogus', 'busybox', 'true']);
    assert.deepEqual([cli.code, cli.stderr.split('\n')[0]], [125, 'invalid argument "type=tmpfs,dst=/t,tmpfs-size=bogus" for "--mount" flag: invalid value for tmpfs-size: bogus']);
    const berth = await d.berth(['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=bogus', 'busybox', 'true']);
    assert.deepEqual([berth.code, berth.stderr.split('\n')[0]], [125, 'invalid argument "type=tmpfs,dst=/t,tmpfs-size=bogus" for "--mount" flag: invalid value for tmpfs-size: bogus']);
    assert.equal(await d.dockerOk(['ps', '-aq']), containers);
    assert.deepEqual(await volumeNames(), vols);
  });
});

describe('side by side with dockerd', { skip: peersMissing(['dockerd', 'docker']) }, () => {
  let dk: Dockerd;
  let host: string;
  before(async () => {
    dk = await startDockerd();
    host = fs.mkdtempSync(path.join(d.root, 'peer-bind-'));
    const tar = busyboxTar();
    await dk.dockerOk(['import', '-c', 'VOLUME /data', '-', 'peer-vol:latest'], { input: tar });
    await d.dockerOk(['import', '-c', 'VOLUME /data', '-', 'peer-vol:latest'], { input: tar });
  });
  after(() => dk?.stop());

  /** One daemon's Mounts for the same create flags, volume names and paths of its own made comparable. */
  async function normalisedMounts(docker: (a: string[]) => Promise<string>): Promise<any[]> {
    const id = (await docker([
      'create', '-v', 'pv1:/v1', '-v', 'pv1:/v1ro:ro', '-v', 'pnv:/nv:nocopy', '-v', `${host}:/h`, '-v', `${host}:/hro:ro,Z`,
      '-v', `${host}:/hs:rshared,ro`, '-v', '/anon', '--tmpfs', '/t:size=1m',
      '--mount', 'type=volume,source=pmv,target=/mv,volume-nocopy,readonly', '--mount', `type=bind,source=${host},target=/mb,readonly,bind-propagation=rslave`,
      '--mount', 'type=tmpfs,target=/mt,tmpfs-size=1m', '--mount', 'type=volume,target=/manon', 'peer-vol', 'true',
    ])).trim();
    const ms = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', id]));
    await docker(['rm', '-v', id]);
    await docker(['volume', 'rm', 'pv1', 'pnv', 'pmv']);
    return ms
      .map((m: any) => ({ ...m, Name: m.Name && /^[0-9a-f]{64}$/.test(m.Name) ? '<anonymous>' : m.Name, Source: m.Source.replace(/^.*\/volumes\/[^/]+\/_data$/, '<volume dir>') }))
      .sort((a: any, b: any) => (a.Destination < b.Destination ? -1 : 1));
  }

  test('inspect Mounts: the same entries, key for key', async () => {
    const mine = await normalisedMounts((a) => d.dockerOk(a));
    const theirs = await normalisedMounts((a) => dk.dockerOk(a));
    assert.equal(mine.length, 12);
    assert.deepEqual(mine.map((m) => JSON.stringify(m, Object.keys(m).sort())), theirs.map((m) => JSON.stringify(m, Object.keys(m).sort())));
  });

  test('volume API answers: statuses, messages and shapes', async () => {
    const ask = async (api: (m: string, p: string, b?: unknown) => Promise<{ status: number; body: any }>) => {
      const out: unknown[] = [];
      for (const body of [{ Name: '../x' }, { Name: 'x' }, { Name: 'pxx', DriverOpts: { foo: 'bar' } }, { Name: 'pyy', DriverOpts: { type: 'tmpfs' } }, { Name: 'pzz', Driver: 'nope' }]) {
        const r = await api('POST', '/volumes/create', body);
        out.push([r.status, r.body.message]);
      }
      const made = await api('POST', '/volumes/create', { Name: 'pcmp', Labels: { b: '2', a: '1' }, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
      out.push([made.status, Object.keys(made.body), made.body.Labels, made.body.Options, made.body.Scope, made.body.Driver]);
      for (const [m, p] of [['GET', '/volumes/nope'], ['DELETE', '/volumes/nope'], ['DELETE', '/volumes/nope?force=1'], ['GET', '/volumes?filters={"bogus":{"x":true}}'], ['DELETE', '/volumes/pcmp']]) {
        const r = await api(m!, p!);
        // dockerd 20.10 (the peer here) capitalises "Invalid filter"; Docker 23+ and Berth do not.
        out.push([m, p, r.status, r.body?.message?.replace(/^Invalid filter/, 'invalid filter')]);
      }
      return out;
    };
    const viaDockerd = (m: string, p: string, b?: unknown) => apiRequest(dk.sock, m, `/v1.41${p}`, b);
    assert.deepEqual(await ask((m, p, b) => d.api(m, p, b)), await ask(viaDockerd));
  });
});

