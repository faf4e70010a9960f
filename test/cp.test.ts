// docker cp: the archive API (HEAD/GET/PUT /containers/{id}/archive) against moby's behaviour,
// the real docker CLI and berth cp side by side, stopped containers, bind mounts, and hostile
// archives and racing containers that must never make a copy read or write outside the container.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ByteReader } from '../src/archive/stream.js';
import { TarReader } from '../src/archive/tar-reader.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type EntryType } from '../src/archive/tar.js';
import { mountsUnder, run, sleep, startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;
let host: string;

before(async () => {
  d = await startDaemon();
  host = path.join(d.root, 'host');
  fs.mkdirSync(host);
});

after(() => stopAndCheckClean(d));

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SETUID = 2 ** 23;
const T = Date.UTC(2020, 0, 2, 3, 4, 5) / 1000;

interface E {
  name: string;
  type?: EntryType;
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
}

function tarOf(entries: E[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    parts.push(
      encodeHeader({
        name: e.name,
        type,
        mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        size: data.length,
        mtime: e.mtime ?? T,
        linkname: e.linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        xattrs: e.xattrs ? new Map(Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.from(v)])) : undefined,
      }),
      data,
      padding(data.length),
    );
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

interface Got {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
  data: string;
  xattrs: Record<string, string>;
}

async function untar(buf: Buffer): Promise<Got[]> {
  const tar = new TarReader(new ByteReader(Readable.from([buf])[Symbol.asyncIterator]() as AsyncIterator<Buffer>));
  const out: Got[] = [];
  for (;;) {
    const h = await tar.next();
    if (!h) return out;
    const chunks: Buffer[] = [];
    for (let c = await tar.read(); c; c = await tar.read()) chunks.push(Buffer.from(c));
    const xattrs: Record<string, string> = {};
    for (const [k, v] of h.xattrs) xattrs[k] = v.toString();
    out.push({ name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname, data: Buffer.concat(chunks).toString(), xattrs });
  }
}

const q = (p: string) => encodeURIComponent(p);

async function head(ctr: string, p: string): Promise<{ status: number; stat?: any }> {
  const r = await d.api('HEAD', `/containers/${ctr}/archive?path=${q(p)}`);
  const h = r.headers['x-docker-container-path-stat'];
  return { status: r.status, stat: h ? JSON.parse(Buffer.from(String(h), 'base64').toString()) : undefined };
}

async function getArchive(ctr: string, p: string) {
  return d.api('GET', `/containers/${ctr}/archive?path=${q(p)}`);
}

async function put(ctr: string, p: string, body: Buffer, extra = '') {
  return d.api('PUT', `/containers/${ctr}/archive?path=${q(p)}${extra}`, body);
}

async function sh(ctr: string, cmd: string): Promise<string> {
  return d.dockerOk(['exec', ctr, 'sh', '-c', cmd]);
}

/** A running container whose setup script has finished. */
async function runReady(name: string, setup: string, opts: string[] = []): Promise<void> {
  await d.dockerOk(['run', '-d', '--name', name, ...opts, 'busybox', 'sh', '-c', `${setup}\ntouch /tmp/ready\nexec sleep 1000`]);
  await waitFor(async () => (await head(name, '/tmp/ready')).status === 200, `${name} ready`);
}

function sha(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/** Everything about a host tree, to prove it unchanged. */
function treeState(dir: string): string {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    out.push(`${path.relative(dir, p)} ${st.mode} ${st.size} ${st.mtimeMs} ${st.ino}`);
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
  };
  walk(dir);
  return out.join('\n');
}

describe('archive API', () => {
  before(async () => {
    await runReady(
      'st',
      'mkdir -p /w/d && echo hi > /w/f && chmod 4755 /w/f && touch -d "2020-01-02 03:04:05" /w/f && ln -s /etc /w/etcl && ln -s ../f /w/d/rel && mkfifo /w/p && ln -s /nonexist/x /w/broken',
      ['--hostname', 'cphost'],
    );
  });

  test('HEAD: the stat header as Docker encodes it (Go file modes, symlinks resolved inside the container)', async () => {
    const f = await head('st', '/w/f');
    assert.equal(f.status, 200);
    assert.deepEqual({ ...f.stat, mtime: undefined }, { name: 'f', size: 3, mode: 0o755 + MODE_SETUID, mtime: undefined, linkTarget: '' });
    assert.match(f.stat.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.equal(Date.parse(f.stat.mtime), T * 1000);
    const l = await head('st', '/w/etcl');
    assert.deepEqual([l.stat.name, l.stat.mode, l.stat.linkTarget], ['etcl', 0o777 + MODE_SYMLINK, '/etc']);
    assert.equal((await head('st', 'w/d/rel')).stat.linkTarget, '/w/f');
    assert.equal((await head('st', '/w/broken')).stat.linkTarget, '/nonexist/x');
    const viaSlash = await head('st', '/w/etcl/');
    assert.deepEqual([viaSlash.stat.name, viaSlash.stat.mode >= MODE_DIR, viaSlash.stat.linkTarget], ['etcl', true, '']);
    assert.equal((await head('st', '/w/etcl/.')).stat.name, '.');
    assert.equal((await head('st', '/')).stat.name, '/');
    assert.equal((await head('st', '/w/p')).stat.mode, 0o644 + MODE_NAMED_PIPE);
    assert.equal((await head('st', '/nope')).status, 404);
    assert.equal((await head('st', '/w/f/')).status, 400);
    assert.equal((await head('nosuchctr', '/')).status, 404);
  });

  test('errors: Docker\'s statuses and words', async () => {
    const nf = await getArchive('st', '/nope/x');
    assert.deepEqual([nf.status, nf.body.message], [404, 'Could not find the file /nope/x in container st']);
    const empty = await d.api('GET', '/containers/st/archive');
    assert.deepEqual([empty.status, empty.body.message], [400, 'bad parameter: pathcannot be empty']);
    const ctr = await getArchive('nosuchctr', '/');
    assert.deepEqual([ctr.status, ctr.body.message], [404, 'No such container: nosuchctr']);
    const notDir = await put('st', '/w/f', tarOf([{ name: 'x' }]));
    assert.deepEqual([notDir.status, notDir.body.message], [400, 'extraction point is not a directory']);
    const missing = await put('st', '/nonexist', tarOf([{ name: 'x' }]));
    assert.deepEqual([missing.status, missing.body.message], [404, 'Could not find the file /nonexist in container st']);
    const nul = await head('st', '/w\0x');
    assert.equal(nul.status, 400);
  });

  test('GET: entries named as moby names them; /etc files are the container\'s', async () => {
    const names = async (p: string) => (await untar((await getArchive('st', p)).raw)).map((e) => e.name);
    assert.deepEqual(await names('/w'), ['w/', 'w/broken', 'w/d/', 'w/d/rel', 'w/etcl', 'w/f', 'w/p']);
    assert.deepEqual(await names('/w/'), ['w/', 'w/broken', 'w/d/', 'w/d/rel', 'w/etcl', 'w/f', 'w/p']);
    assert.deepEqual(await names('/w/.'), ['./', './broken', './d/', './d/rel', './etcl', './f', './p']);
    assert.deepEqual(await names('/w/etcl'), ['etcl']);
    assert.ok((await names('/w/etcl/')).includes('etcl/passwd'));
    assert.deepEqual((await names('/')).slice(0, 2), ['/', '/bin/']);
    const r = await getArchive('st', '/w/f');
    assert.equal(r.headers['content-type'], 'application/x-tar');
    assert.ok(r.headers['x-docker-container-path-stat']);
    const [f] = await untar(r.raw);
    assert.deepEqual([f!.name, f!.type, f!.mode, f!.mtime, f!.data], ['f', 'file', 0o4755, T, 'hi\n']);
    const [p] = await untar((await getArchive('st', '/w/p')).raw);
    assert.equal(p!.type, 'fifo');
    const [hn] = await untar((await getArchive('st', '/etc/hostname')).raw);
    assert.equal(hn!.data, 'cphost\n');
  });

  test('PUT: plain extraction (.wh. files stay files), ownership, modes, times, xattrs, devices', async () => {
    await sh('st', 'mkdir -p /tmp/put && echo keep > /tmp/put/gone');
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await put(
      'st',
      '/tmp/put',
      tarOf([
        { name: 'x/', type: 'dir', mode: 0o750, uid: 7, gid: 8 },
        { name: 'x/f', data: 'data', mode: 0o4711, uid: 1000, gid: 50, xattrs: { 'user.k': 'v' } },
        { name: 'x/l', type: 'symlink', linkname: 'f', uid: 3, gid: 4 },
        // A link entry's metadata applies to the shared inode (moby): tar writers repeat the file's.
        { name: 'x/h', type: 'link', linkname: 'x/f', mode: 0o4711, uid: 1000, gid: 50 },
        { name: 'x/fifo', type: 'fifo', mode: 0o600 },
        { name: 'x/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: '.wh.gone', data: '' },
        { name: 'x/.wh..wh..opq', data: '' },
      ]),
    );
    assert.equal(r.status, 200, r.text);
    const st = await sh('st', 'cd /tmp/put && stat -c "%n %a %u:%g %h %Y %F" x x/f x/l x/h x/fifo x/null .wh.gone x/.wh..wh..opq');
    assert.deepEqual(st.trim().split('\n'), [
      `x 750 7:8 2 ${T} directory`,
      `x/f 4711 1000:50 2 ${T} regular file`,
      `x/l 777 3:4 1 ${T} symbolic link`,
      `x/h 4711 1000:50 2 ${T} regular file`,
      `x/fifo 600 0:0 1 ${T} fifo`,
      `x/null 666 0:0 1 ${T} character special file`,
      `.wh.gone 644 0:0 1 ${T} regular empty file`,
      `x/.wh..wh..opq 644 0:0 1 ${T} regular empty file`,
    ]);
    assert.equal(await sh('st', 'cat /tmp/put/gone'), 'keep\n', 'a .wh. entry is no whiteout in a copy');
    // xattrs come back out through GET
    const back = await untar((await getArchive('st', '/tmp/put/x/f')).raw);
    assert.equal(back[0]!.xattrs['user.k'], 'v');
    const ev = await d.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${q('{"container":["st"]}')}`);
    const actions = ev.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).Action);
    assert.ok(actions.includes('extract-to-dir') && actions.includes('archive-path'), actions.join(','));
  });

  test('PUT: noOverwriteDirNonDir conflicts, copyUIDGID with the container user', async () => {
    await sh('st', 'mkdir -p /tmp/ow/dir && echo f > /tmp/ow/file');
    const a = await put('st', '/tmp/ow', tarOf([{ name: 'dir', data: 'x' }]), '&noOverwriteDirNonDir=true');
    assert.deepEqual([a.status, a.body.message], [409, 'cannot overwrite directory "/tmp/ow/dir" with non-directory "/tmp/ow"']);
    const b = await put('st', '/tmp/ow', tarOf([{ name: 'file/', type: 'dir' }]), '&noOverwriteDirNonDir=true');
    assert.deepEqual([b.status, b.body.message], [409, 'cannot overwrite non-directory "/tmp/ow/file" with directory "/tmp/ow"']);
    // Without the flag, replacing is what Docker does.
    assert.equal((await put('st', '/tmp/ow', tarOf([{ name: 'dir', data: 'x' }]))).status, 200);
    assert.equal((await sh('st', 'cat /tmp/ow/dir')), 'x');

    await runReady('usr', 'true', ['-u', 'nobody:users']);
    const c = await put('usr', '/tmp', tarOf([{ name: 'owned', uid: 5, gid: 6 }]), '&copyUIDGID=1');
    assert.equal(c.status, 200, c.text);
    assert.equal((await sh('usr', 'stat -c %u:%g /tmp/owned')).trim(), '65534:100');
    assert.equal((await put('usr', '/tmp', tarOf([{ name: 'kept', uid: 5, gid: 6 }]))).status, 200);
    assert.equal((await sh('usr', 'stat -c %u:%g /tmp/kept')).trim(), '5:6');
    await d.dockerOk(['create', '--name', 'baduser', '-u', 'ghost', 'busybox']);
    const e = await put('baduser', '/tmp', tarOf([{ name: 'x' }]), '&copyUIDGID=1');
    assert.deepEqual([e.status, e.body.message], [400, 'failed to look up user "ghost" in container: no matching entries in passwd file']);
    await d.dockerOk(['rm', '-f', 'usr', 'baduser']);
  });
});

describe('hostile archives', () => {
  before(async () => {
    await runReady('hx', 'mkdir -p /tmp/in /etc/sub');
  });

  test('nothing is written outside the container; a symlink to /etc is the container\'s /etc', async () => {
    const hostPasswd = sha('/etc/passwd');
    const refused: [E[], number, RegExp][] = [
      [[{ name: '../../escape', data: 'x' }], 400, /is outside of "\/tmp\/in"/],
      [[{ name: 'r', type: 'symlink', linkname: '../../../../etc' }], 400, /invalid symlink/],
      [[{ name: 'h', type: 'link', linkname: '/etc/passwd' }], 400, /does not exist/],
      [[{ name: 'h', type: 'link', linkname: '../../etc/passwd' }], 400, /invalid hardlink/],
      [[{ name: 'h', type: 'link', linkname: 'nothere' }], 400, /does not exist/],
    ];
    for (const [entries, status, re] of refused) {
      const r = await put('hx', '/tmp/in', tarOf(entries));
      assert.equal(r.status, status, `${entries[0]!.name}: ${r.text}`);
      assert.match(r.body.message, re);
    }
    // Absolute names land inside the extraction directory.
    assert.equal((await put('hx', '/tmp/in', tarOf([{ name: '/abs/file', data: 'abs' }]))).status, 200);
    assert.equal(await sh('hx', 'cat /tmp/in/abs/file'), 'abs');
    // A symlink to /etc, then a write through it: Docker writes the container's /etc (its chroot).
    const r = await put('hx', '/tmp/in', tarOf([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/passwd', data: 'ctr-passwd\n' }, { name: 'a/sub/new', data: 'n' }]));
    assert.equal(r.status, 200, r.text);
    assert.equal(await sh('hx', 'cat /etc/passwd /etc/sub/new'), 'ctr-passwd\nn');
    // A symlink to a host path: it means that path inside the container, never the host's.
    const target = path.join(host, 'target');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'host');
    const before = treeState(host);
    const s = await put('hx', '/tmp/in', tarOf([{ name: 'b', type: 'symlink', linkname: target }, { name: 'b/keep', data: 'pwned' }]));
    assert.equal(s.status, 200, s.text);
    assert.equal(await sh('hx', `cat ${target}/keep`), 'pwned');
    assert.equal(treeState(host), before);
    assert.equal(fs.readFileSync(path.join(target, 'keep'), 'utf8'), 'host');
    fs.rmSync(target, { recursive: true });
    assert.equal(sha('/etc/passwd'), hostPasswd);
  });

  test('a truncated or corrupt archive: a clear 400, no half-written file', async () => {
    const full = tarOf([{ name: 'first', data: 'ok' }, { name: 'big', data: Buffer.alloc(100_000, 7) }]);
    const r = await put('hx', '/tmp/in', full.subarray(0, 50_000));
    assert.equal(r.status, 400);
    assert.match(r.body.message, /unexpected end of stream in data of "big"/);
    assert.equal(await sh('hx', 'cat /tmp/in/first; test -e /tmp/in/big && echo present || echo absent'), 'okabsent\n');
    const g = await put('hx', '/tmp/in', Buffer.alloc(4096, 0x41));
    assert.equal(g.status, 400);
    assert.match(g.body.message, /invalid tar archive/);
    // The connection still works after an error with an unread body behind it.
    const big = Buffer.concat([tarOf([{ name: '../x', data: 'x' }]).subarray(0, 1024), Buffer.alloc(4 << 20)]);
    assert.equal((await put('hx', '/tmp/in', big)).status, 400);
    assert.equal((await head('hx', '/tmp/in')).status, 200);
  });

  test('a racing container swapping directories for symlinks never makes cp read or write outside it', { timeout: 60_000 }, async () => {
    const secret = path.join(host, 'secret');
    fs.mkdirSync(secret);
    fs.writeFileSync(path.join(secret, 'hostonly'), 'secret');
    const before = treeState(host);
    // /tmp/r/sub flips between a real directory and a symlink to the host's secret directory path.
    await runReady('racer', `mkdir -p /tmp/r/sub && echo c > /tmp/r/sub/ctr && (while :; do mv /tmp/r/sub /tmp/r/real; ln -s ${secret} /tmp/r/sub; rm /tmp/r/sub; mv /tmp/r/real /tmp/r/sub; done) &`);
    const entries: E[] = [{ name: 'sub/', type: 'dir' }];
    for (let i = 0; i < 200; i++) entries.push({ name: `sub/x${i}`, data: 'racer' });
    const body = tarOf(entries);
    const deadline = Date.now() + 4000;
    let gets = 0;
    while (Date.now() < deadline) {
      const g = await getArchive('racer', '/tmp/r');
      if (g.status === 200) {
        gets++;
        for (const e of await untar(g.raw)) assert.ok(!e.name.includes('hostonly') && !e.data.includes('secret'), e.name);
      }
      await put('racer', '/tmp/r', body);
      const g2 = await getArchive('racer', '/tmp/r/sub/');
      if (g2.status === 200) for (const e of await untar(g2.raw)) assert.ok(!e.name.includes('hostonly'), e.name);
    }
    assert.ok(gets > 0);
    assert.equal(treeState(host), before);
    await d.dockerOk(['rm', '-f', 'racer']);
    fs.rmSync(secret, { recursive: true });
  });
});

describe('stopped containers and mounts', () => {
  test('a stopped container is mounted for the copy only; binds and read-only places as in the container', async () => {
    const bind = path.join(host, 'bind');
    fs.mkdirSync(bind);
    fs.writeFileSync(path.join(bind, 'from-host'), 'bound\n');
    const id = (await d.dockerOk(['create', '--name', 'stopped', '-v', `${bind}:/mnt/b`, '-v', `${bind}:/mnt/ro:ro`, 'busybox'])).trim();
    const merged = path.join(d.dataRoot, 'snapshots', id, 'merged');
    assert.equal((await head('stopped', '/mnt/b/from-host')).stat.size, 6);
    const [hf] = await untar((await getArchive('stopped', '/mnt/b/from-host')).raw);
    assert.equal(hf!.data, 'bound\n');
    assert.equal((await put('stopped', '/mnt/b', tarOf([{ name: 'to-host', data: 'in' }]))).status, 200);
    assert.equal(fs.readFileSync(path.join(bind, 'to-host'), 'utf8'), 'in');
    const ro = await put('stopped', '/mnt/ro', tarOf([{ name: 'x' }]));
    assert.deepEqual([ro.status, ro.body.message], [400, 'mounted volume is marked read-only']);
    assert.equal((await put('stopped', '/tmp', tarOf([{ name: 'in-rootfs', data: 'r' }]))).status, 200);
    assert.deepEqual(mountsUnder(merged), [], 'unmounted after the copy');
    await d.dockerOk(['start', 'stopped']);
    await d.dockerOk(['wait', 'stopped']);
    assert.deepEqual(mountsUnder(merged), []);

    await d.dockerOk(['create', '--name', 'rofs', '--read-only', '-v', `${bind}:/rw`, 'busybox']);
    const rr = await put('rofs', '/tmp', tarOf([{ name: 'x' }]));
    assert.deepEqual([rr.status, rr.body.message], [400, 'container rootfs is marked read-only']);
    assert.equal((await put('rofs', '/rw', tarOf([{ name: 'via-rw-bind', data: 'ok' }]))).status, 200);
    assert.equal(fs.readFileSync(path.join(bind, 'via-rw-bind'), 'utf8'), 'ok');
    await d.dockerOk(['rm', '-f', 'stopped', 'rofs']);
  });

  test('a start waits for a copy of the stopped container in progress', async () => {
    const id = (await d.dockerOk(['create', '--name', 'slow', 'busybox', 'true'])).trim();
    assert.equal((await put('slow', '/tmp', tarOf([{ name: 'big', data: Buffer.alloc(32 << 20, 1) }]))).status, 200);
    const { res, abort } = await d.stream(`/containers/slow/archive?path=${q('/tmp/big')}`);
    res.pause();
    let started = false;
    const start = d.api('POST', '/containers/slow/start').then((r) => {
      started = true;
      return r;
    });
    await sleep(700);
    assert.equal(started, false, 'start must wait for the archive stream');
    let n = 0;
    for await (const c of res) n += (c as Buffer).length;
    abort();
    assert.ok(n > 32 << 20);
    assert.equal((await start).status, 204);
    await d.dockerOk(['wait', 'slow']);
    assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'snapshots', id, 'merged')), []);
    await d.dockerOk(['rm', 'slow']);
  });
});

describe('docker cp and berth cp', () => {
  let work: string;
  before(async () => {
    await runReady('cli', 'mkdir -p /src/d/sub && echo one > /src/d/one && echo two > /src/d/sub/two && ln -s one /src/d/lnk && ln -s /src/d /src/dl && chown -R 1000:100 /src');
    work = path.join(host, 'cli');
    fs.mkdirSync(work);
    fs.mkdirSync(path.join(work, 'local/dir/sub'), { recursive: true });
    fs.writeFileSync(path.join(work, 'local/file.txt'), 'hello\n');
    fs.chownSync(path.join(work, 'local/file.txt'), 1234, 5678);
    fs.chmodSync(path.join(work, 'local/file.txt'), 0o4751);
    fs.utimesSync(path.join(work, 'local/file.txt'), T, T);
    fs.writeFileSync(path.join(work, 'local/dir/sub/deep'), 'deep\n');
    fs.symlinkSync('sub/deep', path.join(work, 'local/dir/ln'));
  });

  const tools = () => [
    { name: 'docker', run: (a: string[], input?: Buffer) => d.docker(['cp', ...a], { input }) },
    { name: 'berth', run: (a: string[], input?: Buffer) => d.berth(['cp', ...a], { input }) },
  ];

  /** A listing of a local tree (names, types, modes, contents, mtimes of files). */
  function local(dir: string): string[] {
    const out: string[] = [];
    const walk = (p: string): void => {
      const st = fs.lstatSync(p);
      const rel = path.relative(dir, p) || '.';
      let desc = `${rel} ${(st.mode & 0o170000).toString(8)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isFile()) desc += ` ${fs.readFileSync(p, 'utf8').trim()} ${Math.floor(st.mtimeMs / 1000)}`;
      if (st.isSymbolicLink()) desc += ` -> ${fs.readlinkSync(p)}`;
      out.push(desc);
      if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
    };
    walk(dir);
    return out;
  }

  test('from a container: dirs, files, /., -L, - ; same result from both CLIs', async () => {
    const cases: string[][] = [
      ['cli:/src/d', 'OUT/'],
      ['cli:/src/d', 'OUT/new'],
      ['cli:/src/d/.', 'OUT'],
      ['cli:/src/d/one', 'OUT/renamed'],
      ['cli:/src/dl', 'OUT/x'],
      ['-L', 'cli:/src/dl', 'OUT/x'],
      ['-L', 'cli:/src/d/lnk', 'OUT/'],
      ['cli:/src/dl/', 'OUT/y'],
    ];
    for (const c of cases) {
      const results: string[][] = [];
      for (const t of tools()) {
        const out = path.join(work, `out-${t.name}`);
        fs.rmSync(out, { recursive: true, force: true });
        fs.mkdirSync(out);
        const r = await t.run(c.map((a) => a.replace('OUT', out)));
        assert.equal(r.code, 0, `${t.name} cp ${c.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout + r.stderr, '', 'quiet without a terminal');
        results.push(local(out));
      }
      assert.deepEqual(results[1], results[0], c.join(' '));
      assert.ok(results[0]!.length > 1, c.join(' '));
    }
    // To stdout as a tar.
    const viaDocker = await run('docker', ['-H', d.host, 'cp', 'cli:/src/d', '-'], { env: { DOCKER_CONFIG: d.dockerConfig } });
    const viaBerth = await d.berth(['cp', 'cli:/src/d', '-']);
    assert.equal(viaBerth.code, 0, viaBerth.stderr);
    assert.equal(viaDocker.code, 0, viaDocker.stderr);
    assert.equal(viaBerth.stdout, viaDocker.stdout);
    assert.match(viaBerth.stdout, /d\/sub\/two/);
  });

  test('into a container: files keep owner and mode (-a too), dirs, /., -L, - ; same result from both CLIs', async () => {
    const cases: string[][] = [
      ['LOCAL/file.txt', 'cli:/dst/'],
      ['LOCAL/file.txt', 'cli:/dst/renamed'],
      ['-a', 'LOCAL/file.txt', 'cli:/dst/a'],
      ['LOCAL/dir', 'cli:/dst'],
      ['LOCAL/dir', 'cli:/dst/new'],
      ['LOCAL/dir/.', 'cli:/dst'],
      ['LOCAL/dir/ln', 'cli:/dst'],
      ['-L', 'LOCAL/dir/ln', 'cli:/dst'],
    ];
    const listing = 'cd /dst && find . | sort | xargs stat -c "%n %F %a %u:%g %Y %s"';
    for (const c of cases) {
      const results: string[] = [];
      for (const t of tools()) {
        await sh('cli', 'rm -rf /dst && mkdir /dst');
        const r = await t.run(c.map((a) => a.replace('LOCAL', path.join(work, 'local'))));
        assert.equal(r.code, 0, `${t.name} cp ${c.join(' ')}: ${r.stderr}`);
        results.push((await sh('cli', listing)).replace(/^\. directory 755 0:0 \d+/m, '. directory 755 0:0 *'));
      }
      assert.equal(results[1], results[0], c.join(' '));
    }
    for (const t of tools()) {
      await sh('cli', 'rm -rf /dst && mkdir /dst');
      const r = await t.run(['-', 'cli:/dst'], tarOf([{ name: 'from-stdin', data: 'in' }]));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sh('cli', 'cat /dst/from-stdin'), 'in');
    }
  });

  test('errors and exit codes as docker\'s', async () => {
    const cases: string[][] = [
      ['cli:/nope', path.join(work, 'x')],
      ['nosuchctr:/etc', path.join(work, 'x')],
      [path.join(work, 'local/file.txt'), 'cli:/nonexist/dir/x'],
      [path.join(work, 'local/nope'), 'cli:/tmp'],
      [path.join(work, 'local/dir'), 'cli:/src/d/one'],
      [path.join(work, 'local/file.txt'), 'cli:/tmp/nodir/'],
      ['cli:/src/d/one', '/dev/null'],
      ['cli:/src/d/one', '/nonexist/x'],
      ['a', 'b'],
      ['cli:/a', 'cli:/b'],
      ['-', 'cli:/src/d/one'],
      ['cli:/src/d/one/', path.join(work, 'x')],
      ['only-one'],
      ['', 'x'],
    ];
    for (const c of cases) {
      const [dk, bt] = await Promise.all(tools().map((t) => t.run(c)));
      // docker logs its own tar writer's complaints when it stops early; they are not part of the error.
      const clean = (s: string) => s.split('\n').filter((l) => !l.startsWith('time=')).join('\n').replaceAll('docker', 'PROG').replaceAll('berth', 'PROG');
      assert.deepEqual({ code: bt!.code, err: clean(bt!.stderr), out: bt!.stdout }, { code: dk!.code, err: clean(dk!.stderr), out: dk!.stdout }, c.join(' '));
      assert.notEqual(bt!.code, 0, c.join(' '));
    }
  });

  test('"Successfully copied …" on a terminal, as docker prints it', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('script(1) (bsdutils) is not installed');
      return;
    }
    const viaTty = (argv: string[]) =>
      run('script', ['-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null'], { env: { DOCKER_CONFIG: d.dockerConfig } });
    const file = path.join(work, 'local/file.txt');
    const berthBin = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src', 'cli', 'main.js');
    for (const [args, expect] of [
      [['cp', file, 'cli:/tmp/'], 'Successfully copied 2.05kB to cli:/tmp/'],
      [['cp', 'cli:/src/d/one', path.join(work, 'tty-out')], `Successfully copied 2.05kB to ${path.join(work, 'tty-out')}`],
    ] as const) {
      const dk = await viaTty(['docker', '-H', d.host, ...args]);
      const bt = await viaTty([process.execPath, berthBin, '-H', d.host, ...args]);
      assert.equal(dk.stdout.trim(), expect);
      assert.equal(bt.stdout.trim(), dk.stdout.trim());
      fs.rmSync(path.join(work, 'tty-out'), { force: true });
    }
    const quiet = await viaTty([process.execPath, berthBin, '-H', d.host, 'cp', '-q', file, 'cli:/tmp/']);
    assert.equal(quiet.stdout.trim(), '');
  });
});
