import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { InvalidParameterError } from '../src/errors.js';
import { applyLayer, changes, ChangeKind, dumpXattrs, packDirectory, Root } from '../src/archive/index.js';
import { extractArchive } from '../src/archive/extract.js';
import { packResource } from '../src/archive/resource.js';
import { rebaseArchive } from '../src/archive/rebase.js';
import { getRebaseName, preserveTrailingDotOrSeparator, splitPathDirEntry } from '../src/archive/copy.js';
import { ConflictError } from '../src/errors.js';
import { Snapshotter } from '../src/snapshot/overlay.js';
import { ParallelGzip, splitByEntropy } from '../src/archive/parallel-gzip.js';

// ---- helpers --------------------------------------------------------------------------------

const temps: string[] = [];
function tmp(prefix = 'berth-archive-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

interface E {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  data?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

const T1 = new Date('2020-01-02T03:04:05Z');
const T2 = new Date('2021-06-07T08:09:10Z');
const T3 = new Date('2019-11-12T13:14:15Z');

async function makeTar(entries: E[]): Promise<Buffer> {
  const p = tarStream.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((res, rej) => {
    p.on('end', () => res());
    p.on('error', rej);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? T1,
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
    } as tarStream.Header;
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (type === 'file') p.entry({ ...header, size: Buffer.byteLength(e.data ?? '') }, e.data ?? '', cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function stream(b: Buffer, chunk = 7777): Readable {
  // Odd chunk size so headers and data straddle chunk boundaries.
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function getfattr(p: string): string {
  return execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'text', '--absolute-names', p], { encoding: 'utf8' });
}

function isWhiteout(p: string): boolean {
  const st = fs.lstatSync(p, { bigint: true });
  return st.isCharacterDevice() && st.rdev === 0n;
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Full metadata + content snapshot of a tree (never follows symlinks). */
function snapshot(root: string, opts: { xattrs?: Map<string, Map<string, Buffer>> } = {}): Map<string, string> {
  const out = new Map<string, string>();
  const inodes = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    const st = fs.lstatSync(abs, { bigint: true });
    let desc = `mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid}`;
    if (!st.isDirectory()) desc += ` mtime=${st.mtimeNs / 1_000_000_000n}`;
    if (st.isDirectory()) desc += ` dmtime=${st.mtimeNs / 1_000_000_000n}`;
    if (st.isFile()) desc += ` size=${st.size} sha=${createHash('sha256').update(fs.readFileSync(abs)).digest('hex').slice(0, 16)}`;
    if (st.isSymbolicLink()) desc += ` -> ${fs.readlinkSync(abs)}`;
    if (st.isCharacterDevice() || st.isBlockDevice()) desc += ` rdev=${st.rdev}`;
    if (st.nlink > 1n && !st.isDirectory()) {
      const key = String(st.ino);
      if (!inodes.has(key)) inodes.set(key, rel);
      desc += ` linkgroup=${inodes.get(key)}`;
    }
    const x = opts.xattrs?.get(abs);
    if (x) {
      const keys = [...x.keys()].filter((k) => !k.startsWith('trusted.overlay.')).sort();
      if (keys.length) desc += ` xattrs=${keys.map((k) => `${k}:${x.get(k)!.toString('hex')}`).join(',')}`;
    }
    out.set(rel || '.', desc);
    if (st.isDirectory()) for (const n of fs.readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

let sentinelCounter = 0;
/** A directory outside every dest, whose exact state we check after hostile extractions. */
function makeSentinel(): { dir: string; state: () => string } {
  const dir = tmp(`berth-sentinel-${sentinelCounter++}-`);
  fs.writeFileSync(path.join(dir, 'keep'), 'precious');
  fs.mkdirSync(path.join(dir, 'sub'));
  const state = () => {
    const s = snapshot(dir);
    return JSON.stringify([...s.entries()]);
  };
  return { dir, state };
}

async function expectInvalid(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InvalidParameterError, `expected InvalidParameterError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

// ---- applyLayer: entry types and metadata -----------------------------------------------------

function richEntries(): E[] {
  const big = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 4096) randomBytes(16).copy(big, i);
  const longDir = `deep/${'x'.repeat(90)}/${'y'.repeat(90)}`;
  return [
    { name: 'd/', type: 'directory', mode: 0o2775, uid: 1000, gid: 1001, mtime: T2 },
    { name: 'd/f', data: 'hello world\n', mode: 0o4755, uid: 0, gid: 0, mtime: T3 },
    { name: 'd/g', data: 'group\n', mode: 0o2711, uid: 12, gid: 34, mtime: T3 },
    { name: 'd/big', data: big, mode: 0o600, uid: 5, gid: 6, mtime: T3 },
    { name: 'd/hl', type: 'link', linkname: 'd/f', mode: 0o4755, mtime: T3 },
    { name: 'd/sl', type: 'symlink', linkname: '../elsewhere/x', mtime: T2, uid: 7, gid: 8 },
    { name: 'd/abs', type: 'symlink', linkname: '/etc/passwd', mtime: T2 },
    { name: 'd/p', type: 'fifo', mode: 0o640, uid: 3, gid: 4, mtime: T3 },
    { name: 'd/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: T3 },
    { name: 'd/loop', type: 'block-device', devmajor: 7, devminor: 200, mode: 0o660, gid: 6, mtime: T3 },
    { name: 't/', type: 'directory', mode: 0o1777, mtime: T1 },
    { name: 'd/x', data: 'x', pax: { 'SCHILY.xattr.user.comment': 'hello', 'SCHILY.xattr.trusted.foo': 'bar' }, mtime: T3 },
    { name: 'd/biguid', data: 'big ids', pax: { uid: '3000000', gid: '4000000' }, mtime: T3 },
    { name: `${longDir}/`, type: 'directory', mtime: T1 },
    { name: `${longDir}/${'z'.repeat(120)}`, data: 'long', mtime: T3 },
    { name: 'd/ünïcødé-名前', data: 'utf8', mtime: T3 },
    { name: 'empty-dir/', type: 'directory', mode: 0o700, mtime: T3 },
  ];
}

test('applyLayer: files, dirs, symlinks, hardlinks, fifo, devices, modes, owners, mtimes, xattrs', async () => {
  const dest = tmp();
  const tar = await makeTar(richEntries());
  const res = await applyLayer(stream(tar), dest);
  assert.equal(res.compression, 'none');
  assert.equal(res.tarSize, tar.length);
  assert.equal(res.diffId, sha256(tar));
  assert.equal(res.digest, sha256(tar));

  const st = (p: string) => fs.lstatSync(path.join(dest, p));
  assert.equal(fs.readFileSync(path.join(dest, 'd/f'), 'utf8'), 'hello world\n');
  assert.equal(st('d/f').mode & 0o7777, 0o4755, 'setuid kept');
  assert.equal(st('d/g').mode & 0o7777, 0o2711, 'setgid kept');
  assert.equal(st('d/g').uid, 12);
  assert.equal(st('d/g').gid, 34);
  assert.equal(st('d').mode & 0o7777, 0o2775);
  assert.equal(st('d').uid, 1000);
  assert.equal(st('d').gid, 1001);
  assert.equal(st('t').mode & 0o7777, 0o1777, 'sticky kept');
  assert.equal(st('d/big').size, 3 * 1024 * 1024 + 123);
  assert.equal(st('d/big').mode & 0o7777, 0o600);
  assert.equal(st('d/f').mtime.getTime(), T3.getTime(), 'file mtime');
  assert.equal(st('d').mtime.getTime(), T2.getTime(), 'dir mtime set after its content');
  assert.equal(st('empty-dir').mtime.getTime(), T3.getTime());
  // hardlink shares the inode
  assert.equal(st('d/hl').ino, st('d/f').ino);
  assert.equal(st('d/f').nlink, 2);
  // symlinks stored verbatim, with their own owner and mtime
  assert.equal(fs.readlinkSync(path.join(dest, 'd/sl')), '../elsewhere/x');
  assert.equal(fs.readlinkSync(path.join(dest, 'd/abs')), '/etc/passwd');
  assert.ok(st('d/sl').isSymbolicLink());
  assert.equal(st('d/sl').uid, 7);
  assert.equal(st('d/sl').gid, 8);
  assert.equal(st('d/sl').mtime.getTime(), T2.getTime(), 'lutimes on symlink');
  // fifo and devices
  assert.ok(st('d/p').isFIFO());
  assert.equal(st('d/p').mode & 0o7777, 0o640);
  assert.equal(st('d/p').uid, 3);
  const nul = fs.lstatSync(path.join(dest, 'd/null'), { bigint: true });
  assert.ok(nul.isCharacterDevice());
  assert.equal(nul.rdev, (1n << 8n) | 3n);
  assert.equal(Number(nul.mode) & 0o7777, 0o666);
  const loop = fs.lstatSync(path.join(dest, 'd/loop'), { bigint: true });
  assert.ok(loop.isBlockDevice());
  assert.equal(loop.rdev, (7n << 8n) | 200n);
  // PAX ids and names
  assert.equal(st('d/biguid').uid, 3000000);
  assert.equal(st('d/biguid').gid, 4000000);
  assert.equal(fs.readFileSync(path.join(dest, `deep/${'x'.repeat(90)}/${'y'.repeat(90)}/${'z'.repeat(120)}`), 'utf8'), 'long');
  assert.equal(fs.readFileSync(path.join(dest, 'd/ünïcødé-名前'), 'utf8'), 'utf8');
  // xattrs from PAX
  const x = getfattr(path.join(dest, 'd/x'));
  assert.match(x, /user\.comment="hello"/);
  assert.match(x, /trusted\.foo="bar"/);
  // size: sum of content sizes (Docker's ApplyDiff size)
  const contentSize = richEntries().reduce((n, e) => n + ((e.type ?? 'file') === 'file' ? Buffer.byteLength(e.data ?? '') : 0), 0);
  assert.equal(res.size, contentSize);
});

test('applyLayer: gzip, zstd and digests (diff_id of the uncompressed stream)', async () => {
  const tar = await makeTar([{ name: 'a', data: 'A'.repeat(100000) }, { name: 'b/', type: 'directory' }, { name: 'b/c', data: 'c' }]);
  const gz = gzipSync(tar);
  const dest = tmp();
  const res = await applyLayer(stream(gz, 1000), dest);
  assert.equal(res.compression, 'gzip');
  assert.equal(res.diffId, sha256(tar));
  assert.equal(res.digest, sha256(gz));
  assert.equal(res.compressedSize, gz.length);
  assert.equal(res.tarSize, tar.length);
  assert.equal(fs.readFileSync(path.join(dest, 'a'), 'utf8'), 'A'.repeat(100000));
  assert.equal(fs.readFileSync(path.join(dest, 'b/c'), 'utf8'), 'c');

  let zstd: Buffer | null = null;
  try {
    zstd = execFileSync('zstd', ['-c', '-q'], { input: tar });
  } catch {
    zstd = null;
  }
  if (zstd) {
    const d2 = tmp();
    const r2 = await applyLayer(stream(zstd), d2);
    assert.equal(r2.compression, 'zstd');
    assert.equal(r2.diffId, sha256(tar));
    assert.equal(r2.digest, sha256(zstd));
    assert.equal(fs.readFileSync(path.join(d2, 'b/c'), 'utf8'), 'c');
  }

  // Trailing bytes after the end-of-archive marker are part of the diff ID (Docker drains them).
  const padded = Buffer.concat([tar, Buffer.alloc(10240)]);
  const r3 = await applyLayer(stream(padded), tmp());
  assert.equal(r3.diffId, sha256(padded));
});

// ---- whiteouts and opaque directories ---------------------------------------------------------

test('applyLayer: whiteouts and opaque dirs in overlay form over an existing tree', async () => {
  const dest = tmp();
  fs.mkdirSync(path.join(dest, 'a'));
  fs.writeFileSync(path.join(dest, 'a/keep'), 'k');
  fs.writeFileSync(path.join(dest, 'a/gone'), 'g');
  fs.mkdirSync(path.join(dest, 'b/sub'), { recursive: true });
  fs.writeFileSync(path.join(dest, 'b/old1'), '1');
  fs.writeFileSync(path.join(dest, 'b/sub/old2'), '2');
  fs.mkdirSync(path.join(dest, 'c/deep'), { recursive: true });
  fs.writeFileSync(path.join(dest, 'c/deep/f'), 'f');
  const before = fs.readdirSync(dest).sort();

  const tar = await makeTar([
    { name: 'a/.wh.gone', data: '' },
    { name: 'b/', type: 'directory', mtime: T2 },
    { name: 'b/early', data: 'kept: unpacked before the opaque marker' },
    { name: 'b/.wh..wh..opq', data: '' },
    { name: 'b/new', data: 'n' },
    { name: '.wh.c', data: '', uid: 0 },
    { name: 'newdir/.wh.ghost', data: '' },
  ]);
  await applyLayer(stream(tar), dest);

  assert.ok(isWhiteout(path.join(dest, 'a/gone')), 'a/gone is a 0/0 char device');
  assert.equal(fs.readFileSync(path.join(dest, 'a/keep'), 'utf8'), 'k');
  assert.ok(!fs.existsSync(path.join(dest, 'a/.wh.gone')), 'no .wh. file written');
  assert.deepEqual(fs.readdirSync(path.join(dest, 'b')).sort(), ['early', 'new']);
  assert.match(getfattr(path.join(dest, 'b')), /trusted\.overlay\.opaque="y"/);
  assert.equal(fs.lstatSync(path.join(dest, 'b')).mtime.getTime(), T2.getTime());
  assert.ok(isWhiteout(path.join(dest, 'c')), 'directory c replaced by a whiteout');
  assert.ok(isWhiteout(path.join(dest, 'newdir/ghost')));
  assert.deepEqual(fs.readdirSync(dest).sort(), [...before, 'newdir'].sort(), 'no helper files left behind');
  assert.doesNotMatch(getfattr(path.join(dest, 'a')), /opaque/);
});

test('applyLayer: layers applied in fresh dirs stack correctly in a real overlay mount', async () => {
  const base = tmp();
  const top = tmp();
  const merged = tmp();
  await applyLayer(stream(await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', data: 'root' },
    { name: 'etc/gone', data: 'x' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/old', data: 'old' },
    { name: 'dir/', type: 'directory' },
    { name: 'dir/f', data: 'f' },
  ])), base);
  await applyLayer(stream(await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.gone', data: '' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/.wh..wh..opq', data: '' },
    { name: 'opq/new', data: 'new' },
    { name: '.wh.dir', data: '' },
  ])), top);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${top}:${base}`, merged]);
  try {
    assert.deepEqual(fs.readdirSync(merged).sort(), ['etc', 'opq']);
    assert.deepEqual(fs.readdirSync(path.join(merged, 'etc')), ['passwd']);
    assert.deepEqual(fs.readdirSync(path.join(merged, 'opq')), ['new']);
  } finally {
    execFileSync('umount', [merged]);
  }
});

// ---- hostile archives ---------------------------------------------------------------------------

test('hostile: ../ escapes are refused, absolute names are confined', { timeout: 20000 }, async () => {
  const s = makeSentinel();
  const before = s.state();
  const rel = path.relative('/', s.dir);
  const up = '../'.repeat(20);
  for (const name of [`../../${rel}/x`, `${up}${rel}/keep`, `a/../../${rel}/sub/y`, '..']) {
    const dest = tmp();
    await expectInvalid(applyLayer(stream(await makeTar([{ name, data: 'pwned' }])), dest), /is outside of/);
  }
  // Absolute names land inside dest (moby: Join(dest, Clean(name))).
  const dest = tmp();
  await applyLayer(stream(await makeTar([{ name: `/${rel}/keep`, data: 'inside' }, { name: '/abs/path', data: 'p' }])), dest);
  assert.equal(fs.readFileSync(path.join(dest, rel, 'keep'), 'utf8'), 'inside');
  assert.equal(fs.readFileSync(path.join(dest, 'abs/path'), 'utf8'), 'p');
  assert.equal(s.state(), before, 'sentinel untouched');
});

test('hostile: writes through symlinks never leave dest', { timeout: 20000 }, async () => {
  const s = makeSentinel();
  const before = s.state();

  // symlink to an absolute outside dir, then a file through it
  let dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'evil', type: 'symlink', linkname: s.dir },
    { name: 'evil/file', data: 'pwned' },
  ])), dest), /does not exist|not a directory/);

  // same with a directory entry and a nested path
  dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'evil', type: 'symlink', linkname: s.dir },
    { name: 'evil/sub/deeper/', type: 'directory' },
  ])), dest), /does not exist/);

  // relative symlink climbing out is refused at creation (moby's "invalid symlink")
  dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'a/evil', type: 'symlink', linkname: `../../../../../../../..${s.dir}` },
    { name: 'a/evil/keep', data: 'pwned' },
  ])), dest), /invalid symlink/);

  // a symlink already in dest (from an earlier layer or a hostile caller) pointing outside
  dest = tmp();
  fs.symlinkSync(s.dir, path.join(dest, 'pre'));
  fs.symlinkSync(path.join(s.dir, 'keep'), path.join(dest, 'victim'));
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'pre/keep', data: 'pwned' }])), dest), /does not exist/);
  // a file entry over an existing symlink replaces the link; it never writes through it
  await applyLayer(stream(await makeTar([{ name: 'victim', data: 'replaced' }])), dest);
  assert.ok(fs.lstatSync(path.join(dest, 'victim')).isFile());
  assert.equal(fs.readFileSync(path.join(dest, 'victim'), 'utf8'), 'replaced');
  // whiteout through a symlinked parent must not delete outside
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'pre/.wh.keep', data: '' }])), dest), /does not exist/);
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'pre/.wh..wh..opq', data: '' }])), dest), /does not exist/);

  // symlink loop
  dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'l1', type: 'symlink', linkname: 'l2' },
    { name: 'l2', type: 'symlink', linkname: 'l1' },
    { name: 'l1/x', data: 'x' },
  ])), dest), /too many levels of symbolic links/);

  // a symlink whose target exists inside dest is resolved inside dest (chroot semantics)
  dest = tmp();
  await applyLayer(stream(await makeTar([
    { name: 'inside/', type: 'directory' },
    { name: 'lnk', type: 'symlink', linkname: '/inside' },
    { name: 'lnk/f', data: 'through' },
  ])), dest);
  assert.equal(fs.readFileSync(path.join(dest, 'inside/f'), 'utf8'), 'through');
  assert.ok(fs.lstatSync(path.join(dest, 'lnk')).isSymbolicLink());

  assert.equal(s.state(), before, 'sentinel untouched');
});

test('hostile: hardlinks outside dest are refused; links never reach host files', { timeout: 20000 }, async () => {
  const s = makeSentinel();
  const before = s.state();
  const passwdIno = fs.statSync('/etc/passwd').ino;
  let dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: '/etc/passwd' }])), dest), /does not exist/);
  dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: '../../../../../../etc/passwd' }])), dest), /invalid hardlink/);
  dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: path.join(s.dir, 'keep') }])), dest), /does not exist/);
  // a hardlink whose target path goes through a symlink to the outside
  dest = tmp();
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'out', type: 'symlink', linkname: s.dir },
    { name: 'h', type: 'link', linkname: 'out/keep' },
  ])), dest), /does not exist/);
  // a hardlink to a symlink links the symlink itself (link(2) does not follow)
  dest = tmp();
  await applyLayer(stream(await makeTar([
    { name: 's', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'h', type: 'link', linkname: 's' },
  ])), dest);
  assert.ok(fs.lstatSync(path.join(dest, 'h')).isSymbolicLink());
  assert.notEqual(fs.lstatSync(path.join(dest, 'h')).ino, passwdIno);
  assert.equal(s.state(), before);
});

test('hostile: truncated or corrupt streams fail cleanly (no hang)', { timeout: 30000 }, async () => {
  const tar = await makeTar([{ name: 'a', data: 'x'.repeat(5000) }, { name: 'b', data: 'y' }]);
  // cut inside the file data
  await expectInvalid(applyLayer(stream(tar.subarray(0, 2048)), tmp()), /unexpected end of stream/);
  // cut inside a header
  await expectInvalid(applyLayer(stream(tar.subarray(0, 100)), tmp()), /unexpected end of stream in header/);
  // garbage
  await expectInvalid(applyLayer(stream(randomBytes(4096)), tmp()), /checksum|invalid tar/);
  // corrupted header byte
  const bad = Buffer.from(tar);
  bad[10] ^= 0xff;
  await expectInvalid(applyLayer(stream(bad), tmp()), /checksum/);
  // truncated gzip
  const gz = gzipSync(tar);
  await expectInvalid(applyLayer(stream(gz.subarray(0, gz.length - 30)), tmp()), /gzip|unexpected end/);
  // corrupt gzip: valid magic, garbage body
  await expectInvalid(applyLayer(stream(Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]), randomBytes(2000)])), tmp()), /gzip/);
  // a stream that errors midway
  const failing = new Readable({
    read() {
      this.push(tar.subarray(0, 1024));
      this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(applyLayer(failing, tmp()), /connection reset/);
  // a stalled input is interrupted by the abort signal
  const stalled = new Readable({ read() { /* never pushes past the first chunk */ } });
  stalled.push(tar.subarray(0, 1000));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(applyLayer(stalled, tmp(), { signal: ac.signal }), /aborted/);
    // an empty stream is an empty layer (Go's tar reader: io.EOF)
  const r = await applyLayer(stream(Buffer.alloc(0)), tmp());
  assert.equal(r.size, 0);
});

test('hostile: a symlink to an absolute directory, then writes through it, stay inside dest', { timeout: 20000 }, async () => {
  const passwd = fs.readFileSync('/etc/passwd');
  const s = makeSentinel();
  const before = s.state();
  // dest has no etc: the write through "a -> /etc" has nowhere to go inside dest, and is refused
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'a', type: 'symlink', linkname: '/etc' },
    { name: 'a/passwd', data: 'pwned' },
  ])), tmp()), /does not exist/);
  // with an etc inside dest, "a/passwd" is dest's etc/passwd, as in moby's chroot
  const dest = tmp();
  await applyLayer(stream(await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'a', type: 'symlink', linkname: '/etc' },
    { name: 'a/passwd', data: 'layer passwd' },
  ])), dest);
  assert.equal(fs.readFileSync(path.join(dest, 'etc/passwd'), 'utf8'), 'layer passwd');
  assert.ok(fs.lstatSync(path.join(dest, 'a')).isSymbolicLink());
  // a symlink to the sentinel's absolute path: writes through it create nothing outside
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'b', type: 'symlink', linkname: s.dir },
    { name: 'b/keep', data: 'pwned' },
  ])), dest), /does not exist/);
  assert.equal(s.state(), before);
  assert.deepEqual(fs.readFileSync('/etc/passwd'), passwd);
});

test('hostile: hardlinks to directories, to missing targets or through symlinked parents are refused', { timeout: 20000 }, async () => {
  const s = makeSentinel();
  const before = s.state();
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }])), tmp()), /points to a directory/);
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: 'missing/file' }])), tmp()), /does not exist/);
  await expectInvalid(applyLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: '' }])), tmp()), /invalid hardlink/);
  await expectInvalid(applyLayer(stream(await makeTar([
    { name: 'p', type: 'symlink', linkname: path.relative('/', s.dir) },
    { name: 'h', type: 'link', linkname: 'p/keep' },
  ])), tmp()), /does not exist/);
  assert.equal(s.state(), before);
});

test('hostile: a truncated layer leaves nothing behind in the snapshotter', { timeout: 20000 }, async () => {
  const root = tmp();
  const snaps = new Snapshotter(root);
  await snaps.init();
  const tar = await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/f', data: 'x'.repeat(20000) }, { name: 'b', data: 'b' }]);
  for (const cut of [700, 5000, tar.length - 1100]) {
    await expectInvalid(snaps.createLayer(undefined, async (dir) => {
      const r = await applyLayer(stream(tar.subarray(0, cut)), dir);
      return { diffId: r.diffId, size: r.size };
    }), /unexpected end of stream/);
    assert.deepEqual(fs.readdirSync(path.join(root, 'snapshots')), ['empty'], `cut at ${cut}`);
    assert.deepEqual(snaps.list(), []);
  }
  // and the complete one goes in
  const ok = await snaps.createLayer(undefined, async (dir) => {
    const r = await applyLayer(stream(tar), dir);
    return { diffId: r.diffId, size: r.size };
  });
  assert.equal(fs.readFileSync(path.join(snaps.fsDir(ok.key), 'a/f'), 'utf8'), 'x'.repeat(20000));
});

test('the same layer unpacked twice at once (a pull racing an import) is committed once', async () => {
  const root = tmp();
  const snaps = new Snapshotter(root);
  await snaps.init();
  const tar = await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/f', data: 'same' }]);
  const unpack = (): ReturnType<Snapshotter['createLayer']> =>
    snaps.createLayer(undefined, async (dir) => {
      const r = await applyLayer(stream(tar), dir);
      return { diffId: r.diffId, size: r.size };
    });
  const results = await Promise.all([unpack(), unpack(), unpack()]);
  assert.equal(new Set(results.map((r) => r.key)).size, 1);
  assert.deepEqual(fs.readdirSync(path.join(root, 'snapshots')).sort(), ['empty', results[0]!.key].sort());
  assert.equal(snaps.list().length, 1);
});

// ---- extractArchive (docker cp) ------------------------------------------------------------------

async function extractInto(dir: string, tar: Buffer, opts: Parameters<typeof extractArchive>[3] = {}, sub = ''): Promise<void> {
  const root = Root.open(dir);
  try {
    const dest = root.resolveDir(sub.split('/'), root.root);
    await extractArchive(stream(tar), root, dest, opts);
  } finally {
    root.close();
  }
}

test('extractArchive: .wh. entries are plain files, the destination keeps its own metadata, owners can be overridden', async () => {
  const dest = tmp();
  fs.mkdirSync(path.join(dest, 'keep'));
  fs.writeFileSync(path.join(dest, 'gone'), 'still here');
  fs.chmodSync(dest, 0o711);
  await extractInto(dest, await makeTar([
    { name: './', type: 'directory', mode: 0o777, mtime: T1 },
    { name: '.wh.gone', data: '' },
    { name: 'keep/.wh..wh..opq', data: '' },
    { name: 'f', data: 'f', uid: 5, gid: 6, mode: 0o4750, mtime: T3, pax: { 'SCHILY.xattr.user.k': 'v' } },
  ]));
  assert.equal(fs.statSync(dest).mode & 0o7777, 0o711, 'the root entry does not change the destination');
  assert.equal(fs.readFileSync(path.join(dest, 'gone'), 'utf8'), 'still here');
  assert.ok(fs.lstatSync(path.join(dest, '.wh.gone')).isFile());
  assert.ok(fs.lstatSync(path.join(dest, 'keep/.wh..wh..opq')).isFile());
  assert.doesNotMatch(getfattr(path.join(dest, 'keep')), /opaque/);
  const f = fs.lstatSync(path.join(dest, 'f'));
  assert.deepEqual([f.uid, f.gid, f.mode & 0o7777, f.mtime.getTime()], [5, 6, 0o4750, T3.getTime()]);
  assert.match(getfattr(path.join(dest, 'f')), /user\.k="v"/);
  await extractInto(dest, await makeTar([{ name: 'g', data: 'g', uid: 5, gid: 6 }, { name: 'l', type: 'symlink', linkname: 'g', uid: 5 }]), { chown: { uid: 77, gid: 88 } });
  assert.deepEqual([fs.lstatSync(path.join(dest, 'g')).uid, fs.lstatSync(path.join(dest, 'g')).gid], [77, 88]);
  assert.equal(fs.lstatSync(path.join(dest, 'l')).uid, 77);
  await extractInto(dest, await makeTar([{ name: 'n', data: 'n', uid: 5, gid: 6 }]), { noChown: true });
  assert.equal(fs.lstatSync(path.join(dest, 'n')).uid, process.getuid!());
});

test('extractArchive: noOverwriteDirNonDir, names relative to the extraction directory, a file cut short is removed', async () => {
  const dest = tmp();
  fs.mkdirSync(path.join(dest, 'in/dir'), { recursive: true });
  fs.writeFileSync(path.join(dest, 'in/file'), 'f');
  const conflict = async (tar: Buffer, re: RegExp) => {
    await assert.rejects(extractInto(dest, tar, { noOverwriteDirNonDir: true }, 'in'), (e: unknown) => {
      assert.ok(e instanceof ConflictError, String(e));
      assert.match((e as Error).message, re);
      return true;
    });
  };
  await conflict(await makeTar([{ name: 'dir', data: 'x' }]), /^cannot overwrite directory "\/in\/dir" with non-directory "\/in"$/);
  await conflict(await makeTar([{ name: 'file/', type: 'directory' }]), /^cannot overwrite non-directory "\/in\/file" with directory "\/in"$/);
  // "../" out of the extraction directory is refused even though the root is above it
  await expectInvalid(extractInto(dest, await makeTar([{ name: '../escape', data: 'x' }]), {}, 'in'), /"..\/escape" is outside of "\/in"/);
  assert.ok(!fs.existsSync(path.join(dest, 'escape')));
  // a relative symlink may not point out of the extraction directory, an absolute one may
  await expectInvalid(extractInto(dest, await makeTar([{ name: 'up', type: 'symlink', linkname: '../x' }]), {}, 'in'), /invalid symlink/);
  await extractInto(dest, await makeTar([{ name: 'abs', type: 'symlink', linkname: '/file-at-root' }, { name: 'abs2', type: 'symlink', linkname: '/' }, { name: 'abs2/via', data: 'root' }]), {}, 'in');
  assert.equal(fs.readFileSync(path.join(dest, 'via'), 'utf8'), 'root', 'absolute symlinks resolve at the root, as in a chroot');
  // a file cut short does not stay
  const tar = await makeTar([{ name: 'ok', data: 'ok' }, { name: 'cut', data: 'y'.repeat(10000) }]);
  await expectInvalid(extractInto(dest, tar.subarray(0, 3000), {}, 'in'), /unexpected end of stream in data of "cut"/);
  assert.equal(fs.readFileSync(path.join(dest, 'in/ok'), 'utf8'), 'ok');
  assert.ok(!fs.existsSync(path.join(dest, 'in/cut')));
});

test('extractArchive: an archive that removes its own extraction directory fails cleanly', async () => {
  const s = makeSentinel();
  const before = s.state();
  const dest = tmp();
  fs.mkdirSync(path.join(dest, 'in'));
  // "a" -> "/" then "a/in" replaces the directory being extracted into; what follows has nowhere to go.
  await expectInvalid(extractInto(dest, await makeTar([
    { name: 'a', type: 'symlink', linkname: '/' },
    { name: 'a/in', data: 'file now' },
    { name: 'after', data: 'x' },
    { name: 'sub/after', data: 'x' },
  ]), {}, 'in'), /cannot extract "after": no such file or directory/);
  assert.equal(fs.readFileSync(path.join(dest, 'in'), 'utf8'), 'file now');
  assert.deepEqual(fs.readdirSync(dest).sort(), ['in']);
  assert.equal(s.state(), before);
});

// ---- Root: the confinement, under a concurrent writer ------------------------------------------

test('Root: held directories stay put when the tree swaps them for symlinks (the docker cp race)', async () => {
  const s = makeSentinel();
  const before = s.state();
  const tree = tmp();
  fs.mkdirSync(path.join(tree, 'sub'));
  const root = Root.open(tree);
  try {
    const sub = root.resolveDir(['sub'], root.root);
    // What a process in a running container can do between our lookup and our write:
    fs.renameSync(path.join(tree, 'sub'), path.join(tree, 'moved'));
    fs.symlinkSync(s.dir, path.join(tree, 'sub'));
    fs.closeSync(root.createFile(sub, 'created', 0o644));
    root.mkdir(sub, 'newdir', 0o755);
    root.symlink(sub, 'ln', '/x');
    root.setMeta(sub, 'created', { uid: 1, gid: 2, mode: 0o600, mtime: 1000 });
    root.remove(sub, 'newdir');
    assert.deepEqual(fs.readdirSync(path.join(tree, 'moved')).sort(), ['created', 'ln']);
    assert.equal(fs.lstatSync(path.join(tree, 'moved/created')).uid, 1);
    // resolution meets the new symlink and confines it: the sentinel path does not exist in the tree
    root.forget('sub');
    assert.throws(() => root.resolveDir(['sub', 'sub'], root.root), /does not exist/);
  } finally {
    root.close();
  }
  // extraction paused mid-archive while the directory is swapped
  const tree2 = tmp();
  const tar = await makeTar([{ name: 'd/', type: 'directory' }, { name: 'd/one', data: '1' }, { name: 'd/two', data: '2' }]);
  const split = tar.indexOf(Buffer.from('d/two'));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  async function* chunks(): AsyncGenerator<Buffer> {
    yield tar.subarray(0, split);
    await gate;
    yield tar.subarray(split);
  }
  const root2 = Root.open(tree2);
  try {
    const p = extractArchive(Readable.from(chunks()), root2, root2.root);
    await waitUntil(() => fs.existsSync(path.join(tree2, 'd/one')));
    fs.renameSync(path.join(tree2, 'd'), path.join(tree2, 'd-moved'));
    fs.symlinkSync(s.dir, path.join(tree2, 'd'));
    release();
    await p;
  } finally {
    root2.close();
  }
  assert.deepEqual(fs.readdirSync(path.join(tree2, 'd-moved')).sort(), ['one', 'two']);
  assert.equal(s.state(), before, 'sentinel untouched');
});

async function waitUntil(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---- packResource, rebaseArchive, copy helpers ------------------------------------------------

async function tarNames(r: Readable): Promise<string[]> {
  return execFileSync('tar', ['-tf', '-'], { input: await collect(r), encoding: 'utf8' }).trim().split('\n');
}

test('packResource: names as moby rebases them; mounts where the container sees them; nothing outside the root', async () => {
  const s = makeSentinel();
  const tree = tmp();
  fs.mkdirSync(path.join(tree, 'etc/sub'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'etc/passwd'), 'p');
  fs.symlinkSync('/', path.join(tree, 'etc/rootlink'));
  fs.symlinkSync(s.dir, path.join(tree, 'etc/out'));
  fs.linkSync(path.join(tree, 'etc/passwd'), path.join(tree, 'etc/sub/hard'));
  const bindSrc = tmp();
  fs.writeFileSync(path.join(bindSrc, 'bound'), 'b');
  const root = Root.open(tree, { mounts: [{ destination: '/etc/sub/mnt', source: bindSrc, readOnly: true }] });
  try {
    const etc = root.resolveDir(['etc'], root.root);
    assert.deepEqual(await tarNames(packResource(root, root.root, 'etc', 'etc')), [
      'etc/', 'etc/out', 'etc/passwd', 'etc/rootlink', 'etc/sub/', 'etc/sub/hard', 'etc/sub/mnt/', 'etc/sub/mnt/bound',
    ]);
    assert.deepEqual(await tarNames(packResource(root, etc, '', '.')), ['./', './out', './passwd', './rootlink', './sub/', './sub/hard', './sub/mnt/', './sub/mnt/bound']);
    assert.deepEqual(await tarNames(packResource(root, etc, 'passwd', 'renamed')), ['renamed']);
    assert.deepEqual(await tarNames(packResource(root, etc, 'out', 'out')), ['out'], 'a symlink is archived, not followed');
    const all = await tarNames(packResource(root, root.root, '', '/'));
    assert.equal(all[0], '/');
    assert.ok(all.every((n) => !n.includes('keep')), 'the sentinel behind etc/out is never read');
    // a hard link's second name is a link entry
    const listing = execFileSync('tar', ['-tvf', '-'], { input: await collect(packResource(root, root.root, 'etc', 'etc')), encoding: 'utf8' });
    assert.match(listing, /etc\/sub\/hard link to etc\/passwd/);
    // resolution through the mount and through "/" stays in the view
    const viaRoot = root.resolve('/etc/rootlink/etc/sub/mnt/bound', root.root, true);
    assert.equal(viaRoot.dir.path, 'etc/sub/mnt');
    assert.equal(root.evalSymlinks('/etc/out/keep'), `${s.dir}/keep`);
    assert.equal(root.readFile(`${s.dir}/keep`, 100), undefined, 'host paths do not exist inside the root');
  } finally {
    root.close();
  }
});

test('Root mounts: made where missing, at the target of a symlinked destination, read-only where marked', () => {
  const tree = tmp();
  fs.mkdirSync(path.join(tree, 'etc'));
  fs.symlinkSync('../run/resolv', path.join(tree, 'etc/resolv.conf'));
  const src = tmp();
  fs.writeFileSync(path.join(src, 'resolv'), 'nameserver 1');
  const bind = tmp();
  const root = Root.open(tree, {
    readOnly: true,
    createMountPoints: true,
    mounts: [
      { destination: '/etc/resolv.conf', source: path.join(src, 'resolv'), readOnly: false },
      { destination: '/mnt/deep/bind', source: bind, readOnly: true },
    ],
  });
  try {
    // the runtime mounts over the symlink's target, creating it; the symlink itself stays
    assert.ok(fs.lstatSync(path.join(tree, 'run/resolv')).isFile());
    assert.ok(fs.lstatSync(path.join(tree, 'etc/resolv.conf')).isSymbolicLink());
    assert.equal(root.readFile('/etc/resolv.conf', 100)?.toString(), 'nameserver 1');
    assert.ok(fs.lstatSync(path.join(tree, 'mnt/deep/bind')).isDirectory(), 'missing mount point made, read-only root or not');
    const d = root.resolveDir(['mnt', 'deep', 'bind'], root.root);
    assert.deepEqual([d.readOnly, d.inMount], [true, true]);
    assert.throws(() => root.createFile(d, 'x', 0o644), /read-only/);
    assert.throws(() => root.createFile(root.root, 'y', 0o644), /read-only/);
    assert.deepEqual(fs.readdirSync(bind), []);
  } finally {
    root.close();
  }
});

test('rebaseArchive renames entries and hard link targets, keeping data and metadata', async () => {
  const tar = await makeTar([
    { name: 'src/', type: 'directory', mode: 0o750, uid: 3 },
    { name: 'src/f', data: 'data', mode: 0o4711, mtime: T3, pax: { 'SCHILY.xattr.user.a': 'b' } },
    // a link entry's metadata applies to the shared inode: tar writers repeat the file's
    { name: 'src/h', type: 'link', linkname: 'src/f', mode: 0o4711, mtime: T3 },
  ]);
  const out = await collect(rebaseArchive(stream(tar), 'src', 'dst'));
  const dest = tmp();
  await extractInto(dest, out);
  assert.equal(fs.readFileSync(path.join(dest, 'dst/f'), 'utf8'), 'data');
  assert.equal(fs.lstatSync(path.join(dest, 'dst/h')).ino, fs.lstatSync(path.join(dest, 'dst/f')).ino);
  assert.equal(fs.lstatSync(path.join(dest, 'dst')).mode & 0o7777, 0o750);
  assert.equal(fs.lstatSync(path.join(dest, 'dst/f')).mtime.getTime(), T3.getTime());
  assert.match(getfattr(path.join(dest, 'dst/f')), /user\.a="b"/);
  // "/" as the old base prefixes every name
  assert.deepEqual(execFileSync('tar', ['-tf', '-'], { input: await collect(rebaseArchive(stream(await makeTar([{ name: '/bin', data: '' }])), '/', 'x')), encoding: 'utf8' }).trim(), 'x/bin');
});

test('copy helpers: moby\'s path rules for cp', () => {
  assert.deepEqual(splitPathDirEntry('/a/b/'), { dir: '/a', base: 'b' });
  assert.deepEqual(splitPathDirEntry('/a/b/.'), { dir: '/a/b', base: '.' });
  assert.deepEqual(splitPathDirEntry('/'), { dir: '/', base: '/' });
  assert.equal(preserveTrailingDotOrSeparator('/x/y', 'y/.'), '/x/y/.');
  assert.equal(preserveTrailingDotOrSeparator('/x/y', 'y/'), '/x/y/');
  assert.equal(preserveTrailingDotOrSeparator('/', './'), '/./');
  assert.deepEqual(getRebaseName('/l/', '/target'), { resolved: '/target/', rebaseName: 'l' });
  assert.deepEqual(getRebaseName('/l/.', '/target'), { resolved: '/target/.', rebaseName: '' });
  assert.deepEqual(getRebaseName('/same', '/x/same'), { resolved: '/x/same', rebaseName: '' });
});

// ---- packDirectory -----------------------------------------------------------------------------

test('packDirectory: round trip keeps the tree and its metadata; output is deterministic', async () => {
  const src = tmp();
  await applyLayer(stream(await makeTar(richEntries())), src);
  // a binary xattr (not expressible through tar-stream) and a root-level file
  execFileSync('setfattr', ['-h', '-n', 'user.bin', '-v', '0x00ff800a', path.join(src, 'd/f')]);
  fs.writeFileSync(path.join(src, 'top'), 'top');
  fs.utimesSync(path.join(src, 'top'), T1, T1);
  fs.utimesSync(path.join(src, 'd'), T2, T2);

  const packed = await collect(packDirectory(src));
  const again = await collect(packDirectory(src));
  assert.ok(packed.equals(again), 'deterministic');

  const dst = tmp();
  await applyLayer(stream(packed), dst);
  const a = snapshot(src, { xattrs: await dumpXattrs(src) });
  const b = snapshot(dst, { xattrs: await dumpXattrs(dst) });
  a.delete('.');
  b.delete('.');
  assert.deepEqual([...b.entries()], [...a.entries()]);
  assert.match(a.get('d/f')!, /user\.bin:00ff800a/);
  assert.match(a.get('d/hl')!, /linkgroup=d\/f/);

  // Entry order and names as GNU tar sees them: sorted depth-first, dirs with '/', hardlink as link.
  const listing = execFileSync('tar', ['-tf', '-'], { input: packed, encoding: 'utf8' }).trim().split('\n');
  assert.equal(listing[0], 'd/');
  assert.ok(listing.includes(`deep/${'x'.repeat(90)}/${'y'.repeat(90)}/${'z'.repeat(120)}`));
  const dIdx = listing.indexOf('d/');
  const fIdx = listing.indexOf('d/f');
  const hlIdx = listing.indexOf('d/hl');
  assert.ok(dIdx < fIdx && fIdx < hlIdx);
  const verbose = execFileSync('tar', ['--numeric-owner', '-tvf', '-'], { input: packed, encoding: 'utf8' });
  assert.match(verbose, /d\/hl link to d\/f/);
  assert.match(verbose, /3000000\/4000000/);
  assert.match(verbose, /-rwsr-xr-x 0\/0 .* d\/f/);
});

test('packDirectory: export skips whiteouts; overlayUpper turns them into .wh. entries', async () => {
  const lower = tmp();
  const upper = tmp();
  const work = tmp();
  const merged = tmp();
  fs.mkdirSync(path.join(lower, 'dir'));
  fs.writeFileSync(path.join(lower, 'dir/y'), 'y');
  fs.writeFileSync(path.join(lower, 'dir/z'), 'z');
  fs.mkdirSync(path.join(lower, 'dir2'));
  fs.writeFileSync(path.join(lower, 'dir2/old'), 'old');
  fs.writeFileSync(path.join(lower, 'keep'), 'keep');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    fs.rmSync(path.join(merged, 'dir/y'));
    fs.rmSync(path.join(merged, 'dir2'), { recursive: true });
    fs.mkdirSync(path.join(merged, 'dir2'));
    fs.writeFileSync(path.join(merged, 'dir2/g'), 'g');
    fs.writeFileSync(path.join(merged, 'new'), 'new');
  } finally {
    execFileSync('umount', [merged]);
  }
  assert.ok(isWhiteout(path.join(upper, 'dir/y')));
  assert.match(getfattr(path.join(upper, 'dir2')), /trusted\.overlay\.opaque="y"/);

  const exportNames = execFileSync('tar', ['-tf', '-'], { input: await collect(packDirectory(upper)), encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(exportNames, ['dir/', 'dir2/', 'dir2/g', 'new']);

  const layer = await collect(packDirectory(upper, { overlayUpper: true }));
  const names = execFileSync('tar', ['-tf', '-'], { input: layer, encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(names, ['dir/', 'dir/.wh.y', 'dir2/', 'dir2/.wh..wh..opq', 'dir2/g', 'new']);
  const verbose = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvvf', '-'], { input: layer, encoding: 'utf8' });
  assert.doesNotMatch(verbose, /trusted\.overlay/);

  // The layer applied in a fresh dir over the same lower gives the same merged view.
  const applied = tmp();
  await applyLayer(stream(layer), applied);
  const merged2 = tmp();
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${applied}:${lower}`, merged2]);
  try {
    assert.deepEqual(fs.readdirSync(merged2).sort(), ['dir', 'dir2', 'keep', 'new']);
    assert.deepEqual(fs.readdirSync(path.join(merged2, 'dir')), ['z']);
    assert.deepEqual(fs.readdirSync(path.join(merged2, 'dir2')), ['g']);
  } finally {
    execFileSync('umount', [merged2]);
  }
});

// ---- changes -------------------------------------------------------------------------------------

test('changes: docker diff of a real overlay mount', async () => {
  const lower = tmp();
  const upper = tmp();
  const work = tmp();
  const merged = tmp();
  const mk = (p: string, data?: string) => {
    const abs = path.join(lower, p);
    if (data === undefined) fs.mkdirSync(abs, { recursive: true });
    else fs.writeFileSync(abs, data);
  };
  mk('a/b');
  mk('a/b/file', 'f');
  mk('etc');
  mk('etc/x', 'x');
  mk('dir');
  mk('dir/y', 'y');
  mk('dir/z', 'z');
  mk('dir2');
  mk('dir2/old', 'old');
  mk('keep', 'k');
  // Fixed times so "unchanged directory" comparisons are meaningful.
  for (const p of ['a', 'a/b', 'etc', 'dir', 'dir2']) fs.utimesSync(path.join(lower, p), T1, T1);

  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    fs.writeFileSync(path.join(merged, 'etc/x'), 'changed'); // C /etc/x (etc itself unchanged)
    fs.writeFileSync(path.join(merged, 'new'), 'n'); // A /new
    fs.rmSync(path.join(merged, 'dir/y')); // D /dir/y, C /dir
    fs.mkdirSync(path.join(merged, 'a/b/c')); // A /a/b/c, C /a/b, C /a (ancestor)
    fs.writeFileSync(path.join(merged, 'a/b/c/new'), 'n'); // A
    fs.rmSync(path.join(merged, 'dir2'), { recursive: true });
    fs.mkdirSync(path.join(merged, 'dir2')); // opaque dir that existed below: D /dir2
    fs.writeFileSync(path.join(merged, 'dir2/g'), 'g'); // A /dir2/g
    fs.chmodSync(path.join(merged, 'keep'), 0o600); // C /keep (metadata copy-up)
  } finally {
    execFileSync('umount', [merged]);
  }
  const got = await changes(upper, [lower]);
  // Docker's answer (moby's ChangesDirs of the container's root against the image's).
  assert.deepEqual(got, [
    { Path: '/a', Kind: ChangeKind.Modify },
    { Path: '/a/b', Kind: ChangeKind.Modify },
    { Path: '/a/b/c', Kind: ChangeKind.Add },
    { Path: '/a/b/c/new', Kind: ChangeKind.Add },
    { Path: '/dir', Kind: ChangeKind.Modify },
    { Path: '/dir/y', Kind: ChangeKind.Delete },
    // Deleted and re-created (opaque): modified, with what it lost listed one by one.
    { Path: '/dir2', Kind: ChangeKind.Modify },
    { Path: '/dir2/g', Kind: ChangeKind.Add },
    { Path: '/dir2/old', Kind: ChangeKind.Delete },
    { Path: '/etc', Kind: ChangeKind.Modify },
    { Path: '/etc/x', Kind: ChangeKind.Modify },
    { Path: '/keep', Kind: ChangeKind.Modify },
    { Path: '/new', Kind: ChangeKind.Add },
  ]);
  // Hidden paths (the runtime's mount points) are left out with what is below them.
  const hidden = await changes(upper, [lower], { hide: new Set(['/a/b/c', '/new']) });
  assert.deepEqual(
    hidden.map((c) => c.Path),
    ['/dir', '/dir/y', '/dir2', '/dir2/g', '/dir2/old', '/etc', '/etc/x', '/keep'],
  );
  // With no lowers every upper entry is an addition; a whiteout over nothing is no change.
  const bare = await changes(upper, []);
  assert.ok(bare.some((c) => c.Path === '/etc/x' && c.Kind === ChangeKind.Add));
  assert.ok(!bare.some((c) => c.Kind !== ChangeKind.Add));
});

// ---- ParallelGzip (push) -------------------------------------------------------------------------

async function parallelGzip(input: Buffer, opts: ConstructorParameters<typeof ParallelGzip>[0] = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  // uneven input chunks, as a file stream gives them
  const chunks = [];
  for (let o = 0; o < input.length; o += 70_000) chunks.push(input.subarray(o, o + 70_000));
  for await (const c of Readable.from(chunks).pipe(new ParallelGzip(opts))) out.push(c as Buffer);
  return Buffer.concat(out);
}

test('ParallelGzip: gzip members that Node and GNU gzip read back as one stream; random blocks are told apart', async () => {
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(20_000));
  const input = Buffer.concat([randomBytes(300_000), text, Buffer.alloc(200_000), randomBytes(5)]);
  const gz = await parallelGzip(input, { blockSize: 64 * 1024 });
  assert.ok(gz.length < input.length - text.length / 2, 'the text and zeros were compressed');
  assert.ok(gunzipSync(gz).equals(input));
  const members = gz.reduce((n, _b, i) => n + (gz[i] === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8 && gz[i + 3] === 0 ? 1 : 0), 0);
  assert.ok(members >= Math.floor(input.length / (64 * 1024)), `gzip members: ${members}`);
  assert.ok(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(input));
  assert.ok((await parallelGzip(input, { blockSize: 64 * 1024 })).equals(gz), 'deterministic');
  assert.ok(gunzipSync(await parallelGzip(Buffer.alloc(0))).equals(Buffer.alloc(0)));
  const pieces = splitByEntropy(Buffer.concat([randomBytes(96 * 1024), text.subarray(0, 64 * 1024), randomBytes(40 * 1024)]));
  assert.deepEqual(pieces.map((p) => [p.bytes.length, p.random]), [[96 * 1024, true], [64 * 1024, false], [40 * 1024, true]]);
  assert.deepEqual(splitByEntropy(Buffer.from(randomBytes(96 * 1024).toString('base64'))).map((p) => p.random), [false], 'base64 still deflates');
});
